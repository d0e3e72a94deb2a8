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

const debug = createDebug('sockpass:session');

/**
 * A connect-style middleware: express-session's `session({...})`, Passport's
 * `initialize()` and `session()`. Parameters are `never` so that Express's
 * own `RequestHandler` type fits without casts.
 */
export type ConnectMiddleware = (req: never, res: never, next: (err?: unknown) => void) => unknown;

/** The part of a Passport `Authenticator` the strategy uses (the `passport` default export fits). */
export interface PassportLike {
  /** Passport's `initialize()` middleware factory. */
  initialize(options?: { userProperty?: string; compat?: boolean }): ConnectMiddleware;
  /** Passport's `session()` middleware factory, which deserializes the user. */
  session(options?: never): ConnectMiddleware;
}

/** A session as the store returns it (`req.session` over HTTP). */
export interface SessionRecord {
  /** express-session's cookie record: sockpass reads the session's expiry from it. */
  cookie?:
    | {
        /** When the cookie, and so the session, expires; falsy for a browser-session cookie. */
        expires?: Date | string | null | false;
        /** The cookie's `maxAge` in ms when the session was saved. */
        originalMaxAge?: number | null;
      }
    | undefined;
  [key: string]: unknown;
}

export type { AllowedOrigins };

/** Options of {@link sessionCookie}. */
export interface SessionCookieOptions<U> {
  /** The app's express-session middleware, the same instance `app.use()` got (any store). */
  session: ConnectMiddleware;
  /** Deserializes the user as `passport.session()` does over HTTP; the socket gets what `req.user` would be. */
  passport?: PassportLike;
  /** Property Passport puts the user on, if the app gave `passport.initialize({ userProperty })`. Default `user`. */
  userProperty?: string;
  /** Without Passport: the user a session stands for, or undefined when nobody is logged in. */
  user?: (session: SessionRecord) => U | undefined | null | Promise<U | undefined | null>;
  /** Cookie name, the `name` given to express-session. Default `connect.sid`. */
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

/** What reading the session for one cookie came to. */
export type SessionRead =
  | { kind: 'found'; request: Record<string, unknown>; session: SessionRecord }
  /** The cookie's signature is not valid for any secret. */
  | { kind: 'bad_signature' }
  /** Signature valid, but the store has no such session (never existed, destroyed, or already expired). */
  | { kind: 'not_found' }
  | { kind: 'unavailable'; cause: unknown };

/** How the session behind a verified-looking cookie is read; `sessionCookie` uses express-session, the passport.socketio compat its store. */
export type SessionReader = (request: IncomingMessage, claimedSid: string) => Promise<SessionRead>;

export interface SessionStrategyOptions<U> extends Omit<SessionCookieOptions<U>, 'session'> {
  read: SessionReader;
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
 *   passport,
 *   allowedOrigins: ['https://app.example'],
 * }));
 * ```
 */
export function sessionCookie<U = unknown>(options: SessionCookieOptions<U>): Strategy<U> {
  if (typeof options?.session !== 'function') {
    throw new TypeError('sockpass: sessionCookie() needs `session`, the express-session middleware the app uses');
  }
  const { session, ...rest } = options;
  return sessionStrategy({ ...rest, read: readWithExpressSession(session, rest.userProperty ?? 'user') });
}

/**
 * The strategy around any session reader: cookie → Origin check → bounded
 * read → expiry → user. Shared with `sockpass/compat/passport.socketio`.
 */
export function sessionStrategy<U = unknown>(options: SessionStrategyOptions<U>): Strategy<U> {
  const name = options.name ?? 'connect.sid';
  const userProperty = options.userProperty ?? 'user';
  const storeTimeout = options.storeTimeout ?? DEFAULT_TIMEOUT;
  if (!Number.isFinite(storeTimeout) || storeTimeout <= 0) throw new TypeError('sockpass: storeTimeout must be a positive number of ms');
  const originAllowed = prepareOrigins(options.allowedOrigins);
  const requireOrigin = options.requireOrigin === true;
  const issuedAtOf = options.issuedAt;
  if (issuedAtOf !== undefined && typeof issuedAtOf !== 'function') throw new TypeError('sockpass: issuedAt must be a function of the session');
  /** The session's login time, or undefined (unknown age) when the app gives none or a value that is not a valid time. */
  const loginTime = (session: SessionRecord): Date | undefined => {
    if (issuedAtOf === undefined) return undefined;
    const value = issuedAtOf(session);
    const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
    return Number.isFinite(ms) ? new Date(ms) : undefined;
  };
  const resolveUser = prepareUserResolver(options, userProperty);
  const { read } = options;

  async function load(request: IncomingMessage, claimedSid: string): Promise<AuthResult<U>> {
    const outcome = await withTimeout(read(request, claimedSid), storeTimeout);
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

    const user = await withTimeout(resolveUser(outcome.request, outcome.session), storeTimeout);
    if (user === TIMED_OUT) return refuse('server_error', `the user lookup did not answer within ${storeTimeout} ms`);
    if ('error' in user) return refuse('server_error', 'the session user could not be loaded', user.error);
    if (user.value === undefined || user.value === null || (user.value as unknown) === false) {
      return refuse('credentials_required', 'the session has no logged-in user');
    }
    const success: AuthSuccess<U> = {
      kind: 'success',
      user: user.value,
      session: claimedSid,
      expiresAt,
      // The lifecycle calls this on its interval: one session read (and one deserializeUser), as one HTTP request would cost.
      revalidate: () => load(request, claimedSid),
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
      const claimedSid = signedSessionId(raw);
      if (claimedSid === undefined) return refuse('credentials_bad_format', 'the session cookie is not a signed session id');
      const result = await load(ctx.request, claimedSid);
      debug('cookie handshake: %s', result.kind === 'fail' ? result.error.code : result.kind);
      return result;
    },
  };
}

function refuse(code: AuthErrorCode, message: string, cause?: unknown): AuthResult<never> {
  return { kind: 'fail', error: new AuthError(code, message, { cause }) };
}

/** express-session's cookie is `s:<sid>.<signature>`; the sid it claims, before anyone checks the signature. */
export function signedSessionId(raw: string): string | undefined {
  if (!raw.startsWith('s:')) return undefined;
  const dot = raw.lastIndexOf('.');
  if (dot <= 2 || dot === raw.length - 1) return undefined;
  return raw.slice(2, dot);
}

/**
 * Reads the session by running express-session on a per-handshake view of
 * the request. The view shadows `session`, `sessionID`, `user`, … so a
 * session the app attached to the shared request (`io.engine.use(session)`)
 * is neither reused stale nor overwritten, and revalidation really re-reads.
 */
function readWithExpressSession(middleware: ConnectMiddleware, userProperty: string): SessionReader {
  const run = middleware as unknown as (req: object, res: object, next: (err?: unknown) => void) => unknown;
  return (request, claimedSid) =>
    new Promise<SessionRead>((resolve) => {
      const req = requestView(request, userProperty);
      let signatureAccepted = false;
      const done = (err?: unknown) => {
        if (err !== undefined && err !== null) return resolve({ kind: 'unavailable', cause: err });
        const session = req.session as SessionRecord | undefined;
        // express-session skips the request (no req.session) while its store reports 'disconnect'.
        if (session === undefined || session === null) return resolve({ kind: 'unavailable', cause: new Error('the session middleware loaded no session') });
        if (req.sessionID === claimedSid) return resolve({ kind: 'found', request: req, session });
        // A fresh session was generated instead: the store had none, or the signature never let it ask.
        resolve({ kind: signatureAccepted ? 'not_found' : 'bad_signature' });
      };
      try {
        run(req, inertResponse(), done);
      } catch (err) {
        return resolve({ kind: 'unavailable', cause: err });
      }
      // express-session sets req.sessionID from a verified cookie synchronously, before it asks the store;
      // a bad signature makes it generate a new id at once instead. This tells the two apart without the secret.
      signatureAccepted = req.sessionID === claimedSid;
    });
}

/** A per-handshake view of the request: reads fall through to it, writes stay on the view. */
export function requestView(request: IncomingMessage, userProperty: string): Record<string, unknown> {
  const view = Object.create(request) as Record<string, unknown>;
  for (const key of ['session', 'sessionID', 'sessionStore', 'signedCookies', 'cookies', '_passport', userProperty]) {
    Object.defineProperty(view, key, { value: undefined, writable: true, configurable: true, enumerable: true });
  }
  return view;
}

/**
 * A response nobody sends. express-session hooks `writeHead` and `end` to
 * save, touch and set its cookie; they are never called, so a socket never
 * writes the session.
 */
function inertResponse(): object {
  const headers = new Map<string, unknown>();
  return {
    statusCode: 200,
    headersSent: false,
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader: (name: string, value: unknown) => void headers.set(name.toLowerCase(), value),
    removeHeader: (name: string) => void headers.delete(name.toLowerCase()),
    writeHead: () => undefined,
    write: () => true,
    end: () => undefined,
  };
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
