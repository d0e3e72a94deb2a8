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
 * What a client should do after a refusal or a cut, sent beside every code:
 *
 * - `refresh`: get a fresh credential and try again now;
 * - `backoff`: try again later (after `retryAfter` ms when given), with a fresh credential;
 * - `login`: the credential is done for; the user has to sign in again;
 * - `stop`: retrying cannot help (a forged token, a wrong origin, a refused room).
 */
export type ClientAction = 'refresh' | 'backoff' | 'login' | 'stop';

/**
 * Every code an {@link AuthError} can carry, with what the client should do
 * after it: the one table of codes. {@link AUTH_ERROR_CODES} and the
 * {@link AuthErrorCode} union are derived from it, so a new code cannot be
 * added without saying what the client does.
 */
export const CLIENT_ACTIONS = {
  /** No credential where the strategy looks (and nothing else admitted the socket). */
  credentials_required: 'login',
  /** A credential of the wrong type, repeated, or not of the expected form. */
  credentials_bad_format: 'stop',
  /** Malformed, unsigned (`alg: none`), wrongly signed or wrongly keyed token. */
  invalid_token: 'login',
  /** The credential expired: a fresh one fixes it. */
  token_expired: 'refresh',
  /** The login reached `maxSessionAge` since it was admitted: refreshing cannot extend it. */
  session_too_old: 'login',
  /** `nbf` is still in the future. */
  token_not_active: 'backoff',
  /** The token's `aud` is not one the strategy accepts. */
  invalid_audience: 'stop',
  /** The token's `iss` is not the one the strategy accepts. */
  invalid_issuer: 'stop',
  /** Longer than `maxTokenBytes`; refused before any parsing. */
  token_too_large: 'stop',
  /** The app's `isRevoked` hook said so, or the credential is in the revocation ledger (`auth.revoke()`), at any admission. */
  token_revoked: 'login',
  /** Strategies disagree on the user (mode `all`), or a refresh names another user. */
  user_mismatch: 'stop',
  /** The async key resolver failed or returned no usable key. */
  key_unavailable: 'backoff',
  /** The session cookie names no session in the store. */
  session_not_found: 'login',
  /** The store returned a session whose cookie expiry has passed. */
  session_expired: 'login',
  /** The session store errored or did not answer within its bound; or `revoke()` could not record in the revocation ledger; or the connection counter could not be reached in time. */
  store_unavailable: 'backoff',
  /** A cookie-authenticated handshake from an Origin that is not allowed (CSWSH). */
  origin_not_allowed: 'stop',
  /** No valid credential arrived in time (the `authenticate` event, an in-band refresh). */
  authentication_timeout: 'refresh',
  /** A guard refused an event, or a room policy a room. */
  forbidden: 'stop',
  /** Too many refused or pending handshakes from this address or subject; `data.retryAfter` says how many ms to wait. */
  rate_limited: 'backoff',
  /** The user already holds `connections.perUser` sockets (across every node sharing the counter): one must close first. */
  too_many_connections: 'backoff',
  /** A newer socket of the same user took this one's place (`connections.onExceed: 'replace-oldest'`); sent with `auth:replaced`. */
  connection_replaced: 'stop',
  /** An unexpected error inside a strategy (or a `failure` listener that threw); details stay on the server. */
  server_error: 'stop',
} as const satisfies Readonly<Record<string, ClientAction>>;

/** Every code an {@link AuthError} can carry (the keys of {@link CLIENT_ACTIONS}): a union, so `switch (err.code)` is checked by the compiler. */
export type AuthErrorCode = keyof typeof CLIENT_ACTIONS;

/** Every {@link AuthErrorCode}, in the table's order: for validation and exhaustive tests. */
export const AUTH_ERROR_CODES = Object.freeze(Object.keys(CLIENT_ACTIONS)) as readonly AuthErrorCode[];

/** The client's next step for `code`; `stop` for a code this version does not know. */
export function actionFor(code: string): ClientAction {
  return Object.prototype.hasOwnProperty.call(CLIENT_ACTIONS, code) ? CLIENT_ACTIONS[code as AuthErrorCode] : 'stop';
}

/** What a client receives as `connect_error`'s `err.data` (and in `unauthorized`). */
export interface AuthErrorData {
  /** Always `UnauthorizedError`, the shape socketio-jwt clients already test for. */
  type: 'UnauthorizedError';
  /** Stable, machine-readable reason. */
  code: AuthErrorCode;
  /** Human-readable reason, written by sockpass; never contains the credential. */
  message: string;
  /** What the client should do next ({@link CLIENT_ACTIONS}). */
  action: ClientAction;
  /** Name of the strategy that refused, as registered with `use()`. */
  strategy?: string;
  /** With `rate_limited` (and `key_unavailable` from `jwks()`): ms before a new attempt can succeed. */
  retryAfter?: number;
}

/**
 * What a connected client is told when the server cuts it (`auth:expired`,
 * `auth:revoked`, `auth:refused`) or refuses a request of it (an ack's `error`).
 * `message` never holds a credential.
 */
export interface AuthNotice {
  /** Why, e.g. `token_expired` or `token_revoked`. */
  code: AuthErrorCode;
  /** Human-readable reason. */
  message: string;
  /** What the client should do next ({@link CLIENT_ACTIONS}). */
  action: ClientAction;
  /** With `backoff`, when the server knows: ms before a new attempt can succeed. */
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
    const data: AuthErrorData = { type: 'UnauthorizedError', code: this.code, message: this.message, action: actionFor(this.code) };
    if (this.strategy !== undefined) data.strategy = this.strategy;
    if (this.retryAfter !== undefined) data.retryAfter = this.retryAfter;
    return data;
  }

  /** The payload of a cut notice or of an ack's `error`: code, message, the client's next step. */
  get notice(): AuthNotice {
    const notice: AuthNotice = { code: this.code, message: this.message, action: actionFor(this.code) };
    if (this.retryAfter !== undefined) notice.retryAfter = this.retryAfter;
    return notice;
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
