/**
 * The strategy contract: what a strategy receives, what it returns, and what a
 * socket carries once authenticated. Strategies depend on this file only,
 * never on Socket.IO.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { AuthError } from './errors.js';

/** Claims of a verified credential (a JWT's payload), by claim name; `{}` for credentials without claims. */
export type Claims = Record<string, unknown>;

/** Read-only view of one handshake, shared by every strategy of a chain. */
export interface HandshakeContext {
  /**
   * Parsed query string of the handshake URL (values may be arrays when
   * repeated), as a null-prototype object. A parameter a strategy forgot
   * stays visible here, and only here, to every namespace of the same
   * connection.
   */
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's `auth` payload (`io(url, { auth })`), `{}` when absent. */
  readonly auth: Readonly<Record<string, unknown>>;
  /** Headers of the handshake request, names in lower case as Node parses them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Cookies of the handshake request, parsed on first access. */
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /** The `Origin` header, or `undefined` (non-browser clients send none). */
  readonly origin: string | undefined;
  /** The client's remote address, as Socket.IO reports it in `handshake.address`. */
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
   * Removes a query parameter from `socket.handshake.query`, `handshake.url`
   * and the request URL, so that a token read from the URL is not logged; the
   * strategies of later namespaces on the same connection still read it from
   * `ctx.query`.
   */
  forgetQueryParameter(name: string): void;
}

/** What a strategy decided. */
export type AuthResult<U> = AuthSuccess<U> | AuthPass | AuthFailure;

/** The credential is valid: the socket is admitted as `user`. */
export interface AuthSuccess<U> {
  /** Tells the three outcomes apart. */
  kind: 'success';
  /** The app's user the credential stands for; becomes `socket.data.auth.user`. */
  user: U;
  /** What the credential asserts (verified JWT claims); `socket.data.auth.claims`, `{}` when absent. */
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
   * When the credential was issued, for the revocation ledger:
   * `revoke({ user })` refuses credentials issued at or before the revoke.
   * Absent: `claims.iat` (seconds, as in a JWT) when it is a number, else
   * unknown age; `null`: unknown age whatever the claims say. Unknown age
   * means any live revocation of the user refuses the credential. JWT
   * strategies leave it absent: their `iat` is in the claims.
   */
  issuedAt?: Date | null;
  /** The credential's own id (a JWT's `jti`), for `revoke({ token })`. */
  tokenId?: string;
}

/** No credential for this strategy here: the chain moves on. */
export interface AuthPass {
  /** Tells the three outcomes apart. */
  kind: 'pass';
}

/** Credential present and refused. */
export interface AuthFailure {
  /** Tells the three outcomes apart. */
  kind: 'fail';
  /** Why; reaches the client as `connect_error`'s `err.data` (mode `first` stops at the first failure). */
  error: AuthError;
}

/**
 * Declares that a strategy takes its credential in an event after the socket
 * connected (the `authenticate` flow). The pipeline quarantines the socket
 * until `authenticateCredential` succeeds or `timeout` ms pass.
 */
export interface InBandOptions {
  /** Event the client sends its credential in, e.g. `authenticate`. */
  eventName: string;
  /** Ms the socket has to send a valid credential before `authentication_timeout` and a disconnect. */
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
  /** Judges one handshake: `success`, `pass` (no credential for this strategy here) or `fail`. A throw counts as `server_error`. */
  authenticate(ctx: HandshakeContext): Promise<AuthResult<U>>;
  /** Verifies a credential that arrives in-band: an `authenticate` event or an `auth:refresh` answer. */
  authenticateCredential?(credential: unknown): Promise<AuthResult<U>>;
  /** Present on strategies whose credential arrives after connect. */
  readonly inBand?: InBandOptions;
  /**
   * For a strategy that admits sockets anonymously (`anonymous()`): the name
   * of the registered strategy whose `authenticateCredential` verifies the
   * token such a socket upgrades with (`auth:refresh`).
   */
  readonly upgradeWith?: string | undefined;
}

/** `socket.data.auth` once a socket is authenticated. */
export interface SocketAuth<U> {
  /** The app's user, as the deciding strategy mapped it. */
  user: U;
  /** Name the deciding strategy was registered under. */
  strategy: string;
  /** What the credential asserted (a JWT's claims); `{}` for sessions. */
  claims: Claims;
  /** When the credential expires, or `null` when it does not. */
  expiresAt: Date | null;
  /** Session id for cookie-authenticated sockets. */
  session?: string;
  /** True for sockets admitted by `anonymous()`. */
  anonymous?: boolean;
  /**
   * When the credential was issued, where the claims do not say it: the
   * session strategy's `issuedAt` option, or `null` (unknown age) for a
   * mode-`all` chain with a member of unknown age. Absent for a JWT: its
   * issue time is `claims.iat`. The ledger judges `revoke({ user })` by it.
   */
  issuedAt?: Date | null;
  /** The credential's id (JWT `jti`), when it has one: `revoke({ token })` finds the socket by it. */
  tokenId?: string;
  /**
   * With `maxSessionAge`: when this login began (the first admission, or the
   * token's `auth_time`); the socket is cut at `admittedAt + maxSessionAge`.
   */
  admittedAt?: Date;
}

/**
 * What sockpass keeps in `socket.data`. Extend it in the app's own
 * `SocketData`, so that every listener of a typed Server sees `auth` typed,
 * `io.on('connection')` included:
 *
 * @example
 * ```ts
 * interface SocketData extends SockPassSocketData<User> { room?: string }
 * const io = new Server<ClientToServer, ServerToClient, {}, SocketData>(http);
 * ```
 */
export interface SockPassSocketData<U> {
  /** The socket's authentication record, once it has authenticated. */
  auth: SocketAuth<U>;
}

/** Payload of the registry's `failure` event: enough to log and rate-limit, never the credential. */
export interface FailureEvent {
  /** The refusal's code. */
  code: import('./errors.js').AuthErrorCode;
  /** Name of the strategy that refused, when one did. */
  strategy: string | undefined;
  /** Namespace the socket tried to join. */
  namespace: string;
  /** The client's remote address. */
  address: string;
  /** With `forbidden` from a room policy: the room the socket was refused. */
  room?: string;
}
