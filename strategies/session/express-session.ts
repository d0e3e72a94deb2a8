/**
 * The express-session reader: the cookie is `s:<sid>.<signature>`; the
 * session is loaded by running the app's own `session(...)` middleware (any
 * store) on a per-handshake view of the request, so it is checked and read
 * exactly as for an HTTP request, and never written: the view's response is
 * never ended, and express-session saves, touches and sets its cookie only
 * when a response ends.
 *
 * With the app's `secret` the signature is checked here, before any store
 * read. Without it, express-session checks it, and the reader tells a forged
 * cookie from an unknown session by the id express-session took from the
 * cookie (the first id it assigns), whatever the store's timing.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { CookieSid, SessionRead, SessionReader, SessionRecord } from './reader.js';
import { claimedValue, prepareSecrets, unsignCookieValue, type CookieSecret, type CookieSessionId } from './signed-cookie.js';

/**
 * A connect-style middleware: express-session's `session({...})`, Passport's
 * `initialize()` and `session()`. Parameters are `never` so that Express's
 * own `RequestHandler` type fits without casts.
 */
export type ConnectMiddleware = (req: never, res: never, next: (err?: unknown) => void) => unknown;

/** Options of {@link expressSessionReader}. */
export interface ExpressSessionReaderOptions {
  /** The app's express-session middleware, the same instance `app.use()` got. */
  session: ConnectMiddleware;
  /** The secret(s) given to express-session: the signature is then checked before the store is asked. */
  secret?: CookieSecret | undefined;
  /** Property Passport puts the user on. Default `user`. */
  userProperty?: string | undefined;
}

/** express-session's cookie format and its middleware as the session loader. */
export function expressSessionReader(options: ExpressSessionReaderOptions): SessionReader {
  if (typeof options?.session !== 'function') {
    throw new TypeError('sockpass: sessionCookie() needs `session`, the express-session middleware the app uses');
  }
  const secrets = options.secret === undefined ? undefined : prepareSecrets(options.secret);
  const userProperty = options.userProperty ?? 'user';
  const run = options.session as unknown as (req: object, res: object, next: (err?: unknown) => void) => unknown;

  return {
    cookieName: 'connect.sid',
    sessionId(raw: string): CookieSessionId {
      if (!raw.startsWith('s:')) return { kind: 'bad_format' };
      const signed = raw.slice(2);
      const claimed = claimedValue(signed);
      if (claimed === undefined) return { kind: 'bad_format' };
      if (secrets === undefined) return { kind: 'claimed', sid: claimed };
      const sid = unsignCookieValue(signed, secrets);
      return sid === undefined ? { kind: 'bad_signature' } : { kind: 'verified', sid };
    },
    read: (request, sid) =>
      new Promise<SessionRead>((resolve) => {
        const req = requestView(request, userProperty);
        // express-session first assigns the id of a cookie whose signature it accepted; a fresh id comes later (or first, for a forged one).
        let firstId: unknown;
        let current: unknown;
        Object.defineProperty(req, 'sessionID', {
          get: () => current,
          set: (value: unknown) => {
            if (firstId === undefined) firstId = value;
            current = value;
          },
          configurable: true,
          enumerable: true,
        });
        const done = (err?: unknown) => {
          if (err !== undefined && err !== null) return resolve({ kind: 'unavailable', cause: err });
          const session = req.session as SessionRecord | undefined;
          // express-session skips the request (no req.session) while its store reports 'disconnect'.
          if (session === undefined || session === null) return resolve({ kind: 'unavailable', cause: new Error('the session middleware loaded no session') });
          if (current === sid.sid) return resolve({ kind: 'found', request: req, session });
          // A fresh session was generated instead: the store had none, or the signature never let it ask.
          resolve({ kind: sid.kind === 'verified' || firstId === sid.sid ? 'not_found' : 'bad_signature' });
        };
        try {
          run(req, inertResponse(), done);
        } catch (err) {
          resolve({ kind: 'unavailable', cause: err });
        }
      }),
    loaded(request, sid, property) {
      const shared = request as unknown as Record<string, unknown>;
      const session = shared.session as SessionRecord | undefined;
      // express-session sets sessionID from the cookie only when the signature held, so a match is a verified session.
      if (typeof session !== 'object' || session === null || shared.sessionID !== sid.sid) return undefined;
      const req = requestView(request, property);
      req.session = session;
      req.sessionID = sid.sid;
      const user = shared[property];
      return user === undefined || user === null ? { kind: 'found', request: req, session } : { kind: 'found', request: req, session, user };
    },
  };
}

/**
 * A per-handshake view of the request: reads fall through to it, writes stay
 * on the view. The view shadows `session`, `sessionID`, `user`, … so a
 * session the app attached to the shared request (`io.engine.use(session)`)
 * is neither reused stale nor overwritten, and revalidation really re-reads.
 */
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
export function inertResponse(): object {
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

export type { CookieSid };
