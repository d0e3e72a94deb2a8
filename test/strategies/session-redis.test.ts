/**
 * The `session` strategy on connect-redis 9 with a `redis` v5 client, against
 * a real redis-server on a free port: the same codes as on MemoryStore, an
 * expired record the store still returns, and an outage — cookie handshakes
 * get store_unavailable within the bound while token clients keep
 * connecting, and cookie clients connect again once Redis is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from 'connect-redis';
import { createClient, type RedisClientOptions } from 'redis';
import { SockPass, jwtAuth, sessionCookie, type AuthResult, type SocketAuth } from 'sockpass';
import { codeOf, once, sleep } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import {
  APP_ORIGIN,
  findUser,
  signedCookieFor,
  sidOf,
  startSessionApp,
  tamperSignature,
  type SessionApp,
  type TestUser,
} from '../helpers/session-app.js';

type Redis = ReturnType<typeof createClient>;

let redis: RedisServer;
let app: SessionApp | undefined;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await app?.server.close();
  app = undefined;
  for (const c of clients.splice(0)) c.destroy();
});

let prefixes = 0;

async function redisClient(options: Partial<RedisClientOptions> = {}): Promise<Redis> {
  const client = createClient({
    url: redis.url,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 300) },
    ...options,
  }) as Redis;
  client.on('error', () => {}); // node-redis throws on an 'error' without listener; outages are the point here
  clients.push(client);
  await client.connect();
  return client;
}

interface ServeOptions {
  client: Redis;
  maxAge?: number;
  disableTTL?: boolean;
  storeTimeout?: number;
  spy?: (result: AuthResult<TestUser>) => void;
}

async function serve({ client, maxAge, disableTTL, storeTimeout, spy }: ServeOptions): Promise<SessionApp> {
  const store = new RedisStore({ client, prefix: `sess${++prefixes}:`, ...(disableTTL ? { disableTTL } : {}) });
  app = await startSessionApp({
    store,
    ...(maxAge ? { cookie: { maxAge } } : {}),
    setup(io, { sessionMiddleware, passport }) {
      const session = sessionCookie<TestUser>({ session: sessionMiddleware, passport, allowedOrigins: [APP_ORIGIN], ...(storeTimeout ? { storeTimeout } : {}) });
      const auth = new SockPass<TestUser>()
        .use('session', {
          async authenticate(ctx) {
            const result = await session.authenticate(ctx);
            spy?.(result);
            return result;
          },
        })
        .use('jwt-auth', jwtAuth<TestUser>({ secret: SECRET, algorithms: ['HS256'], user: (claims) => findUser(String(claims.sub))! }));
      io.use(auth.middleware(['session', 'jwt-auth']));
      auth.onAuthenticated(io, (socket) => socket.emit('whoami', socket.data.auth));
    },
  });
  return app;
}

async function waitReady(client: Redis, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!client.isReady) {
    if (Date.now() > until) throw new Error('redis client did not reconnect');
    await sleep(50);
  }
}

describe('session cookie on connect-redis + redis-server', () => {
  it('gives the socket the same user as req.user, from a session that lives in Redis', async () => {
    const client = await redisClient();
    const web = await serve({ client });
    const { cookie, me } = await web.login();
    expect(await client.get(`sess${prefixes}:${sidOf(cookie)}`)).toContain('"passport"');
    const auth = await once<SocketAuth<TestUser>>(web.cookieClient(cookie), 'whoami');
    expect(auth.user).toEqual(me);
    expect(auth.strategy).toBe('session');
    expect(auth.session).toBe(sidOf(cookie));
  });

  it('gives each bad cookie its own code', async () => {
    const client = await redisClient();
    const web = await serve({ client });
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(tamperSignature(cookie)))).toBe('invalid_token');
    expect(await codeOf(web.cookieClient(signedCookieFor('not-a-session-in-redis')))).toBe('session_not_found');
    expect(await codeOf(web.cookieClient(cookie, { origin: 'https://evil.example' }))).toBe('origin_not_allowed');
    expect(await codeOf(web.cookieClient(await web.visit()))).toBe('credentials_required');
    const after = await web.logout(cookie);
    expect(await codeOf(web.cookieClient(after!))).toBe('credentials_required');
    expect(await codeOf(web.cookieClient(cookie))).toBe('session_not_found');
  });

  it('an expired session: gone by TTL is session_not_found; a record Redis still holds (disableTTL) is session_expired', async () => {
    const client = await redisClient();
    const keeping = await serve({ client, maxAge: 1000, disableTTL: true });
    const keepingPrefix = `sess${prefixes}:`;
    const kept = await keeping.login();
    const web = await serve({ client, maxAge: 1000 }); // the default: connect-redis sets a TTL from the cookie expiry
    try {
      const byTtl = await web.login();
      expect(await client.exists(`sess${prefixes}:${sidOf(byTtl.cookie)}`)).toBe(1);
      await sleep(1300);
      expect(await client.exists(`sess${prefixes}:${sidOf(byTtl.cookie)}`)).toBe(0);
      expect(await codeOf(web.cookieClient(byTtl.cookie))).toBe('session_not_found');
      expect(await client.exists(`${keepingPrefix}${sidOf(kept.cookie)}`)).toBe(1);
      expect(await codeOf(keeping.cookieClient(kept.cookie))).toBe('session_expired');
    } finally {
      await keeping.server.close();
    }
  });

  describe.each([
    ['disableOfflineQueue: true (fails fast)', { disableOfflineQueue: true }],
    ['the default offline queue (commands wait for a reconnect)', {}],
  ])('Redis outage, client with %s', (_label, clientOptions) => {
    it('cookie handshakes get store_unavailable within the bound while a token client connects; after a restart cookie clients connect again', async () => {
      const client = await redisClient(clientOptions);
      const storeTimeout = 1000;
      const web = await serve({ client, storeTimeout });
      const { cookie, me } = await web.login();
      expect(await codeOf(web.cookieClient(cookie))).toBe('connected');

      await redis.stop();
      try {
        const started = Date.now();
        expect(await codeOf(web.cookieClient(cookie), 10_000)).toBe('store_unavailable');
        const took = Date.now() - started;
        expect(took).toBeLessThan(storeTimeout + 750);

        const token = web.server.client('/', { auth: { token: hs256({ sub: '1' }) } });
        const viaToken = await once<SocketAuth<TestUser>>(token, 'whoami');
        expect(viaToken.strategy).toBe('jwt-auth');
        expect(viaToken.user).toEqual(me);
      } finally {
        await redis.restart();
      }

      await waitReady(client);
      // redis-server runs without persistence: the old session died with it, and says so.
      expect(await codeOf(web.cookieClient(cookie))).toBe('session_not_found');
      const again = await web.login();
      const auth = await once<SocketAuth<TestUser>>(web.cookieClient(again.cookie), 'whoami');
      expect(auth.user).toEqual(me);
    });
  });

  it('revalidate reports store_unavailable during an outage instead of hanging', async () => {
    const client = await redisClient({ disableOfflineQueue: false });
    const results: AuthResult<TestUser>[] = [];
    const web = await serve({ client, storeTimeout: 500, spy: (r) => results.push(r) });
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(cookie))).toBe('connected');
    const admitted = results.at(-1) as Extract<AuthResult<TestUser>, { kind: 'success' }>;
    expect((await admitted.revalidate!()).kind).toBe('success');
    await redis.stop();
    try {
      const started = Date.now();
      const r = await admitted.revalidate!();
      expect(r.kind === 'fail' && r.error.code).toBe('store_unavailable');
      expect(Date.now() - started).toBeLessThan(500 + 500);
    } finally {
      await redis.restart();
    }
    await waitReady(client);
  });
});
