/**
 * @socket.io/admin-ui beside sockpass: its `/admin` namespace behind a
 * sockpass chain (the session cookie, admins only), and what the dashboard
 * receives, read by a real client socket on `/admin` as the admin UI opens
 * it. In development mode the admin UI sends every socket's handshake
 * headers and query and every event it receives; with `concealCredentials`
 * no token and no session cookie is among them.
 */
import { instrument } from '@socket.io/admin-ui';
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import { AuthError, SockPass, concealCredentials, jwtAuth, jwtAuthenticateEvent, jwtHeader, jwtQuery, sessionCookie, type SockPassMiddleware } from 'sockpass';
import { codeOf, once, sleep } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import { APP_ORIGIN, findUser, startSessionApp, type SessionApp, type TestUser } from '../helpers/session-app.js';

let app: SessionApp | undefined;
afterEach(async () => {
  await app?.server.close();
  app = undefined;
});

async function serve(conceal: boolean, mode: 'development' | 'production' = 'development'): Promise<SessionApp> {
  app = await startSessionApp({
    setup(io, { sessionMiddleware, passport }) {
      instrument(io, { auth: false, mode });
      const user = (claims: Record<string, unknown>) => findUser(String(claims.sub))!;
      const jwt = { secret: SECRET, algorithms: ['HS256' as const], user };
      const auth = new SockPass<TestUser>({ revalidateInterval: 0 })
        .use('session', sessionCookie<TestUser>({ session: sessionMiddleware, passport, allowedOrigins: [APP_ORIGIN] }))
        .use('jwt-auth', jwtAuth(jwt))
        .use('jwt-header', jwtHeader(jwt))
        .use('jwt-query', jwtQuery({ ...jwt, warnUrlLogging: false }))
        .use('event', jwtAuthenticateEvent({ ...jwt, timeout: 10_000 }));
      const hide = (mw: SockPassMiddleware) => (conceal ? concealCredentials(mw) : mw);
      io.use(hide(auth.middleware(['jwt-header', 'jwt-query', 'jwt-auth', 'session', 'event'])));
      // The admin UI's namespace: a logged-in admin's session cookie, nothing else.
      const admin = io.of('/admin');
      admin.use(hide(auth.middleware(['session'])));
      admin.use((socket, next) =>
        (socket.data as { auth?: { user?: TestUser } }).auth?.user?.username === 'alice' ? next() : next(new AuthError('forbidden', 'admins only')),
      );
      io.on('connection', (socket) => socket.on('say', () => undefined));
    },
  });
  return app;
}

interface Watch {
  received: unknown[][];
  dashboard: ClientSocket;
  /** The dashboard's own session cookie value: the admin namespace's sockets are listed too. */
  cookie: string;
}

/** The admin UI's socket: `/admin` with an admin's session cookie, recording every event it receives. */
async function openDashboard(web: SessionApp): Promise<Watch> {
  const { cookie } = await web.login('alice');
  const dashboard = web.server.client('/admin', { extraHeaders: { cookie, origin: APP_ORIGIN } });
  const received: unknown[][] = [];
  dashboard.onAny((...args: unknown[]) => received.push(args));
  await once(dashboard, 'config');
  return { received, dashboard, cookie: cookie.split('=')[1]! };
}

