/**
 * Handshake limits on a real 3-master Redis Cluster started on loopback
 * (test/helpers/redis-cluster.ts): two Socket.IO servers, each with its own
 * SockPass and its own node-redis `createCluster` client, share the counts of
 * refused handshakes, hold a burst split over both to the limit, and every
 * key's operations (spend, refund, block, read) land on the master of its slot.
 */
import { createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, handshakeLimits, jwtAuth, type HandshakeLimitsOptions, type Strategy } from 'sockpass';
import { rawHandshake } from '../helpers/raw-client.js';
import { startRedisCluster, type RedisClusterServer } from '../helpers/redis-cluster.js';
import { codeOf, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

type Cluster = ReturnType<typeof createCluster>;

let cluster: RedisClusterServer;
let nodes: TestServer[] = [];
const clients: Cluster[] = [];
/** How often each node's strategy judged a handshake. */
const judged = new Map<TestServer, { runs: number }>();

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterEach(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  nodes = [];
  await Promise.allSettled(clients.splice(0).map((c) => Promise.race([c.close(), sleep(2_000)]).then(() => c.isOpen && c.destroy())));
});
afterAll(async () => {
  await cluster?.stop();
});

async function startNode(keyPrefix: string, limits: HandshakeLimitsOptions = {}): Promise<TestServer> {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
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

/** Keys matching `pattern` on every master of the cluster. */
async function keysOnMasters(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const port of cluster.ports) {
    const out = await cluster.cli(port, '--scan', '--pattern', pattern);
    found.push(...out.split('\n').filter(Boolean));
  }
  return found;
}

describe('handshake limits on a Redis Cluster', () => {
  it('shares the count of refused handshakes between two nodes', async () => {
    const a = await startNode('shared');
    const b = await startNode('shared');
    for (let i = 0; i < 2; i++) expect(await connect(a, 'bad')).toBe('invalid_token');
    for (let i = 0; i < 2; i++) expect(await connect(b, 'bad')).toBe('invalid_token');
    expect(await connect(a, hs256())).toBe('rate_limited');
    expect(await connect(b, hs256())).toBe('rate_limited');
    expect(await keysOnMasters('*shared:address*')).toHaveLength(1);
  });

  it('gives a success its point back on the cluster, so valid clients are never limited', async () => {
    const a = await startNode('refund');
    const b = await startNode('refund');
    for (let i = 0; i < 10; i++) expect(await connect(i % 2 === 0 ? a : b, hs256())).toBe('connected');
    for (let i = 0; i < 4; i++) expect(await connect(i % 2 === 0 ? a : b, 'bad')).toBe('invalid_token');
    expect(await connect(b, 'bad')).toBe('rate_limited');
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
  }, 60_000);

  it('blocks a subject on every node once its last point went to a refusal, with blockDuration', async () => {
    const limits: HandshakeLimitsOptions = { address: false, subject: { points: 2, duration: 60, blockDuration: 120 } };
    const a = await startNode('subject', limits);
    const b = await startNode('subject', limits);
    const expired = hs256({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) - 60 });
    expect(await connect(a, expired)).toBe('token_expired');
    expect(await connect(b, expired)).toBe('token_expired');
    // Read before any work, on the other node too: refused without running the strategy.
    const before = judged.get(a)!.runs;
    expect(await connect(a, hs256({ sub: 'mallory' }))).toBe('rate_limited');
    expect(judged.get(a)!.runs).toBe(before);
    const deadline = Date.now() + 5_000;
    let key: string[] = [];
    while (Date.now() < deadline && (key = await keysOnMasters('*subject*mallory*')).length === 0) await sleep(50);
    expect(key.length).toBeGreaterThan(0);
  });
});
