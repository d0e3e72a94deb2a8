/**
 * Handshake limits shared between nodes: two Socket.IO servers, each with its
 * own SockPass and its own node-redis v5 client, count refusals in one real
 * redis-server. When Redis goes away, each node keeps limiting on its own.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, handshakeLimits, jwtAuth } from 'sockpass';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
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

async function startNode(keyPrefix: string): Promise<TestServer> {
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: 100 } });
  client.on('error', () => {}); // outages are part of the test
  clients.push(client);
  await client.connect();
  const auth = new SockPass({
    rateLimit: handshakeLimits({ redis: client, keyPrefix, address: { points: 4, duration: 60 } }),
  }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const node = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  nodes.push(node);
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
