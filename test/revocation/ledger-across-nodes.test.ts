/**
 * The revocation ledger across nodes: two Socket.IO servers, each with its own
 * SockPass and its own `redisLedger`, share one real redis-server (and the
 * Redis adapter). A token revoked on node A is refused on node B; the test
 * prints the propagation window it measures. With Redis stopped, `revoke()`
 * rejects and clients nobody revoked keep connecting.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, redisLedger, type RevocationLedger } from 'sockpass';
import type { Claims } from 'sockpass';
import { closeClient, startRedis, subscriptionsAnswered, type RedisServer } from '../helpers/redis.js';
import { codeOf, once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';
import { eventually } from '../helpers/eventually.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

let redis: RedisServer;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).reverse().map((close) => close()));
});
afterAll(async () => {
  await redis?.stop();
});

/** One node; with `ledgerSubscriberVia`, the ledger's subscriber reaches Redis through that URL (a proxy the test stalls). */
async function startNode(options: { ledgerSubscriberVia?: string; heartbeat?: number } = {}): Promise<{ auth: SockPass<Claims>; server: TestServer; ledger: RevocationLedger }> {
  const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 100 } });
  client.on('error', () => undefined);
  const sub = client.duplicate();
  sub.on('error', () => undefined);
  await Promise.all([client.connect(), sub.connect()]);
  const via = options.ledgerSubscriberVia;
  const ledgerClient =
    via === undefined
      ? client
      : {
          sendCommand: (args: string[]) => client.sendCommand(args),
          get isReady() {
            return client.isReady;
          },
          duplicate: () => {
            const s = createClient({ url: via, socket: { reconnectStrategy: () => 100 } });
            s.on('error', () => undefined);
            return s;
          },
        };
  const ledger = redisLedger({ client: ledgerClient, timeout: 500, heartbeat: options.heartbeat, onError: () => undefined });
  await ledger.ready();
  const auth = new SockPass({ ledger }).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const server = await startServer((io) => {
    io.adapter(createAdapter(client, sub));
    io.use(auth.middleware('jwt'));
  });
  closers.push(
    () => closeClient(client),
    () => closeClient(sub),
    () => ledger.close(),
    () => server.close(),
  );
  await subscriptionsAnswered(sub);
  return { auth, server, ledger };
}

describe('the Redis revocation ledger on two nodes', () => {
  it('refuses on node B a token revoked on node A with token_revoked, from 50 ms after revoke() resolves', async () => {
    const a = await startNode();
    const b = await startNode();
    const token = hs256({ sub: 'alice', jti: 'alice-1' });
    const onA = a.server.client('/', { auth: { token } });
    expect(await codeOf(onA)).toBe('connected');
    const gone = once(onA, 'disconnect');

    await a.auth.revoke(a.server.io, { user: 'alice' });
    const resolved = performance.now();
    // The window: from revoke() resolving until node B's mirror holds the entry.
    while (b.ledger.isRevoked({ user: 'alice', issuedAt: Date.now() - 5000 }) === undefined && performance.now() - resolved < 2000) {
      await new Promise((r) => setImmediate(r));
    }
    const window = performance.now() - resolved;
    console.log(`revocation propagation window A -> B: ${window.toFixed(1)} ms after revoke() resolved`);
    await gone;
    await sleep(Math.max(0, 50 - (performance.now() - resolved)));
    expect(await codeOf(b.server.client('/', { auth: { token } }))).toBe('token_revoked');
    expect(await codeOf(a.server.client('/', { auth: { token } }))).toBe('token_revoked');
    expect(await codeOf(b.server.client('/', { auth: { token: hs256({ sub: 'bob' }) } }))).toBe('connected');
    expect(window).toBeLessThan(50);
  });

  it('revokes one token by jti on node A and refuses it on node B', async () => {
    const a = await startNode();
    const b = await startNode();
    // fetchSockets() asks as many nodes as Redis counts subscribers: wait until node B's adapter has subscribed.
    const adapterOfA = a.server.io.of('/').adapter as unknown as { serverCount(): Promise<number> };
    await eventually(async () => (await adapterOfA.serverCount()) >= 2, { timeout: 2000 });
    const stolen = hs256({ sub: 'mallory', jti: 'stolen' });
    const onB = b.server.client('/', { auth: { token: stolen } });
    expect(await codeOf(onB)).toBe('connected');
    const notice = once<{ code: string }>(onB, 'auth:revoked');
    await a.auth.revoke(a.server.io, { token: 'stolen' });
    expect((await notice).code).toBe('token_revoked');
    await sleep(50);
    expect(await codeOf(b.server.client('/', { auth: { token: stolen } }))).toBe('token_revoked');
    expect(await codeOf(b.server.client('/', { auth: { token: hs256({ sub: 'mallory', jti: 'other' }) } }))).toBe('connected');
  });

  it('refuses on node B a user revoked on node A while B\'s ledger subscriber is stalled, within heartbeat + timeout', async () => {
    const proxy = await startTcpProxy(redis.port);
    closers.push(() => proxy.close());
    const a = await startNode();
    const b = await startNode({ ledgerSubscriberVia: proxy.url, heartbeat: 250 });
    const token = hs256({ sub: 'dana' });
    expect(await codeOf(b.server.client('/', { auth: { token } }))).toBe('connected');
    // The hop stops carrying B's subscription and never closes it.
    proxy.blackhole();
    await a.auth.revoke(a.server.io, { user: 'dana' });
    const revoked = performance.now();
    // Bound: heartbeat 250 + timeout 500 ms, then a fresh subscriber and a reload; generous slack for a loaded machine.
    let code = '';
    while (performance.now() - revoked < 4_000) {
      code = await codeOf(b.server.client('/', { auth: { token } }));
      if (code === 'token_revoked') break;
      await sleep(50);
    }
    console.log(`stalled subscriber on B: dana refused on B ${(performance.now() - revoked).toFixed(0)} ms after revoke() resolved on A (heartbeat 250 + timeout 500 ms)`);
    expect(code).toBe('token_revoked');
    expect(await codeOf(b.server.client('/', { auth: { token: hs256({ sub: 'bob' }) } }))).toBe('connected');
  });

  it('rejects revoke() while Redis is stopped; token clients nobody revoked keep connecting', async () => {
    const a = await startNode();
    const before = a.server.client('/', { auth: { token: hs256({ sub: 'erin' }) } });
    expect(await codeOf(before)).toBe('connected');
    await redis.stop();
    try {
      await expect(a.auth.revoke(a.server.io, { user: 'erin' })).rejects.toMatchObject({ code: 'store_unavailable' });
      // The sockets this node holds were still cut.
      await sleep(100);
      expect(before.connected).toBe(false);
      for (const sub of ['frank', 'grace', 'heidi']) {
        expect(await codeOf(a.server.client('/', { auth: { token: hs256({ sub }) } }))).toBe('connected');
      }
    } finally {
      await redis.restart();
    }
  });
});
