/**
 * The compare demo (`npm start`): one login, then one socket per strategy,
 * side by side, each strategy on its own namespace with its own chain. The
 * page shows for each the round trips and time of the handshake, where the
 * credential travelled, the token's countdown and in-band refreshes, and what
 * a forged or expired credential gets.
 *
 * Embedded defaults: express-session's MemoryStore and Socket.IO's in-memory
 * adapter, so `npm start` needs nothing else running. `REDIS_URL` switches
 * both to Redis (connect-redis + @socket.io/redis-adapter).
 *
 * Run: `npm start` (PORT default 3000, TOKEN_TTL default 30 s, REDIS_URL optional).
 */
import { randomBytes } from 'node:crypto';
import session from 'express-session';
import passport from 'passport';
import type { Namespace, Socket } from 'socket.io';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, jwtQuery, type JwtVerifyOptions, type Strategy } from 'sockpass';
import { connectBacking } from './backing.js';
import {
  findUser,
  checkPassword,
  refreshBeforeFor,
  runIfMain,
  serveMessages,
  startExample,
  userFromClaims,
  type DemoUser,
  type ExampleOptions,
  type ExampleServer,
} from '../shared/example-app.js';

export interface CompareOptions extends ExampleOptions {
  /** Redis for sessions and the adapter. Default: `REDIS_URL`, else the embedded defaults. */
  redisUrl?: string;
  /** Seconds a login session lives. Default 30 minutes. */
  sessionTtl?: number;
}

/** Names of the strategies on the page, in column order; each is also its namespace. */
export const COMPARED = ['jwt-auth', 'jwt-query', 'jwt-header', 'jwt-authenticate-event'] as const;

export function createCompareServer(options: CompareOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 30, async ({ app, io, tokens }) => {
    const backing = await connectBacking(options.redisUrl ?? process.env.REDIS_URL);
    if (backing.adapter !== undefined) io.adapter(backing.adapter);

    // The web app's own login: express-session + passport, as the session strategy will read it.
    const logins = new passport.Passport();
    logins.serializeUser<string>((user, done) => done(null, (user as DemoUser).id));
    logins.deserializeUser<string>((id, done) => done(null, findUser(id) ?? false));
    const sessions = session({
      name: 'sockpass.sid',
      secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
      store: backing.store,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: (options.sessionTtl ?? 1800) * 1000 },
    });
    app.use(sessions, logins.initialize(), logins.session());

    app.post('/login', (req, res, next) => {
      const user = checkPassword(req.body?.username, req.body?.password);
      if (user === undefined) return void res.status(401).json({ error: 'wrong username or password' });
      req.login(user, (err) => (err ? next(err) : res.json({ user, ttl: tokens.ttl, ...tokens.issue(user) })));
    });
    // The session is the refresh credential: a logged-in page can always get a fresh token.
    app.post('/token', (req, res) => {
      const user = req.user as DemoUser | undefined;
      if (user === undefined) return void res.status(401).json({ error: 'log in first' });
      res.json({ user, ttl: tokens.ttl, ...tokens.issue(user) });
    });
    app.post('/demo/expired-token', (req, res) => {
      const user = req.user as DemoUser | undefined;
      if (user === undefined) return void res.status(401).json({ error: 'log in first' });
      res.json(tokens.issueExpired(user));
    });
    app.post('/logout', (req, res, next) => {
      req.logout((err) => (err ? next(err) : req.session.destroy(() => res.json({ ok: true }))));
    });

    const jwt: JwtVerifyOptions<DemoUser> = { secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims };
    const strategies: Record<(typeof COMPARED)[number], Strategy<DemoUser>> = {
      'jwt-auth': jwtAuth(jwt),
      'jwt-query': jwtQuery(jwt),
      'jwt-header': jwtHeader(jwt),
      'jwt-authenticate-event': jwtAuthenticateEvent({ ...jwt, timeout: 10_000 }),
    };
    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) });
    const namespaces: Namespace[] = [];
    for (const name of COMPARED) {
      auth.use(name, strategies[name]);
      const nsp = io.of(`/${name}`);
      nsp.use(auth.middleware([name]));
      auth.onAuthenticated<Socket>(nsp, (socket) => {
        socket.emit('hello', { ...socket.data.auth, transport: socket.conn.transport.name });
        serveMessages(nsp, socket, socket.data.auth.user);
      });
      namespaces.push(nsp);
    }
    app.get('/config', (_req, res) => {
      res.json({ strategies: COMPARED, tokenTtl: tokens.ttl, refreshBefore: refreshBeforeFor(tokens.ttl), backing: backing.name });
    });

    return { ticker: namespaces, close: backing.close };
  });
}

runIfMain(import.meta.url, 'sockpass compare demo', () => createCompareServer());
