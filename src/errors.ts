/**
 * AuthError: the one error type sockpass raises, with a stable `code`.
 *
 * Codes form a string-literal union so `switch (err.code)` is checked by the
 * compiler (as jose does). Messages are written by sockpass, never copied from
 * the credential, so an AuthError is always safe to log or send to a client.
 *
 * @module
 */

/**
 * Every code an {@link AuthError} can carry, written once: the
 * {@link AuthErrorCode} union is derived from it.
 *
 * - `credentials_required`: no credential where the strategy looks (and nothing else admitted the socket).
 * - `credentials_bad_format`: a credential of the wrong type, repeated, or not of the expected form.
 * - `invalid_token`: malformed, unsigned (`alg: none`), wrongly signed or wrongly keyed token.
 * - `token_expired`; `token_not_active`: `nbf` is still in the future; `invalid_audience`; `invalid_issuer`.
 * - `token_too_large`: longer than `maxTokenBytes`; refused before any parsing.
 * - `token_revoked`: the app's `isRevoked` hook said so, or the credential is in the revocation ledger (`auth.revoke()`), at any admission.
 * - `user_mismatch`: strategies disagree on the user (mode `all`), or a refresh names another user.
 * - `key_unavailable`: the async key resolver failed or returned no usable key.
 * - `session_not_found`; `session_expired`: the store returned a session whose cookie expiry has passed.
 * - `store_unavailable`: the session store errored or did not answer within its bound; or `revoke()` could not record in the revocation ledger; or the connection counter (`connections.store`) could not be reached in time.
 * - `origin_not_allowed`: a cookie-authenticated handshake from an Origin that is not allowed (CSWSH).
 * - `authentication_timeout`; `forbidden`.
 * - `rate_limited`: too many refused or pending handshakes from this address or subject; `data.retryAfter` says how many ms to wait.
 * - `too_many_connections`: the user already holds `connections.perUser` sockets (across every node sharing the counter).
 * - `connection_replaced`: a newer socket of the same user took this one's place (`connections.onExceed: 'replace-oldest'`); sent with `auth:replaced`.
 * - `server_error`: an unexpected error inside a strategy (or a `failure` listener that threw); details stay on the server.
 */
export const AUTH_ERROR_CODES = [
  'credentials_required',
  'credentials_bad_format',
  'invalid_token',
  'token_expired',
  'token_not_active',
  'invalid_audience',
  'invalid_issuer',
  'token_too_large',
  'token_revoked',
  'user_mismatch',
  'key_unavailable',
  'session_not_found',
  'session_expired',
  'store_unavailable',
  'origin_not_allowed',
  'authentication_timeout',
  'forbidden',
  'rate_limited',
  'too_many_connections',
  'connection_replaced',
  'server_error',
] as const;

/** Every code an {@link AuthError} can carry (see {@link AUTH_ERROR_CODES}): a union, so `switch (err.code)` is checked by the compiler. */
export type AuthErrorCode = (typeof AUTH_ERROR_CODES)[number];

/** What a client receives as `connect_error`'s `err.data` (and in `unauthorized`). */
export interface AuthErrorData {
  /** Always `UnauthorizedError`, the shape socketio-jwt clients already test for. */
  type: 'UnauthorizedError';
  /** Stable, machine-readable reason. */
  code: AuthErrorCode;
  /** Human-readable reason, written by sockpass; never contains the credential. */
  message: string;
  /** Name of the strategy that refused, as registered with `use()`. */
  strategy?: string;
  /** With `rate_limited` (and `key_unavailable` from `jwks()`): ms before a new attempt can succeed. */
  retryAfter?: number;
}

/** Optional details of an {@link AuthError}. */
export interface AuthErrorOptions {
  /** Name of the strategy that refused, as registered with `use()`. */
  strategy?: string;
  /** The underlying error; kept on the server, never sent to a client. */
  cause?: unknown;
  /** With `rate_limited` (and `key_unavailable` from `jwks()`): ms before a new attempt can succeed; sent to the client in `err.data`. */
  retryAfter?: number;
  /**
   * The subject (a JWT's `sub`) of a credential that was verified and still
   * refused (expired, not yet active, wrong audience or issuer, revoked):
   * the handshake subject limit charges only this. Never set from an
   * unverified decode. Kept on the server, never sent to a client.
   */
  subject?: string;
}

/**
 * The one error type sockpass raises: a stable `code`, and a message written
 * by sockpass that is safe to log or send to a client.
 *
 * @example
 * ```ts
 * throw new AuthError('forbidden', 'admins only', { strategy: 'jwt-auth' });
 * ```
 */
export class AuthError extends Error {
  /** Always `AuthError` (how {@link isAuthError} recognizes one from another copy of sockpass). */
  override readonly name = 'AuthError';
  /** Stable, machine-readable reason. */
  readonly code: AuthErrorCode;
  /** Name of the strategy that refused; the pipeline fills it in when the strategy did not. */
  strategy: string | undefined;
  /** With `rate_limited` (and `key_unavailable` from `jwks()`): ms before a new attempt can succeed (sent as `data.retryAfter`). */
  readonly retryAfter: number | undefined;
  /** The verified subject of a refused credential, for the subject rate limit; not part of {@link AuthError.data}. */
  readonly subject: string | undefined;

  constructor(code: AuthErrorCode, message: string, options: AuthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.strategy = options.strategy;
    this.retryAfter = options.retryAfter;
    this.subject = options.subject;
  }

  /** The payload Socket.IO sends to the client as `err.data`. */
  get data(): AuthErrorData {
    const data: AuthErrorData = { type: 'UnauthorizedError', code: this.code, message: this.message };
    if (this.strategy !== undefined) data.strategy = this.strategy;
    if (this.retryAfter !== undefined) data.retryAfter = this.retryAfter;
    return data;
  }

  /** Serializes as {@link AuthError.data}, so a logged or sent error never carries `cause`. */
  toJSON(): AuthErrorData {
    return this.data;
  }
}

/** Duck-typed check, so an AuthError from another copy of sockpass still counts. */
export function isAuthError(value: unknown): value is AuthError {
  return (
    value instanceof AuthError ||
    (typeof value === 'object' &&
      value !== null &&
      (value as { name?: unknown }).name === 'AuthError' &&
      typeof (value as { code?: unknown }).code === 'string')
  );
}

/** Wraps anything a strategy threw so that no foreign message reaches a client. */
export function toAuthError(value: unknown, strategy?: string): AuthError {
  if (isAuthError(value)) {
    if (strategy !== undefined && value.strategy === undefined) value.strategy = strategy;
    return value;
  }
  return new AuthError('server_error', 'authentication failed', { strategy, cause: value });
}
