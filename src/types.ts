/**
 * The strategy contract: what a strategy receives, what it returns, and what a
 * socket carries once authenticated. Strategies depend on this file only,
 * never on Socket.IO.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { AuthError } from './errors.js';

export type Claims = Record<string, unknown>;

/** Read-only view of one handshake, shared by every strategy of a chain. */
export interface HandshakeContext {
  /** Parsed query string of the handshake URL (values may be arrays when repeated). */
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's `auth` payload (`io(url, { auth })`), `{}` when absent. */
  readonly auth: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Cookies of the handshake request, parsed on first access. */
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /** The `Origin` header, or `undefined` (non-browser clients send none). */
  readonly origin: string | undefined;
  readonly address: string;
  /** Namespace the socket is joining, e.g. `/` or `/admin`. */
  readonly namespace: string;
  /** True when the handshake arrived over TLS. */
  readonly secure: boolean;
  /**
   * The underlying HTTP request, for adapters that must run existing Node
   * middleware (express-session, Passport). Token strategies do not need it.
   */
  readonly request: IncomingMessage;
  /**
   * Removes a query parameter from the handshake and from the request URL, so
   * that a token read from the URL is not logged or re-read later.
   */
  forgetQueryParameter(name: string): void;
}

/** What a strategy decided. */
export type AuthResult<U> = AuthSuccess<U> | AuthPass | AuthFailure;

export interface AuthSuccess<U> {
  kind: 'success';
  user: U;
  claims?: Claims;
  /** When the credential stops being valid; `null` or absent when it does not expire. */
  expiresAt?: Date | null;
  /** Session id, for cookie strategies: the socket joins `session:<sid>`. */
  session?: string;
  /**
   * Re-checks the credential later (a session destroyed elsewhere, a token
   * revoked): the lifecycle calls it on its revalidation interval.
   */
  revalidate?: () => Promise<AuthResult<U>>;
  /** Admits a socket with no user (see `anonymous()`). */
  anonymous?: boolean;
  /**
   * When the credential was issued (a JWT's `iat`), for the revocation ledger:
   * `revoke({ user })` refuses credentials issued at or before the revoke.
   * Absent: unknown age, so any live revocation of the user refuses it.
   */
  issuedAt?: Date | null;
  /** The credential's own id (a JWT's `jti`), for `revoke({ token })`. */
  tokenId?: string;
}

/** No credential for this strategy here: the chain moves on. */
export interface AuthPass {
  kind: 'pass';
}

/** Credential present and refused. */
export interface AuthFailure {
  kind: 'fail';
  error: AuthError;
}

/**
 * Declares that a strategy takes its credential in an event after the socket
 * connected (the `authenticate` flow). The pipeline quarantines the socket
 * until `authenticateCredential` succeeds or `timeout` ms pass.
 */
export interface InBandOptions {
  eventName: string;
  timeout: number;
}

/**
 * A strategy. Any object with `authenticate(ctx)` is one; the optional members
 * let the lifecycle re-check a token on refresh and let the pipeline wait for
 * an in-band credential.
 *
 * @example
 * ```ts
 * const apiKey: Strategy<{ id: string }> = {
 *   async authenticate(ctx) {
 *     const key = ctx.headers['x-api-key'];
 *     if (key === undefined) return { kind: 'pass' };
 *     if (key !== process.env.API_KEY) return { kind: 'fail', error: new AuthError('invalid_token', 'bad key') };
 *     return { kind: 'success', user: { id: 'service' } };
 *   },
 * };
 * ```
 */
export interface Strategy<U = unknown> {
  authenticate(ctx: HandshakeContext): Promise<AuthResult<U>>;
  /** Verifies a credential that arrives in-band: an `authenticate` event or an `auth:refresh` answer. */
  authenticateCredential?(credential: unknown): Promise<AuthResult<U>>;
  /** Present on strategies whose credential arrives after connect. */
  readonly inBand?: InBandOptions;
}

/** `socket.data.auth` once a socket is authenticated. */
export interface SocketAuth<U> {
  user: U;
  /** Name the deciding strategy was registered under. */
  strategy: string;
  claims: Claims;
  /** When the credential expires, or `null` when it does not. */
  expiresAt: Date | null;
  /** Session id for cookie-authenticated sockets. */
  session?: string;
  /** True for sockets admitted by `anonymous()`. */
  anonymous?: boolean;
  /** When the credential was issued (JWT `iat`), when known: the ledger judges `revoke({ user })` by it. */
  issuedAt?: Date;
  /** The credential's id (JWT `jti`), when it has one: `revoke({ token })` finds the socket by it. */
  tokenId?: string;
}

/** Payload of the registry's `failure` event: enough to log and rate-limit, never the credential. */
export interface FailureEvent {
  code: import('./errors.js').AuthErrorCode;
  strategy: string | undefined;
  namespace: string;
  address: string;
}
