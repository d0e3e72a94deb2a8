/**
 * The Redis revocation ledger on a real 3-master Redis Cluster started on
 * loopback (test/helpers/redis-cluster.ts): each ledger stands for one node
 * with its own `createCluster` client. Keys are spread over the masters by
 * hash tag; the load SCANs every master; changes travel by sharded pub/sub.
 */
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, redisLedger, type RedisLedgerOptions, type RevocationLedger } from 'sockpass';
import { startRedisCluster, type RedisClusterServer } from '../helpers/redis-cluster.js';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type Cluster = ReturnType<typeof createCluster>;

let cluster: RedisClusterServer;
const clients: Cluster[] = [];
const servers: TestServer[] = [];
/** The sharded adapters' subscriber connections. */
const adapterSubs: Cluster[] = [];
const ledgers: RevocationLedger[] = [];
let prefixCount = 0;
let prefix = '';

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterEach(async () => {
  // The sharded adapter's close() unsubscribes its channels together without awaiting, and node-redis 5
  // then destroys a shard's pub/sub client twice (an unhandled rejection): its subscriber connection is
  // destroyed instead, which drops every subscription at once.
  for (const s of servers) {
    for (const nsp of (s.io as unknown as { _nsps: Map<string, { adapter: { close(): unknown } }> })._nsps.values()) nsp.adapter.close = () => undefined;
  }
  for (const sub of adapterSubs.splice(0)) sub.destroy();
  await Promise.allSettled(servers.splice(0).map((s) => s.close()));
  await Promise.allSettled(ledgers.splice(0).map((l) => l.close()));
  // close(), not destroy(): commands still in flight (the adapter's unsubscribes) settle instead of rejecting unheard.
  await Promise.allSettled(clients.splice(0).map((c) => Promise.race([c.close(), sleep(2_000)]).then(() => c.isOpen && c.destroy())));
});
afterAll(async () => {
  await cluster?.stop();
});

function nextPrefix(): string {
  prefix = `c${++prefixCount}:revoked:`;
  return prefix;
}

