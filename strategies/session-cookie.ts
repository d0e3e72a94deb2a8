/**
 * `session`: the express-session cookie the web app already sets, with the
 * user Passport keeps in that session — the approach passport.socketio took.
 * The strategy runs the app's own `session(...)` middleware (any store) on
 * the handshake request, so the signed cookie is checked and the session is
 * loaded exactly as for an HTTP request, then runs `passport.session()` so
 * the socket gets the same user object as `req.user`.
 *
 * What it deliberately does not do: end the handshake's response. express-
 * session saves, touches and sets its cookie when a response ends; a socket
 * has no response that could carry a Set-Cookie, and a socket left open must
 * not keep an idle session alive. So the socket only reads the session: no
 * save, no touch, no `rolling` renewal, whatever `resave` says.
 *
 * Browsers send cookies on cross-site WebSocket handshakes, so a cookie
 * handshake is only trusted from an allowed `Origin` (CSWSH), and the check
 * runs before any store read.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import createDebug from 'debug';
import { AuthError, type AuthErrorCode } from '../src/errors.js';
import { TIMED_OUT, withTimeout } from '../src/time.js';
import type { AuthResult, AuthSuccess, HandshakeContext, Strategy } from '../src/types.js';
import { prepareOrigins, type AllowedOrigins } from './origin.js';
import { expressSessionReader, inertResponse, type ConnectMiddleware } from './session/express-session.js';
import type { CookieSid, SessionRead, SessionReader, SessionRecord } from './session/reader.js';
import type { CookieSecret } from './session/signed-cookie.js';

const debug = createDebug('sockpass:session');

export type { AllowedOrigins, ConnectMiddleware, CookieSecret, SessionRead, SessionReader, SessionRecord };

/** The part of a Passport `Authenticator` the strategy uses (the `passport` default export fits). */
export interface PassportLike {
  /** Passport's `initialize()` middleware factory. */
  initialize(options?: { userProperty?: string; compat?: boolean }): ConnectMiddleware;
  /** Passport's `session()` middleware factory, which deserializes the user. */
  session(options?: never): ConnectMiddleware;
}

/** Options of {@link sessionCookie}: the express-session middleware, or another framework's `reader`. */
export interface SessionCookieOptions<U> {
  /** The app's express-session middleware, the same instance `app.use()` got (any store). Needed unless `reader` is given. */
  session?: ConnectMiddleware;
  /**
   * The secret(s) the app gave express-session. With it the cookie's
   * signature is checked before any store read, as express-session checks
   * it; without it express-session's own check is observed.
   */
  secret?: CookieSecret;
  /**
   * Another session framework's reader instead of express-session, e.g.
   * `fastifySessionReader({ store, secret })` for @fastify/session.
   */
  reader?: SessionReader;
  /**
   * The app loads the session in Socket.IO's engine layer, as Socket.IO's
   * own recipe does (`io.engine.use(onlyForHandshake(sessionMiddleware))`,
   * and `passport.session()` likewise): take the session (and the user) it
   * put on the handshake request for this cookie instead of reading the
   * store again. Falls back to a read when the engine layer loaded nothing
   * for this cookie. Revalidation always reads the store. Default false.
   */
  loadedByEngine?: boolean;
  /**
   * Also put the user on `socket.request[userProperty]` (`socket.request.user`)
   * when the strategy admits a socket, for code written for Socket.IO's
   * Passport recipe. Default false.
   */
  exposeUser?: boolean;
  /** Deserializes the user as `passport.session()` does over HTTP; the socket gets what `req.user` would be. */
  passport?: PassportLike;
  /** Property Passport puts the user on, if the app gave `passport.initialize({ userProperty })`. Default `user`. */
  userProperty?: string;
  /** Without Passport: the user a session stands for, or undefined when nobody is logged in. */
  user?: (session: SessionRecord) => U | undefined | null | Promise<U | undefined | null>;
  /** Cookie name, the `name` given to express-session. Default: the reader's (`connect.sid` for express-session). */
  name?: string;
  /** Origins a cookie handshake may come from; required. `'any'` opts out of the check. */
  allowedOrigins: AllowedOrigins;
  /**
   * Refuse cookie handshakes that carry no `Origin` header. Default false:
   * browsers always send `Origin` on a WebSocket handshake and on cross-site
   * requests, so its absence means a non-browser client or a same-origin
   * long-polling request, neither of which can be a hijacked browser.
   */
  requireOrigin?: boolean;
  /** Longest wait for the session store (and then for deserializeUser), in ms. Default 2000. */
  storeTimeout?: number;
  /**
   * When this session's login happened (a Date or ms epoch), for
   * `revoke({ user })`: a session logged in at or before the revocation is
   * refused, one logged in after it (the user came back) is admitted.
   * express-session records no creation time (and `cookie.expires` moves on
   * every request, so it cannot stand in), so by default the age is unknown
   * and a user revocation refuses every session of that user until the
   * revocation expires. Stamp the time in your login route
   * (`req.session.loggedInAt = Date.now()` after `req.login`) and return it:
   * `issuedAt: (s) => s.loggedInAt`. The value lives in the server-side
   * session, so a client cannot forge it.
   */
  issuedAt?: (session: SessionRecord) => Date | number | undefined | null;
}