/** Clients of every strategy, each with its credential where that strategy reads it; returns the secrets they carried, by where they travelled. */
async function connectEveryStrategy(web: SessionApp): Promise<Record<string, string>> {
  const tokens = {
    header: hs256({ sub: '2', k: 'h' }),
    query: hs256({ sub: '2', k: 'q' }),
    auth: hs256({ sub: '2', k: 'a' }),
    event: hs256({ sub: '2', k: 'e' }),
    refresh: hs256({ sub: '2', k: 'r' }),
    eventRefresh: hs256({ sub: '2', k: 'er' }),
  };
  const { cookie } = await web.login('bob');
  const clients = [
    web.server.client('/', { extraHeaders: { authorization: `Bearer ${tokens.header}`, 'x-visible': 'shown' } }),
    web.server.client('/', { query: { token: tokens.query } }),
    web.server.client('/', { auth: { token: tokens.auth } }),
    web.server.client('/', { extraHeaders: { cookie, origin: APP_ORIGIN } }),
  ];
  for (const c of clients) await once(c, 'connect');
  const inBand = web.server.client('/');
  await once(inBand, 'connect');
  const authenticated = once(inBand, 'authenticated');
  inBand.emit('authenticate', { token: tokens.event });
  await authenticated;
  // Released from quarantine: the catch-all listeners it queued are attached now, and must still be concealed.
  inBand.emit('auth:refresh', { token: tokens.eventRefresh });
  clients[2]!.emit('auth:refresh', { token: tokens.refresh });
  clients[2]!.emit('say', 'a harmless event');
  // As the Cookie header carries it (URI-encoded), and its signature alone.
  const value = cookie.split('=')[1]!;
  return { ...tokens, cookie: value, signature: value.slice(value.lastIndexOf('.') + 1) };
}

/** Until the dashboard has seen the harmless event (events are delivered in order per socket), within a deadline. */
async function settle(watch: Watch): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!JSON.stringify(watch.received).includes('a harmless event') && Date.now() < deadline) await sleep(20);
  await sleep(100);
}

describe('@socket.io/admin-ui behind sockpass', () => {
  it('puts the admin namespace behind the session chain: no cookie, or a non-admin, is refused', async () => {
    const web = await serve(true);
    expect(await codeOf(web.server.client('/admin'))).toBe('credentials_required');
    const { cookie } = await web.login('bob');
    expect(await codeOf(web.server.client('/admin', { extraHeaders: { cookie, origin: APP_ORIGIN } }))).toBe('forbidden');
    const { dashboard } = await openDashboard(web);
    expect(dashboard.connected).toBe(true);
  });

  it('without concealCredentials, the dashboard receives the Authorization header, the session cookie and in-band tokens', async () => {
    const web = await serve(false);
    const watch = await openDashboard(web);
    const secrets = await connectEveryStrategy(web);
    await settle(watch);
    const shown = JSON.stringify(watch.received);
    expect(shown).toContain('a harmless event');
    const leaked = Object.entries({ ...secrets, dashboard: watch.cookie }).filter(([, s]) => shown.includes(s)).map(([where]) => where);
    // The header token, both session cookies and the in-band refresh token; the query token is taken out by jwt-query, the
    // auth payload is never displayed, and a quarantined socket's catch-all listeners wait until it authenticated.
    expect(leaked.sort()).toEqual(['cookie', 'dashboard', 'eventRefresh', 'header', 'refresh', 'signature']);
  });

  it('with concealCredentials, no token and no session cookie reaches the dashboard, which still shows sockets, headers and events', async () => {
    const web = await serve(true);
    const watch = await openDashboard(web);
    const secrets = await connectEveryStrategy(web);
    await settle(watch);
    const shown = JSON.stringify(watch.received);
    expect(shown).toContain('a harmless event');
    expect(shown).toContain('"x-visible":"shown"');
    expect(shown).toContain('[hidden]');
    expect(watch.received.filter(([event]) => event === 'socket_connected').length).toBeGreaterThanOrEqual(5);
    const all = Object.values({ ...secrets, dashboard: watch.cookie });
    expect(all.filter((s) => shown.includes(s))).toEqual([]);
    // The sockets a new dashboard lists at once (all_sockets) are concealed too.
    const late = await openDashboard(web);
    await sleep(200);
    const listed = JSON.stringify(late.received);
    expect(listed).toContain('all_sockets');
    expect(all.filter((s) => listed.includes(s))).toEqual([]);
  });

  it('in production mode the dashboard gets figures only: no socket, no header, no event', async () => {
    const web = await serve(false, 'production');
    const watch = await openDashboard(web);
    const secrets = await connectEveryStrategy(web);
    await sleep(300);
    const shown = JSON.stringify(watch.received);
    expect(watch.received.map(([event]) => event)).not.toContain('socket_connected');
    expect(shown).not.toContain('a harmless event');
    expect(Object.values({ ...secrets, dashboard: watch.cookie }).filter((s) => shown.includes(s))).toEqual([]);
  });
});
