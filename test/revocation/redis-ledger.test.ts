/**
 * The Redis revocation ledger on a real redis-server: two ledgers stand for two
 * nodes (each with its own node-redis client, as two processes would have).
 * Covers propagation (and prints the window), the initial load, an outage
 * (record rejects within its bound, the mirror keeps answering), the resync
 * after a reconnect, expiry in Redis and in the mirror, and a 100,000-entry load.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, redisLedger, type RedisLedgerOptions, type RevocationLedger } from 'sockpass';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { sleep } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { fillRevocations } from '../helpers/revocations.js';

type Client = ReturnType<typeof createClient>;

let redis: RedisServer;
const clients: Client[] = [];
const ledgers: RevocationLedger[] = [];
let prefixCount = 0;
let prefix = '';

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.allSettled(ledgers.splice(0).map((l) => l.close()));
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  await redis?.stop();
});

/** A fresh key prefix per test, so tests on one redis-server share nothing. */
function nextPrefix(): string {
  prefix = `t${++prefixCount}:revoked:`;
  return prefix;
}

async function client(options: Parameters<typeof createClient>[0] = {}): Promise<Client> {
  const c = createClient({ url: redis.url, ...options });
  c.on('error', () => undefined); // outages are expected here; the ledger reports through onError
  clients.push(c);
  await c.connect();
  return c;
}

/** One node: its own client and ledger on the test's prefix. */
async function node(options: Partial<RedisLedgerOptions> & { clientOptions?: Parameters<typeof createClient>[0] } = {}) {
  const { clientOptions, ...ledgerOptions } = options;
  const c = await client(clientOptions);
  const ledger = redisLedger({ client: c, prefix, onError: () => undefined, ...ledgerOptions });
  ledgers.push(ledger);
  return { client: c, ledger };
}

const HOUR = 3_600_000;
const revocation = (kind: 'user' | 'session' | 'token', id: string, ttl = HOUR) => ({ kind, id, at: Date.now(), until: Date.now() + ttl });

/** Resolves with the ms it took until `check` is true, polling on every turn of the event loop. */
async function timeUntil(check: () => boolean, limit = 5_000): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > limit) throw new Error(`not true within ${limit} ms`);
    await new Promise((r) => setImmediate(r));
  }
  return performance.now() - start;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