interface SessionStrategyOptions<U> extends Omit<SessionCookieOptions<U>, 'session' | 'secret' | 'reader'> {
  /** The session framework's reader. */
  reader: SessionReader;
}

const DEFAULT_TIMEOUT = 2000;

/**
 * @example
 * ```ts
 * const sessionMiddleware = session({ secret, store, resave: false, saveUninitialized: false });
 * app.use(sessionMiddleware);
 * app.use(passport.session());
 * auth.use('session', sessionCookie({
 *   session: sessionMiddleware,
 *   secret,
 *   passport,
 *   allowedOrigins: ['https://app.example'],
 * }));
 * ```
 */
export function sessionCookie<U = unknown>(options: SessionCookieOptions<U>): Strategy<U> {
  const { session, secret, reader, ...rest } = options ?? ({} as SessionCookieOptions<U>);
  if (reader !== undefined) {
    if (typeof reader?.sessionId !== 'function' || typeof reader.read !== 'function') {
      throw new TypeError('sockpass: sessionCookie() `reader` must have sessionId(raw) and read(request, sid)');
    }
    if (session !== undefined) throw new TypeError('sockpass: sessionCookie() takes `session` (express-session) or `reader`, not both');
    return sessionStrategy({ ...rest, reader });
  }
  if (typeof session !== 'function') {
    throw new TypeError('sockpass: sessionCookie() needs `session`, the express-session middleware the app uses');
  }
  return sessionStrategy({ ...rest, reader: expressSessionReader({ session, secret, userProperty: rest.userProperty }) });
}

/**
 * The strategy around any session reader: cookie → Origin check → signature
 * → bounded read → expiry → user. `sockpass/compat/passport.socketio` reaches
 * it through `sessionCookie({ reader })`, with a reader of its own.
 */
