/**
 * Handshake limits shared between nodes: two Socket.IO servers, each with its
 * own SockPass and its own node-redis v5 client, count refusals in one real
 * redis-server. When Redis goes away, each node keeps limiting on its own.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, handshakeLimits, jwtAuth, type HandshakeLimitsOptions, type Strategy } from 'sockpass';
import { rawHandshake } from '../helpers/raw-client.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { codeOf, outcome, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let redis: RedisServer;
let nodes: TestServer[] = [];
const clients: Array<{ destroy(): void }> = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  nodes = [];
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  await redis?.stop();
});

/** How often each node's strategy judged a handshake. */
const judged = new Map<TestServer, { runs: number }>();

async function startNode(keyPrefix: string, limits: HandshakeLimitsOptions = {}): Promise<TestServer> {
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: 100 } });
  client.on('error', () => {}); // outages are part of the test
  clients.push(client);
  await client.connect();
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const counted = { runs: 0 };
  const strategy: Strategy = {
    ...jwt,
    authenticate: (ctx) => {
      counted.runs++;
      return jwt.authenticate(ctx);
    },
  };
  const auth = new SockPass({
    rateLimit: handshakeLimits({ redis: client, keyPrefix, address: { points: 4, duration: 60 }, ...limits }),
  }).use('jwt-auth', strategy);
  const node = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  nodes.push(node);
  judged.set(node, counted);
  return node;
}

const connect = (node: TestServer, token: string) => codeOf(node.client('/', { auth: { token } }));

describe('handshake limits on Redis', () => {
  it('shares the count of refused handshakes between two nodes', async () => {
    const a = await startNode('shared');
    const b = await startNode('shared');
    for (let i = 0; i < 2; i++) expect(await connect(a, 'bad')).toBe('invalid_token');
    for (let i = 0; i < 2; i++) expect(await connect(b, 'bad')).toBe('invalid_token');
    expect(await connect(a, hs256())).toBe('rate_limited');
    expect(await connect(b, hs256())).toBe('rate_limited');
  });

  it('holds 150 websockets opened together on two nodes to the shared limit', async () => {
    const a = await startNode('burst');
    const b = await startNode('burst');
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) => rawHandshake((i % 2 === 0 ? a : b).url, { authText: JSON.stringify({ token: 'forged' }) }, 20_000)),
    );
    const runs = judged.get(a)!.runs + judged.get(b)!.runs;
    expect(runs).toBeLessThanOrEqual(4);
    const limited = answers.filter((o) => o.kind === 'refused' && o.code === 'rate_limited');
    expect(limited).toHaveLength(150 - runs);
    for (const o of limited) expect((o as { data: { retryAfter?: number } }).data.retryAfter).toBeGreaterThan(0);
  }, 60_000);

  it('keeps limiting on each node while Redis hangs (SIGSTOP), answering within the Redis deadline', async () => {
    const a = await startNode('hung', { storeTimeout: 200 });
    expect(await connect(a, hs256())).toBe('connected');
    redis.pause();
    try {
      const answered: number[] = [];
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const started = Date.now();
        codes.push(await codeOf(a.client('/', { auth: { token: 'bad' } }), 10_000));
        answered.push(Date.now() - started);
      }
      expect(codes).toEqual(['invalid_token', 'invalid_token', 'invalid_token', 'invalid_token', 'rate_limited', 'rate_limited']);
      expect(judged.get(a)!.runs).toBe(5);
      // Bounded by the deadline, not by Redis: generous for a loaded machine, far below "forever".
      expect(Math.max(...answered)).toBeLessThan(3000);
      const refused = await outcome(a.client('/', { auth: { token: hs256() } }), 10_000);
      expect(refused.connected ? undefined : refused.error.data?.retryAfter).toBeGreaterThan(0);
    } finally {
      redis.resume();
    }
    // The points queued while Redis was frozen land now and are given back: another node is not locked out by them.
    const b = await startNode('hung', { storeTimeout: 200 });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await connect(b, hs256())) !== 'connected') await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 4; i++) expect(await connect(b, 'bad')).toBe('invalid_token');
    expect(await connect(b, 'bad')).toBe('rate_limited');
  }, 60_000);

  it('keeps limiting on each node when Redis is down, and serves valid clients meanwhile', async () => {
    const a = await startNode('outage');
    await redis.stop();
    try {
      expect(await connect(a, hs256())).toBe('connected');
      for (let i = 0; i < 4; i++) expect(await connect(a, 'bad')).toBe('invalid_token');
      expect(await connect(a, hs256())).toBe('rate_limited');
    } finally {
      await redis.restart();
    }
  });
});