describe('redisLedger', () => {
  it('shows a revocation recorded on node A on node B within the propagation window (printed)', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const windows: number[] = [];
    for (let i = 0; i < 200; i++) {
      await a.ledger.record(revocation('token', `jti-${i}`));
      // A sees its own revocation as soon as record() resolves.
      expect(a.ledger.isRevoked({ tokenId: `jti-${i}` })).toBeDefined();
      windows.push(await timeUntil(() => b.ledger.isRevoked({ tokenId: `jti-${i}` }) !== undefined));
    }
    windows.sort((x, y) => x - y);
    const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
    console.log(
      `[redis-ledger] propagation window (record() resolved on A → isRevoked true on B), 200 revocations: ` +
        `median ${fmt(percentile(windows, 50))}, p95 ${fmt(percentile(windows, 95))}, max ${fmt(windows.at(-1)!)}`,
    );
    expect(percentile(windows, 95)).toBeLessThan(50);
    expect(b.ledger.size).toBe(200);
  });

  it('refuses on node B a user revoked on node A, for credentials issued up to the revocation', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const at = Date.now();
    await a.ledger.record({ kind: 'user', id: 'alice', at, until: at + HOUR });
    await timeUntil(() => b.ledger.isRevoked({ user: 'alice' }) !== undefined);
    expect(b.ledger.isRevoked({ user: 'alice', issuedAt: Math.floor(at / 1000) * 1000 })).toMatchObject({ kind: 'user', id: 'alice', at });
    expect(b.ledger.isRevoked({ user: 'alice', issuedAt: at + 1000 })).toBeUndefined();
    expect(b.ledger.isRevoked({ user: 'bob' })).toBeUndefined();
  });

  it('merges revocations of one target recorded on two nodes into the same entry everywhere', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const t = Date.now();
    await a.ledger.record({ kind: 'user', id: 'alice', at: t + 5_000, until: t + HOUR });
    await b.ledger.record({ kind: 'user', id: 'alice', at: t, until: t + 2 * HOUR });
    const merged = { kind: 'user', id: 'alice', at: t + 5_000, until: t + 2 * HOUR };
    await timeUntil(() => a.ledger.isRevoked({ user: 'alice' })?.until === t + 2 * HOUR);
    expect(a.ledger.isRevoked({ user: 'alice' })).toEqual(merged);
    expect(b.ledger.isRevoked({ user: 'alice' })).toEqual(merged);
    expect(await a.client.get(`${prefix}user:alice`)).toBe(`${t + 5_000}:${t + 2 * HOUR}`);
    const pttl = await a.client.pTTL(`${prefix}user:alice`);
    expect(pttl).toBeGreaterThan(HOUR);
  });

  it('loads the entries already in Redis before it is ready, including ids with colons and glob characters', async () => {
    nextPrefix();
    const a = await node();
    await a.ledger.ready();
    await a.ledger.record(revocation('session', 'sess:1:*?[x]'));
    await a.ledger.record(revocation('user', '42'));
    // Another prefix on the same Redis is another ledger: not loaded.
    await a.client.set(`other:revoked:user:mallory`, `${Date.now()}:${Date.now() + HOUR}`);
    const late = await node();
    expect(late.ledger.trusted).toBe(false);
    await late.ledger.ready();
    expect(late.ledger.trusted).toBe(true);
    expect(late.ledger.size).toBe(2);
    expect(late.ledger.isRevoked({ session: 'sess:1:*?[x]' })).toBeDefined();
    expect(late.ledger.isRevoked({ user: '42' })).toBeDefined();
    expect(late.ledger.isRevoked({ user: 'mallory' })).toBeUndefined();
  });

  it('expires entries in Redis and in every mirror on their own', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    await a.ledger.record(revocation('token', 'short', 300));
    await timeUntil(() => b.ledger.isRevoked({ tokenId: 'short' }) !== undefined);
    expect(await a.client.exists(`${prefix}token:short`)).toBe(1);
    await sleep(400);
    expect(a.ledger.isRevoked({ tokenId: 'short' })).toBeUndefined();
    expect(b.ledger.isRevoked({ tokenId: 'short' })).toBeUndefined();
    expect(a.ledger.size).toBe(0);
    expect(b.ledger.size).toBe(0);
    expect(await a.client.exists(`${prefix}token:short`)).toBe(0);
  });

  it('ignores malformed messages on its channel and keeps serving', async () => {
    nextPrefix();
    const a = await node();
    await a.ledger.ready();
    const garbage = ['', ':', 'x:y:user:a', '1:2', '1:2:group:a', '5:1:user:a', '1:2:user:', 'NaN:3:user:a', '1:Infinity:user:a'];
    for (const message of garbage) await a.client.publish(`${prefix}changes`, message);
    await a.ledger.record(revocation('user', 'after'));
    await sleep(50);
    expect(a.ledger.size).toBe(1);
    expect(a.ledger.isRevoked({ user: 'a' })).toBeUndefined();
  });

  it('carries any id unchanged to other nodes, live and by the load (generated ids)', async () => {
    nextPrefix();
    const a = await node();
    const b = await node();
    await Promise.all([a.ledger.ready(), b.ledger.ready()]);
    const kind = fc.constantFrom('user' as const, 'session' as const, 'token' as const);
    const id = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.constantFrom('__proto__', 'a:b:c', '*', '[', '\\', ' ', '\n'));
    const seen: Array<{ kind: 'user' | 'session' | 'token'; id: string }> = [];
    await fc.assert(
      fc.asyncProperty(kind, id, async (k, i) => {
        await a.ledger.record(revocation(k, i));
        const facts = k === 'user' ? { user: i } : k === 'session' ? { session: i } : { tokenId: i };
        await timeUntil(() => b.ledger.isRevoked(facts)?.id === i);
        seen.push({ kind: k, id: i });
      }),
      { numRuns: 60 },
    );
    const late = await node();
    await late.ledger.ready();
    for (const { kind: k, id: i } of seen) {
      const facts = k === 'user' ? { user: i } : k === 'session' ? { session: i } : { tokenId: i };
      expect(late.ledger.isRevoked(facts)).toMatchObject({ kind: k, id: i });
    }
    expect(late.ledger.size).toBe(b.ledger.size);
  }, 60_000);

  it('refuses a heartbeat or timeout that is not a positive number of ms', async () => {
    const c = await client();
    for (const heartbeat of [0, -1, Number.NaN]) expect(() => redisLedger({ client: c, heartbeat })).toThrow(TypeError);
    expect(() => redisLedger({ client: c, timeout: 0 })).toThrow(TypeError);
  });

  it('refuses an id with a lone surrogate with a TypeError rather than store another id', async () => {
    nextPrefix();
    const a = await node();
    await a.ledger.ready();
    await expect(a.ledger.record(revocation('user', 'a\uD800b'))).rejects.toBeInstanceOf(TypeError);
    expect(await a.client.keys(`${prefix}*`)).toEqual([]);
  });

  describe('during a Redis outage', () => {
    it('rejects record() at once with store_unavailable while Redis is down, and answers isRevoked from the mirror', async () => {
      nextPrefix();
      const a = await node();
      const b = await node();
      await Promise.all([a.ledger.ready(), b.ledger.ready()]);
      await a.ledger.record(revocation('user', 'alice'));
      await timeUntil(() => b.ledger.isRevoked({ user: 'alice' }) !== undefined);

      await redis.stop();
      await timeUntil(() => !a.ledger.trusted && !b.ledger.trusted);
      const started = performance.now();
      const err = await a.ledger.record(revocation('user', 'bob')).then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = performance.now() - started;
      console.log(`[redis-ledger] record() with Redis stopped rejected in ${took.toFixed(1)} ms (${(err as AuthError)?.code})`);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).code).toBe('store_unavailable');
      expect(took).toBeLessThan(2_000);
      // The mirror keeps what it had; nothing new was recorded anywhere.
      expect(a.ledger.isRevoked({ user: 'alice' })).toBeDefined();
      expect(b.ledger.isRevoked({ user: 'alice' })).toBeDefined();
      expect(b.ledger.isRevoked({ user: 'bob' })).toBeUndefined();
      expect(a.ledger.isRevoked({ user: 'bob' })).toBeUndefined();

      // Back up (empty: this redis-server keeps nothing on disk). Each node resyncs before it is trusted.
      await redis.restart();
      await Promise.all([a.ledger.ready(), b.ledger.ready()]);
      expect(a.ledger.trusted && b.ledger.trusted).toBe(true);
      // A resync adds, never forgets: alice stays refused although Redis lost her entry.
      expect(b.ledger.isRevoked({ user: 'alice' })).toBeDefined();
      await a.ledger.record(revocation('user', 'carol'));
      await timeUntil(() => b.ledger.isRevoked({ user: 'carol' }) !== undefined);
    });

    it('rejects record() within its timeout when Redis holds the connection open but does not answer', async () => {
      nextPrefix();
      const a = await node({ timeout: 300 });
      await a.ledger.ready();
      const admin = await client();
      await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
      const started = performance.now();
      await expect(a.ledger.record(revocation('token', 'paused'))).rejects.toMatchObject({ code: 'store_unavailable' });
      const took = performance.now() - started;
      console.log(`[redis-ledger] record() against a paused Redis rejected in ${took.toFixed(1)} ms (timeout 300 ms)`);
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(1_000);
      await sleep(1_600);
    });

    it('resyncs a node that was cut off, picking up what other nodes recorded meanwhile, before it is trusted again', async () => {
      nextPrefix();
      const proxy = await startTcpProxy(redis.port);
      try {
        const a = await node();
        // B reaches Redis through a proxy the test can cut; it retries every 100 ms.
        const b = await node({ clientOptions: { url: proxy.url, socket: { reconnectStrategy: () => 100 } } });
        await Promise.all([a.ledger.ready(), b.ledger.ready()]);
        await a.ledger.record(revocation('user', 'before'));
        await timeUntil(() => b.ledger.isRevoked({ user: 'before' }) !== undefined);

        proxy.cut();
        await timeUntil(() => !b.ledger.trusted);
        // B cannot record, and knows it.
        await expect(b.ledger.record(revocation('user', 'from-b'))).rejects.toMatchObject({ code: 'store_unavailable' });
        // A, still connected, records (B misses the message), and an entry lands in Redis with no message at all.
        await a.ledger.record(revocation('user', 'missed'));
        await a.client.set(`${prefix}token:direct`, `${Date.now()}:${Date.now() + HOUR}`, { PX: HOUR });
        await sleep(300);
        expect(b.ledger.trusted).toBe(false);
        expect(b.ledger.isRevoked({ user: 'missed' })).toBeUndefined();
        // B keeps answering from the mirror it had.
        expect(b.ledger.isRevoked({ user: 'before' })).toBeDefined();

        const resynced = b.ledger.ready();
        const healed = performance.now();
        proxy.heal();
        await resynced;
        console.log(`[redis-ledger] cut-off node trusted again ${(performance.now() - healed).toFixed(0)} ms after the network came back (reconnect every 100 ms)`);
        expect(b.ledger.trusted).toBe(true);
        expect(b.ledger.isRevoked({ user: 'missed' })).toBeDefined();
        expect(b.ledger.isRevoked({ tokenId: 'direct' })).toBeDefined();
        expect(b.ledger.isRevoked({ user: 'before' })).toBeDefined();
        // And it follows live messages again.
        await a.ledger.record(revocation('session', 'after'));
        await timeUntil(() => b.ledger.isRevoked({ session: 'after' }) !== undefined);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('when Redis stalls (connections stay open, nothing comes back)', () => {
    const HEARTBEAT = 200;
    const TIMEOUT = 300;
    // The stated bound is heartbeat + timeout; the slack covers a loaded 2-core machine's timers.
    const BOUND = HEARTBEAT + TIMEOUT;
    const SLACK = 1_500;

    /** A node whose commands go straight to Redis and whose subscriber goes through `url` (a proxy the test stalls). */
    async function nodeWithSubscriberVia(url: string) {
      const direct = await client();
      const proxied = createClient({ url, socket: { reconnectStrategy: () => 100 } });
      const split = {
        sendCommand: (args: string[]) => direct.sendCommand(args),
        get isReady() {
          return direct.isReady;
        },
        duplicate: () => {
          const sub = proxied.duplicate();
          sub.on('error', () => undefined);
          return sub;
        },
      };
      const ledger = redisLedger({ client: split, prefix, heartbeat: HEARTBEAT, timeout: TIMEOUT, onError: () => undefined });
      ledgers.push(ledger);
      return { client: direct, ledger };
    }

    it('untrusts a node whose subscriber stalls within heartbeat + timeout, keeps its mirror, and resyncs before it is trusted again', async () => {
      nextPrefix();
      const proxy = await startTcpProxy(redis.port);
      try {
        const a = await node();
        const b = await nodeWithSubscriberVia(proxy.url);
        await Promise.all([a.ledger.ready(), b.ledger.ready()]);
        await a.ledger.record(revocation('user', 'before'));
        await timeUntil(() => b.ledger.isRevoked({ user: 'before' }) !== undefined);

        proxy.pause();
        const untrustedIn = await timeUntil(() => !b.ledger.trusted, BOUND + SLACK);
        console.log(`[redis-ledger] stalled subscriber: untrusted ${untrustedIn.toFixed(0)} ms after the stall (bound heartbeat ${HEARTBEAT} + timeout ${TIMEOUT} ms)`);
        await a.ledger.record(revocation('user', 'missed'));
        await sleep(2 * BOUND);
        // The documented outage behaviour: the mirror it had keeps answering; what it missed is not known yet.
        expect(b.ledger.trusted).toBe(false);
        expect(b.ledger.isRevoked({ user: 'before' })).toBeDefined();
        expect(b.ledger.isRevoked({ user: 'missed' })).toBeUndefined();

        const resynced = b.ledger.ready();
        proxy.resume();
        await resynced;
        expect(b.ledger.trusted).toBe(true);
        expect(b.ledger.isRevoked({ user: 'missed' })).toBeDefined();
        await a.ledger.record(revocation('session', 'after'));
        await timeUntil(() => b.ledger.isRevoked({ session: 'after' }) !== undefined);
      } finally {
        await proxy.close();
      }
    });

    it('refuses a revocation sent into a black-holed subscriber connection within the heartbeat bound, on a fresh connection', async () => {
      nextPrefix();
      const proxy = await startTcpProxy(redis.port);
      try {
        const a = await node();
        const b = await nodeWithSubscriberVia(proxy.url);
        await Promise.all([a.ledger.ready(), b.ledger.ready()]);
        // The hop forgets the connection it carries (a stuck NAT entry): nothing on it arrives, ever; new ones work.
        proxy.blackhole();
        const stalled = performance.now();
        await a.ledger.record(revocation('token', 'stolen'));
        const refusedIn = await timeUntil(() => b.ledger.isRevoked({ tokenId: 'stolen' }) !== undefined, BOUND + SLACK + 2_000);
        console.log(`[redis-ledger] black-holed subscriber: revocation refused on B ${(performance.now() - stalled).toFixed(0)} ms after the stall (${refusedIn.toFixed(0)} ms after record())`);
        await b.ledger.ready();
        await a.ledger.record(revocation('user', 'later'));
        await timeUntil(() => b.ledger.isRevoked({ user: 'later' }) !== undefined);
      } finally {
        await proxy.close();
      }
    });

    it('untrusts every node of a SIGSTOPped redis-server within the bound, and trusts them again after SIGCONT', async () => {
      nextPrefix();
      const a = await node({ heartbeat: HEARTBEAT, timeout: TIMEOUT });
      const b = await node({ heartbeat: HEARTBEAT, timeout: TIMEOUT });
      await Promise.all([a.ledger.ready(), b.ledger.ready()]);
      await a.ledger.record(revocation('user', 'before'));
      await timeUntil(() => b.ledger.isRevoked({ user: 'before' }) !== undefined);
      redis.pause();
      try {
        const untrustedIn = await timeUntil(() => !a.ledger.trusted && !b.ledger.trusted, BOUND + SLACK);
        console.log(`[redis-ledger] SIGSTOPped Redis: both nodes untrusted ${untrustedIn.toFixed(0)} ms after the stop`);
        await expect(a.ledger.record(revocation('user', 'during'))).rejects.toMatchObject({ code: 'store_unavailable' });
        expect(b.ledger.isRevoked({ user: 'before' })).toBeDefined();
      } finally {
        redis.resume();
      }
      await Promise.all([a.ledger.ready(), b.ledger.ready()]);
      // The record that timed out may still have been applied when Redis woke: never half of it.
      await a.ledger.record(revocation('user', 'after'));
      await timeUntil(() => b.ledger.isRevoked({ user: 'after' }) !== undefined);
    });
  });

  it('loads 100,000 entries in batches without blocking the event loop for long (printed)', async () => {
    nextPrefix();
    const writer = await client();
    const n = 100_000;
    await fillRevocations(writer, { prefix, kind: 'token', idPrefix: 'jti-', count: n, at: Date.now(), until: Date.now() + HOUR });
    const c = await client();
    const delay = monitorEventLoopDelay({ resolution: 5 });
    // Turns the event loop gets while loading: the load must hand it back between batches.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    delay.enable();
    setImmediate(count);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const ledger = redisLedger({ client: c, prefix });
    ledgers.push(ledger);
    await ledger.ready();
    const took = performance.now() - started;
    const used = process.cpuUsage(cpu);
    counting = false;
    delay.disable();
    console.log(
      `[redis-ledger] loaded ${ledger.size} entries in ${took.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU; ` +
        `${turns} event-loop turns meanwhile, longest event-loop delay ${(delay.max / 1e6).toFixed(1)} ms`,
    );
    expect(ledger.size).toBe(n);
    expect(ledger.isRevoked({ tokenId: 'jti-77777' })).toBeDefined();
    // 1,000 keys per batch: at least one turn per batch.
    expect(turns).toBeGreaterThan(100);
  }, 60_000);

  it('stops its subscription and timers on close, and leaves the app client open', async () => {
    nextPrefix();
    const a = await node();
    await a.ledger.ready();
    await a.ledger.close();
    expect(a.ledger.trusted).toBe(false);
    expect(a.client.isReady).toBe(true);
    // The server sees the subscriber's connection go a moment after it is destroyed.
    const subscribers = async () => String(await a.client.sendCommand(['PUBSUB', 'NUMSUB', `${prefix}changes`]));
    for (let i = 0; i < 50 && (await subscribers()) !== `${prefix}changes,0`; i++) await sleep(20);
    expect(await subscribers()).toBe(`${prefix}changes,0`);
    await expect(a.ledger.record(revocation('user', 'x'))).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});