function sessionStrategy<U = unknown>(options: SessionStrategyOptions<U>): Strategy<U> {
  const reader = options.reader;
  const name = options.name ?? reader.cookieName;
  const userProperty = options.userProperty ?? 'user';
  const storeTimeout = options.storeTimeout ?? DEFAULT_TIMEOUT;
  if (!Number.isFinite(storeTimeout) || storeTimeout <= 0) throw new TypeError('sockpass: storeTimeout must be a positive number of ms');
  const originAllowed = prepareOrigins(options.allowedOrigins);
  const requireOrigin = options.requireOrigin === true;
  const issuedAtOf = options.issuedAt;
  if (issuedAtOf !== undefined && typeof issuedAtOf !== 'function') throw new TypeError('sockpass: issuedAt must be a function of the session');
  const loadedByEngine = options.loadedByEngine === true;
  if (loadedByEngine && typeof reader.loaded !== 'function') throw new TypeError('sockpass: this session reader cannot reuse an engine-layer session');
  const exposeUser = options.exposeUser === true;
  /** The session's login time, or undefined (unknown age) when the app gives none or a value that is not a valid time. */
  const loginTime = (session: SessionRecord): Date | undefined => {
    if (issuedAtOf === undefined) return undefined;
    const value = issuedAtOf(session);
    const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
    return Number.isFinite(ms) ? new Date(ms) : undefined;
  };
  const resolveUser = prepareUserResolver(options, userProperty);

  /** The engine layer's session for this cookie, or one bounded store read. */
  function readSession(request: IncomingMessage, sid: CookieSid, reuse: boolean): Promise<SessionRead | typeof TIMED_OUT> | SessionRead {
    const already = reuse ? reader.loaded!(request, sid, userProperty) : undefined;
    if (already !== undefined) return already;
    return withTimeout(reader.read(request, sid), storeTimeout);
  }

  async function load(request: IncomingMessage, sid: CookieSid, reuse: boolean): Promise<AuthResult<U>> {
    const outcome = await readSession(request, sid, reuse);
    if (outcome === TIMED_OUT) return refuse('store_unavailable', `the session store did not answer within ${storeTimeout} ms`);
    switch (outcome.kind) {
      case 'unavailable':
        return refuse('store_unavailable', 'the session store failed', outcome.cause);
      case 'bad_signature':
        return refuse('invalid_token', 'the session cookie signature is not valid');
      case 'not_found':
        return refuse('session_not_found', 'no such session');
    }
    const expiresAt = cookieExpiry(outcome.session);
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) return refuse('session_expired', 'the session has expired');

    const user =
      outcome.user !== undefined
        ? { value: outcome.user as U }
        : await withTimeout(resolveUser(outcome.request, outcome.session), storeTimeout);
    if (user === TIMED_OUT) return refuse('server_error', `the user lookup did not answer within ${storeTimeout} ms`);
    if ('error' in user) return refuse('server_error', 'the session user could not be loaded', user.error);
    if (user.value === undefined || user.value === null || (user.value as unknown) === false) {
      return refuse('credentials_required', 'the session has no logged-in user');
    }
    // For code written for Socket.IO's Passport recipe, which reads socket.request.user.
    if (exposeUser) (request as unknown as Record<string, unknown>)[userProperty] = user.value;
    const success: AuthSuccess<U> = {
      kind: 'success',
      user: user.value,
      session: sid.sid,
      expiresAt,
      // The lifecycle calls this on its interval: one session read (and one deserializeUser), as one HTTP request would cost.
      revalidate: () => load(request, sid, false),
    };
    const issuedAt = loginTime(outcome.session);
    if (issuedAt !== undefined) success.issuedAt = issuedAt;
    return success;
  }

  return {
    authenticate: async function sessionCookieStrategy(ctx: HandshakeContext): Promise<AuthResult<U>> {
      const raw = ctx.cookies[name];
      if (raw === undefined || raw === '') return { kind: 'pass' };
      const origin = ctx.origin;
      if (origin === undefined ? requireOrigin : !originAllowed(origin)) {
        debug('refused a cookie handshake from %s', origin === undefined ? 'no Origin' : 'a foreign Origin');
        return refuse('origin_not_allowed', 'cookie authentication is not allowed from this Origin');
      }
      const sid = reader.sessionId(raw);
      if (sid.kind === 'bad_format') return refuse('credentials_bad_format', 'the session cookie is not a signed session id');
      if (sid.kind === 'bad_signature') return refuse('invalid_token', 'the session cookie signature is not valid');
      const result = await load(ctx.request, sid, loadedByEngine);
      debug('cookie handshake: %s', result.kind === 'fail' ? result.error.code : result.kind);
      return result;
    },
  };
}

function refuse(code: AuthErrorCode, message: string, cause?: unknown): AuthResult<never> {
  return { kind: 'fail', error: new AuthError(code, message, { cause }) };
}

type UserOutcome<U> = { value: U | undefined | null } | { error: unknown };

function prepareUserResolver<U>(
  options: Pick<SessionCookieOptions<U>, 'passport' | 'user'>,
  userProperty: string,
): (req: Record<string, unknown>, session: SessionRecord) => Promise<UserOutcome<U>> {
  const { passport, user } = options;
  if (passport !== undefined) {
    if (typeof passport.initialize !== 'function' || typeof passport.session !== 'function') {
      throw new TypeError('sockpass: sessionCookie() `passport` must be a Passport Authenticator');
    }
    // compat: false keeps initialize() from resetting the app's passport._userProperty.
    const initialize = passport.initialize({ userProperty, compat: false }) as unknown as NodeMiddleware;
    const deserialize = passport.session() as unknown as NodeMiddleware;
    return async (req) => {
      try {
        await runMiddleware(initialize, req);
        await runMiddleware(deserialize, req);
      } catch (error) {
        return { error };
      }
      return { value: req[userProperty] as U | undefined };
    };
  }
  if (typeof user === 'function') {
    return async (_req, session) => {
      try {
        return { value: await user(session) };
      } catch (error) {
        return { error };
      }
    };
  }
  throw new TypeError('sockpass: sessionCookie() needs `passport`, or `user(session)` to say who a session belongs to');
}

type NodeMiddleware = (req: object, res: object, next: (err?: unknown) => void) => unknown;

function runMiddleware(middleware: NodeMiddleware, req: object): Promise<void> {
  return new Promise((resolve, reject) => {
    middleware(req, inertResponse(), (err?: unknown) => (err === undefined || err === null ? resolve() : reject(err)));
  });
}

/** The session cookie's expiry, which is the session's: a Date, or null for a browser-session cookie. */
function cookieExpiry(session: SessionRecord): Date | null {
  const expires = session.cookie?.expires;
  if (expires === undefined || expires === null || expires === false) return null;
  const date = expires instanceof Date ? expires : new Date(expires);
  return Number.isNaN(date.getTime()) ? null : date;
}
