/**
 * The compare demo (`npm start`): one login, then one socket per strategy,
 * side by side, each strategy on its own namespace with its own chain. The
 * page shows for each the round trips and time of the handshake, where the
 * credential travelled, the token's countdown and in-band refreshes, and what
 * a forged or expired credential gets. Two more columns combine the cookie
 * and the token: a chain that requires both for the same user (mode `all`),
 * and the migration chain (mode `first`: the token, else the cookie).
 *
 * Embedded defaults: express-session's MemoryStore and Socket.IO's in-memory
 * adapter, so `npm start` needs nothing else running. `REDIS_URL` switches
 * both to Redis (connect-redis + @socket.io/redis-adapter).
 *
 * Run: `npm start` (PORT default 3000, TOKEN_TTL default 30 s, REDIS_URL optional).
 */
import type { Namespace } from 'socket.io';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, jwtQuery, sessionCookie, type JwtVerifyOptions, type Mode, type Strategy } from 'sockpass';
import { connectBacking } from './backing.js';
import { mountMetricsPanel } from './metrics-panel.js';
import { SESSION_COOKIE, loggedInAt, mountWebLogin, ownOrigins, serveWebLogin } from '../shared/web-login.js';
import {
  findUser,
  refreshBeforeFor,
  runIfMain,
  serveDemoSockets,
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
export const COMPARED = ['jwt-auth', 'jwt-query', 'jwt-header', 'jwt-authenticate-event', 'session'] as const;

/** The combined columns: a namespace each, whose chain runs two of the strategies above. */
export const COMBINED = {
  // Cookie and token, both valid and for the same user (else credentials_required / user_mismatch).
  'cookie-and-token': { chain: ['jwt-auth', 'session'], mode: 'all' },
  // Migration: the first credential present decides, so a bad token is refused even with a good cookie.
  'token-or-cookie': { chain: ['jwt-auth', 'session'], mode: 'first' },
  // Passport's fallthrough: a refused token moves the chain on, so a good cookie still admits.
  'token-else-cookie': { chain: ['jwt-auth', 'session'], mode: 'any' },
} as const satisfies Record<string, { chain: readonly (typeof COMPARED)[number][]; mode: Mode }>;

export function createCompareServer(options: CompareOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 30, async ({ app, http, io, tokens }) => {
    const backing = await connectBacking(options.redisUrl ?? process.env.REDIS_URL);
    mountMetricsPanel(app);
    if (backing.adapter !== undefined) io.adapter(backing.adapter);

    // The web app's own login (express-session + passport); the session strategy reads the same session.
    const web = mountWebLogin(app, { ttlSeconds: options.sessionTtl ?? 1800, store: backing.store });
    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl), metrics: true });
    serveWebLogin(app, {
      loginBody: (user) => ({ ttl: tokens.ttl, ...tokens.issue(user) }),
      // Logging out of the web app cuts every socket of the user, whatever strategy admitted it.
      onLogout: async (_sid, user) => {
        if (user !== undefined) await auth.revoke(io, { user: user.id }, 'you logged out');
      },
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
    // A valid token of the other demo account, for the "token of another user" button.
    app.post('/demo/other-user-token', (req, res) => {
      const user = req.user as DemoUser | undefined;
      if (user === undefined) return void res.status(401).json({ error: 'log in first' });
      res.json(tokens.issue(findUser(user.id === '1' ? '2' : '1')!));
    });

    const jwt: JwtVerifyOptions<DemoUser> = { secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims };
    const strategies: Record<(typeof COMPARED)[number], Strategy<DemoUser>> = {
      'jwt-auth': jwtAuth(jwt),
      'jwt-query': jwtQuery(jwt),
      'jwt-header': jwtHeader(jwt),
      'jwt-authenticate-event': jwtAuthenticateEvent({ ...jwt, timeout: 10_000 }),
      session: sessionCookie({ session: web.sessions, passport: web.passport, name: SESSION_COOKIE, allowedOrigins: ownOrigins(http), issuedAt: loggedInAt }),
    };
    const namespaces: Namespace[] = [];
    for (const name of COMPARED) {
      auth.use(name, strategies[name]);
      const nsp = io.of(`/${name}`);
      nsp.use(auth.middleware([name]));
      serveDemoSockets(auth, nsp);
      namespaces.push(nsp);
    }
    // Rooms by policy on one namespace, for the page's rooms panel: open, admins only, and nothing else.
    auth.rooms(io.of('/jwt-auth'), { lobby: true, admin: (a) => a.user.role === 'admin' });
    for (const [name, { chain, mode }] of Object.entries(COMBINED)) {
      const nsp = io.of(`/${name}`);
      nsp.use(auth.middleware([...chain], { mode }));
      serveDemoSockets(auth, nsp);
      namespaces.push(nsp);
    }
    app.get('/config', (_req, res) => {
      res.json({ strategies: [...COMPARED, ...Object.keys(COMBINED)], combined: COMBINED, tokenTtl: tokens.ttl, refreshBefore: refreshBeforeFor(tokens.ttl), backing: backing.name });
    });

    return { ticker: namespaces, close: backing.close };
  });
}

runIfMain(import.meta.url, 'sockpass compare demo', () => createCompareServer());
