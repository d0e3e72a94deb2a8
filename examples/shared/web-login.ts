/**
 * The web app's own login for the cookie examples (session, compare):
 * express-session + a Passport instance of its own, `POST /login` with the
 * demo passwords, `POST /logout`. The session strategy then reads the very
 * same session and user on the socket handshake.
 */
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, Request } from 'express';
import session, { type Store } from 'express-session';
import passport from 'passport';
import type { SessionRecord } from 'sockpass';
import { checkPassword, findUser, type DemoUser } from './example-app.js';

/** The session cookie's name in the examples. */
export const SESSION_COOKIE = 'sockpass.sid';

export interface WebLogin {
  sessions: ReturnType<typeof session>;
  passport: passport.Authenticator;
}

/** Mounts express-session (MemoryStore unless `store`) and Passport on `app`. */
export function mountWebLogin(app: Express, options: { ttlSeconds: number; store?: Store | undefined }): WebLogin {
  const logins = new passport.Passport();
  logins.serializeUser<string>((user, done) => done(null, (user as DemoUser).id));
  logins.deserializeUser<string>((id, done) => done(null, findUser(id) ?? false));
  const sessions = session({
    name: SESSION_COOKIE,
    secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
    store: options.store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: options.ttlSeconds * 1000 },
  });
  app.use(sessions, logins.initialize(), logins.session());
  return { sessions, passport: logins };
}

export interface WebLoginRoutes {
  /** Extra fields for the `/login` answer (e.g. a token for the same user). */
  loginBody?: (user: DemoUser) => Record<string, unknown>;
  /** Runs on logout with the session id that ends, before the answer (e.g. `auth.revoke`). */
  onLogout?: (sessionId: string, user: DemoUser | undefined) => Promise<void>;
}

/** `POST /login` (password → session cookie) and `POST /logout`. */
export function serveWebLogin(app: Express, routes: WebLoginRoutes = {}): void {
  app.post('/login', (req, res, next) => {
    const user = checkPassword(req.body?.username, req.body?.password);
    if (user === undefined) return void res.status(401).json({ error: 'wrong username or password' });
    req.login(user, (err) => {
      if (err) return next(err);
      // When this login happened: the session strategy's `issuedAt` reads it, so a
      // `revoke({ user })` refuses sessions logged in before it, not the next login.
      (req.session as unknown as { loggedInAt: number }).loggedInAt = Date.now();
      res.json({ user, expiresAt: sessionExpiry(req), ...routes.loginBody?.(user) });
    });
  });
  app.post('/logout', (req, res, next) => {
    const sessionId = req.sessionID;
    const user = req.user as DemoUser | undefined;
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy(() => {
        (routes.onLogout?.(sessionId, user) ?? Promise.resolve()).then(() => res.json({ ok: true }), next);
      });
    });
  });
}

function sessionExpiry(req: Request): string | undefined {
  const expires = req.session.cookie.expires;
  return expires instanceof Date ? expires.toISOString() : undefined;
}

/**
 * Allowed `Origin`s for cookie handshakes: this server's own page, as
 * `localhost`, `127.0.0.1` or `[::1]` on its port, plus `ALLOWED_ORIGINS`
 * (comma-separated) for a demo behind another host name.
 */
export function ownOrigins(http: HttpServer): (origin: string) => boolean {
  const extra = (process.env.ALLOWED_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  return (origin) => {
    if (extra.includes(origin)) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    const port = (http.address() as AddressInfo | null)?.port;
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) && url.port === String(port);
  };
}

/** The session strategy's `issuedAt`: when `/login` stamped this session. */
export function loggedInAt(session: SessionRecord): number | undefined {
  return typeof session.loggedInAt === 'number' ? session.loggedInAt : undefined;
}
