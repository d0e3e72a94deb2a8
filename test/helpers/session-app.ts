/**
 * A real web app for the cookie tests: express + express-session (any store)
 * + passport-local, with `/login`, `/logout`, `/me` and `/visit`, sharing its
 * HTTP server with a real Socket.IO server. Tests log in over HTTP with fetch
 * to get the real signed cookie, then hand it to a real socket.io-client.
 */
import { createHmac } from 'node:crypto';
import express from 'express';
import session, { type CookieOptions, type SessionOptions, type Store } from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Server } from 'socket.io';
import { startServer, type ClientOptions, type TestServer } from './server.js';

export interface TestUser {
  id: string;
  username: string;
  name: string;
}

export const SESSION_SECRET = 'session-secret-for-tests-only';
export const APP_ORIGIN = 'http://app.example';

const USERS: Record<string, { password: string; user: TestUser }> = {
  alice: { password: 'wonderland', user: { id: '1', username: 'alice', name: 'Alice' } },
  bob: { password: 'builder', user: { id: '2', username: 'bob', name: 'Bob' } },
};

export interface SessionAppOptions {
  store?: Store;
  cookie?: CookieOptions;
  /** More express-session options (`rolling`, `resave`, …). */
  sessionOptions?: Partial<SessionOptions>;
  /** Wires Socket.IO; gets the app's session middleware and passport instance. */
  setup(io: Server, parts: { sessionMiddleware: express.RequestHandler; passport: passport.PassportStatic }): unknown;
}

export interface SessionApp {
  server: TestServer;
  passport: passport.PassportStatic;
  /** Logs in over HTTP; returns the `name=value` Cookie header and what `/me` (req.user) says. */
  login(username?: string, password?: string): Promise<{ cookie: string; me: TestUser }>;
  /** Logs out over HTTP; returns the cookie of the session the browser holds afterwards. */
  logout(cookie: string): Promise<string | undefined>;
  /** An anonymous session: the app stored something, nobody logged in. */
  visit(): Promise<string>;
  /** A client sending `cookie` (and `origin`, default the app's origin). */
  cookieClient(cookie: string, options?: ClientOptions & { origin?: string | null }): ReturnType<TestServer['client']>;
}

/** Users a deserializer loads fresh on every call, as a database would. */
export function findUser(id: string): TestUser | undefined {
  const entry = Object.values(USERS).find((u) => u.user.id === id);
  return entry ? { ...entry.user } : undefined;
}

export async function startSessionApp(options: SessionAppOptions): Promise<SessionApp> {
  const authenticator = new passport.Passport() as unknown as passport.PassportStatic;
  authenticator.use(
    new LocalStrategy((username, password, done) => {
      const entry = USERS[username];
      done(null, entry && entry.password === password ? { ...entry.user } : false);
    }),
  );
  authenticator.serializeUser((user, done) => done(null, (user as TestUser).id));
  authenticator.deserializeUser((id: string, done) => done(null, findUser(id) ?? false));

  const sessionMiddleware = session({
    secret: SESSION_SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: options.cookie ?? {},
    ...(options.store ? { store: options.store } : {}),
    ...options.sessionOptions,
  });
  const app = express();
  app.use(express.json());
  app.use(sessionMiddleware);
  app.use(authenticator.session());
  app.post('/login', authenticator.authenticate('local'), (req, res) => {
    // When this login happened, for the session strategy's `issuedAt` (revoke({ user }) judges by it).
    (req.session as unknown as Record<string, unknown>).loggedInAt = Date.now();
    res.json({ user: req.user });
  });
  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.get('/me', (req, res) => {
    if (req.user) res.json(req.user);
    else res.status(401).json({ error: 'not logged in' });
  });
  app.post('/visit', (req, res) => {
    (req.session as unknown as Record<string, unknown>).visited = Date.now();
    res.json({ ok: true });
  });

  // startServer's handler parameter is typed as createServer's options overload; an Express app is the listener form.
  const server = await startServer((io) => options.setup(io, { sessionMiddleware, passport: authenticator }), {}, app as never);

  const cookieFrom = (res: Response) => {
    const line = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
    return line?.split(';', 1)[0];
  };

  return {
    server,
    passport: authenticator,
    async login(username = 'alice', password = USERS[username]?.password ?? '') {
      const res = await fetch(`${server.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      await res.arrayBuffer(); // an unread body keeps the connection busy and server.close() waiting
      if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
      const cookie = cookieFrom(res);
      if (cookie === undefined) throw new Error('login set no session cookie');
      const me = await fetch(`${server.url}/me`, { headers: { cookie } });
      return { cookie, me: (await me.json()) as TestUser };
    },
    async logout(cookie) {
      const res = await fetch(`${server.url}/logout`, { method: 'POST', headers: { cookie } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`logout failed: ${res.status}`);
      return cookieFrom(res);
    },
    async visit() {
      const res = await fetch(`${server.url}/visit`, { method: 'POST' });
      await res.arrayBuffer();
      const cookie = cookieFrom(res);
      if (cookie === undefined) throw new Error('visit set no session cookie');
      return cookie;
    },
    cookieClient(cookie, { origin = APP_ORIGIN, ...rest } = {}) {
      const extraHeaders: Record<string, string> = { cookie };
      if (origin !== null) extraHeaders.origin = origin;
      return server.client('/', { ...rest, extraHeaders });
    },
  };
}

/**
 * `connect.sid=s:<sid>.<sig>` for any sid, signed with the app's real secret
 * the way cookie-signature (express-session's signer) does: a valid cookie
 * for a session that may not exist.
 */
export function signedCookieFor(sid: string, secret = SESSION_SECRET): string {
  const sig = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return `connect.sid=${encodeURIComponent(`s:${sid}.${sig}`)}`;
}

/** The same cookie with one character of its signature changed. */
export function tamperSignature(cookie: string): string {
  const [name, encoded] = cookie.split('=', 2) as [string, string];
  const value = decodeURIComponent(encoded);
  const last = value.at(-1) === 'A' ? 'B' : 'A';
  return `${name}=${encodeURIComponent(value.slice(0, -1) + last)}`;
}

/** The sid a `connect.sid=s:<sid>.<sig>` cookie names. */
export function sidOf(cookie: string): string {
  const value = decodeURIComponent(cookie.split('=', 2)[1]!);
  return value.slice(2, value.lastIndexOf('.'));
}
