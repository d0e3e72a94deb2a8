/**
 * Reading sockpass refusals on the client: the `AuthError` code of a
 * `connect_error`, of an `unauthorized` payload, or of a helper's rejection.
 * The server sends `{ type: 'UnauthorizedError', code, message }` as
 * `err.data`; these functions read that shape and nothing else, so a network
 * error never passes for a refusal.
 *
 * @module
 */
import type { AuthErrorCode } from '../errors.js';

/** A code the server sent, or one of the client-side outcomes of the helpers. */
export type ClientAuthErrorCode = AuthErrorCode | 'disconnected' | (string & {});

/**
 * What the client helpers reject with. `code` is the server's AuthError code
 * (`invalid_token`, `token_expired`, …), `authentication_timeout` when no
 * answer came in time, or `disconnected` when the socket closed first.
 */
export class ClientAuthError extends Error {
  /** Always `ClientAuthError`. */
  override readonly name = 'ClientAuthError';
  /** The server's code, or `authentication_timeout` / `disconnected` from the helper. */
  readonly code: ClientAuthErrorCode;

  constructor(code: ClientAuthErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The `data` a sockpass (or socketio-jwt) refusal carries. */
export interface UnauthorizedData {
  /** Always `UnauthorizedError`. */
  type: 'UnauthorizedError';
  /** The server's AuthError code. */
  code: ClientAuthErrorCode;
  /** Human-readable reason; never contains the credential. */
  message: string;
  /** Name of the strategy that refused, when one did. */
  strategy?: string;
  /** With `rate_limited`: ms before the server accepts a new attempt. */
  retryAfter?: number;
}

/**
 * True for a `connect_error` or an `unauthorized` payload that is an
 * authentication refusal (`err.data.type === 'UnauthorizedError'`), as opposed
 * to a network failure. Same test as @thream/socketio-jwt's `isUnauthorizedError`.
 *
 * @example
 * ```ts
 * socket.on('connect_error', (err) => {
 *   if (isUnauthorizedError(err)) redirectToLogin(err.data.code);
 * });
 * ```
 */
export function isUnauthorizedError(value: unknown): value is { message: string; data: UnauthorizedData } {
  if (typeof value !== 'object' || value === null) return false;
  const data = (value as { data?: unknown }).data;
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { type?: unknown }).type === 'UnauthorizedError' &&
    typeof (data as { code?: unknown }).code === 'string'
  );
}

/**
 * The AuthError code of a refusal, or `undefined` when `value` is not one
 * (a transport error, a timeout of the connection itself).
 *
 * @example
 * ```ts
 * socket.on('connect_error', (err) => {
 *   switch (authErrorCode(err)) {
 *     case 'token_expired': return refreshAndReconnect();
 *     case undefined: return; // network trouble: socket.io-client retries by itself
 *     default: return showLogin();
 *   }
 * });
 * ```
 */
export function authErrorCode(value: unknown): ClientAuthErrorCode | undefined {
  if (value instanceof ClientAuthError) return value.code;
  return isUnauthorizedError(value) ? value.data.code : undefined;
}