async function clusterClient(): Promise<Cluster> {
  const c = createCluster({ rootNodes: cluster.rootNodes });
  c.on('error', () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

async function node(options: Partial<RedisLedgerOptions> = {}) {
  const client = await clusterClient();
  const ledger = redisLedger({ client, prefix, onError: () => undefined, ...options });
  ledgers.push(ledger);
  return { client, ledger };
}

const HOUR = 3_600_000;
const revocation = (kind: 'user' | 'session' | 'token', id: string, ttl = HOUR) => ({ kind, id, at: Date.now(), until: Date.now() + ttl });

async function timeUntil(check: () => boolean, limit = 5_000): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > limit) throw new Error(`not true within ${limit} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - start;
}

/** How many of the test prefix's keys each master holds. */
async function keysPerMaster(): Promise<number[]> {
  const counts: number[] = [];
  for (const port of cluster.ports) {
    const out = await cluster.cli(port, '--scan', '--pattern', `{${prefix}*`);
    counts.push(out.split('\n').filter((l) => l.length > 0).length);
  }
  return counts;
}

describe('redisLedger on a Redis Cluster', () => {
  it('shows a revocation recorded on node A on node B (sharded pub/sub), with keys on every master', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const windows: number[] = [];
    for (let i = 0; i < 60; i++) {
      await a.ledger.record(revocation('user', `u${i}`));
      expect(a.ledger.isRevoked({ user: `u${i}` })).toBeDefined();
      windows.push(await timeUntil(() => b.ledger.isRevoked({ user: `u${i}` }) !== undefined));
    }
    windows.sort((x, y) => x - y);
    console.log(`[redis-ledger cluster] propagation A → B over 60 revocations: median ${windows[30]!.toFixed(2)} ms, max ${windows.at(-1)!.toFixed(2)} ms`);
    const counts = await keysPerMaster();
    console.log(`[redis-ledger cluster] keys per master: ${counts.join(', ')}`);
    expect(counts.every((n) => n > 0)).toBe(true);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(60);
  });

  it('merges one target recorded on two nodes into one entry (one key, one slot)', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const t = Date.now();
    await a.ledger.record({ kind: 'token', id: 'jti-1', at: t + 5_000, until: t + HOUR });
    await b.ledger.record({ kind: 'token', id: 'jti-1', at: t, until: t + 2 * HOUR });
    const merged = { kind: 'token', id: 'jti-1', at: t + 5_000, until: t + 2 * HOUR };
    await timeUntil(() => a.ledger.isRevoked({ tokenId: 'jti-1' })?.until === t + 2 * HOUR);
    expect(a.ledger.isRevoked({ tokenId: 'jti-1' })).toEqual(merged);
    expect(b.ledger.isRevoked({ tokenId: 'jti-1' })).toEqual(merged);
    expect((await keysPerMaster()).reduce((x, y) => x + y, 0)).toBe(1);
  });

  it('a third node started after 200 revocations spread over the slots refuses every one', async () => {
    nextPrefix();
    const a = await node();
    await a.ledger.ready();
    const kinds = ['user', 'session', 'token'] as const;
    const recorded = Array.from({ length: 200 }, (_, i) => ({ kind: kinds[i % 3]!, id: `id-${i}:${'x'.repeat(i % 7)}` }));
    for (const r of recorded) await a.ledger.record(revocation(r.kind, r.id));
    const counts = await keysPerMaster();
    console.log(`[redis-ledger cluster] 200 revocations, keys per master: ${counts.join(', ')}`);
    expect(counts.every((n) => n > 0)).toBe(true);
    const late = await node({ loadBatch: 7 });
    expect(late.ledger.trusted).toBe(false);
    await late.ledger.ready();
    expect(late.ledger.size).toBe(200);
    for (const r of recorded) {
      const facts = r.kind === 'user' ? { user: r.id } : r.kind === 'session' ? { session: r.id } : { tokenId: r.id };
      expect(late.ledger.isRevoked(facts)).toMatchObject({ kind: r.kind, id: r.id });
    }
  });

  it('revokes a user on Socket.IO node A: cut on node B through the sharded adapter, and refused there at the next handshake', async () => {
    nextPrefix();
    const startNode = async () => {
      const { client, ledger } = await node();
      const sub = client.duplicate();
      sub.on('error', () => undefined);
      adapterSubs.push(sub);
      await sub.connect();
      await ledger.ready();
      const auth = new SockPass({ ledger }).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
      const server = await startServer((io) => {
        // 'static': one channel per namespace. The default per-room mode unsubscribes as rooms empty, and
        // two of those racing on one shard make node-redis 5 destroy its pub/sub client twice.
        io.adapter(createShardedAdapter(client, sub, { subscriptionMode: 'static' }));
        io.use(auth.middleware('jwt'));
      });
      servers.push(server);
      return { auth, server, ledger };
    };
    const a = await startNode();
    const b = await startNode();
    const token = hs256({ sub: 'alice' });
    const onB = b.server.client('/', { auth: { token } });
    expect(await codeOf(onB)).toBe('connected');
    // The sharded adapter subscribes per namespace on its first socket: let node A's subscription settle too.
    expect(await codeOf(a.server.client('/', { auth: { token: hs256({ sub: 'bob' }) } }))).toBe('connected');
    await sleep(200);
    const cut = once<{ code: string }>(onB, 'auth:revoked');
    await a.auth.revoke(a.server.io, { user: 'alice' });
    expect((await cut).code).toBe('token_revoked');
    await timeUntil(() => b.ledger.isRevoked({ user: 'alice', issuedAt: Date.now() - 5_000 }) !== undefined);
    expect(await codeOf(b.server.client('/', { auth: { token } }))).toBe('token_revoked');
    expect(await codeOf(b.server.client('/', { auth: { token: hs256({ sub: 'carol' }) } }))).toBe('connected');
  });

  it('untrusts a node when one master stalls (SIGSTOP), within heartbeat + timeout, and trusts it again after', async () => {
    nextPrefix();
    const b = await node({ heartbeat: 200, timeout: 300 });
    await b.ledger.ready();
    const master = cluster.ports[1]!;
    cluster.pause(master);
    try {
      const untrustedIn = await timeUntil(() => !b.ledger.trusted, 500 + 1_500);
      console.log(`[redis-ledger cluster] one master SIGSTOPped: untrusted ${untrustedIn.toFixed(0)} ms after (bound heartbeat 200 + timeout 300 ms)`);
    } finally {
      cluster.resume(master);
    }
    await b.ledger.ready();
    expect(b.ledger.trusted).toBe(true);
  });

  it('refuses a prefix with braces (it would put every entry in one slot)', async () => {
    const client = await clusterClient();
    expect(() => redisLedger({ client, prefix: '{app}:revoked:' })).toThrow(TypeError);
  });
});
