/**
 * Reading sockpass refusals on the client: the `AuthError` code of a
 * `connect_error`, of an `unauthorized` payload, or of a helper's rejection.
 * The server sends `{ type: 'UnauthorizedError', code, message }` as
 * `err.data`; these functions read that shape and nothing else, so a network
 * error never passes for a refusal.
 *
 * @module
 */
import { actionFor, type AuthErrorCode, type ClientAction } from '../errors.js';

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
  /** What to do next: the server's `action` when it sent one, else the shared table's for `code`. */
  readonly action: ClientAction;

  constructor(code: ClientAuthErrorCode, message: string, action?: ClientAction) {
    super(message);
    this.code = code;
    this.action = isClientAction(action) ? action : actionFor(code);
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
  /** What the client should do next: `refresh`, `backoff`, `login` or `stop`. */
  action?: ClientAction;
  /** With `rate_limited`: ms before the server accepts a new attempt. */
  retryAfter?: number;
}

const ACTIONS: ReadonlySet<string> = new Set<ClientAction>(['refresh', 'backoff', 'login', 'stop']);

function isClientAction(value: unknown): value is ClientAction {
  return typeof value === 'string' && ACTIONS.has(value);
}

/**
 * What the server says to do after a refusal or a cut: the `action` field of
 * a `connect_error`'s `err.data`, of an `unauthorized` payload, of a notice
 * (`auth:expired`, `auth:revoked`, `auth:refused`, `auth:forbidden`,
 * `auth:left`) or of a `ClientAuthError`. A server that sent none (an older
 * sockpass) is read by the same code table the server uses. Undefined when
 * `value` is not a refusal at all (network trouble).
 *
 * @example
 * ```ts
 * socket.on('connect_error', (err) => {
 *   switch (nextStep(err)) {
 *     case 'refresh': case 'backoff': return retryWithFreshToken();
 *     case 'login': return showLogin();
 *     case 'stop': return showError(err.message);
 *     case undefined: return; // network trouble: socket.io-client retries by itself
 *   }
 * });
 * ```
 */
export function nextStep(value: unknown): ClientAction | undefined {
  if (value instanceof ClientAuthError) return value.action;
  const data = isUnauthorizedError(value) ? value.data : value;
  if (typeof data !== 'object' || data === null || typeof (data as { code?: unknown }).code !== 'string') return undefined;
  const { code, action } = data as { code: string; action?: unknown };
  return isClientAction(action) ? action : actionFor(code);
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
