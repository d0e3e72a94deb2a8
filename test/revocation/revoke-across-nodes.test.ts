/**
 * Revocation across nodes: two Socket.IO servers (each with its own SockPass,
 * as two processes would have) share one real redis-server through
 * @socket.io/redis-adapter (the classic adapter, and the sharded one on
 * Redis 7's sharded pub/sub). A revoke issued on node A reaches the sockets
 * held by node B: users and sessions through their rooms, a token through
 * the adapter's server-side message, which every node answers from its own
 * token index.
 */
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, type Strategy } from 'sockpass';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type User = { id: string };

let redis: RedisServer;
const redisClients: Array<{ close(): Promise<unknown> }> = [];
let nodes: TestServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  nodes = [];
  await Promise.allSettled(redisClients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await redis?.stop();
});

type AdapterKind = 'classic' | 'sharded';

async function withRedisAdapter(io: Server, kind: AdapterKind = 'classic', requestsTimeout = 5000): Promise<void> {
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(kind === 'classic' ? createAdapter(pub, sub, { requestsTimeout }) : createShardedAdapter(pub, sub));
}

/** One node: its own registry, JWT or a session id (standing in for the cookie strategy), on `/` and `/admin`. */
async function startNode(kind: AdapterKind = 'classic', options: { attach?: boolean; requestsTimeout?: number } = {}): Promise<{ auth: SockPass<User>; server: TestServer }> {
  const sessionLike: Strategy<User> = {
    async authenticate(ctx) {
      const { sid, uid } = ctx.auth;
      if (typeof sid !== 'string' || typeof uid !== 'string') return { kind: 'pass' };
      return { kind: 'success', user: { id: uid }, session: sid };
    },
  };
  const auth = new SockPass<User>()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
    .use('session', sessionLike);
  const server = await startServer(async (io) => {
    await withRedisAdapter(io, kind, options.requestsTimeout);
    if (options.attach) auth.attach(io);
    io.use(auth.middleware(['jwt-auth', 'session']));
    io.of('/admin').use(auth.middleware('jwt-auth'));
    io.on('connection', (socket) => socket.on('ping', (ack: (r: string) => void) => ack('pong')));
  });
  nodes.push(server);
  return { auth, server };
}

function watch(client: ClientSocket) {
  const notices: unknown[] = [];
  client.on('auth:revoked', (n: unknown) => notices.push(n));
  const ended = new Promise<{ at: number; noticed: boolean }>((resolve) =>
    client.on('disconnect', () => resolve({ at: Date.now(), noticed: notices.length > 0 })),
  );
  return { notices, ended };
}

/** Round trip through the node: proves a socket is still served, not just flagged connected. */
async function alive(client: ClientSocket): Promise<boolean> {
  return client.connected && (await client.timeout(3000).emitWithAck('ping')) === 'pong';
}

describe('revoke across two nodes on one Redis', () => {
  it('disconnects the user on the other node within 1 s, and leaves other users connected', async () => {
    const a = await startNode();
    const b = await startNode();
    // Node A holds nobody of interest: the revoking node need not hold the user's sockets.
    const carolOnA = a.server.client('/', { auth: { token: hs256({ sub: 'carol' }) } });
    const aliceOnB = [
      b.server.client('/', { auth: { token: hs256({ sub: 'alice' }) } }),
      b.server.client('/', { auth: { sid: 'alice-laptop', uid: 'alice' } }),
      b.server.client('/admin', { auth: { token: hs256({ sub: 'alice' }) } }),
    ];
    const bobOnB = b.server.client('/', { auth: { token: hs256({ sub: 'bob' }) } });
    const all = [carolOnA, ...aliceOnB, bobOnB];
    expect((await Promise.all(all.map((c) => outcome(c)))).every((r) => r.connected)).toBe(true);
    // The /admin namespace was never used on node A: name it (see RevokeOptions.namespaces).
    const watches = aliceOnB.map(watch);

    const started = Date.now();
    await a.auth.revoke(a.server.io, { user: 'alice' }, { reason: 'signed out everywhere', namespaces: ['/admin'] });
    const ends = await Promise.race([
      Promise.all(watches.map((w) => w.ended)),
      sleep(5000).then(() => Promise.reject(new Error('alice still connected on node B after 5 s'))),
    ]);
    for (const [i, end] of ends.entries()) {
      expect(end.at - started).toBeLessThan(1000);
      expect(end.noticed).toBe(true);
      expect(watches[i]!.notices).toEqual([{ code: 'token_revoked', message: 'signed out everywhere', action: 'login' }]);
    }
    await sleep(300);
    expect(await alive(bobOnB)).toBe(true);
    expect(await alive(carolOnA)).toBe(true);
    expect(b.server.io.of('/').sockets.size).toBe(1);
  });

  it('disconnects one session on the other node, leaving the user\'s other session', async () => {
    const a = await startNode();
    const b = await startNode();
    const tab = b.server.client('/', { auth: { sid: 'sess-1', uid: 'dana' } });
    const phone = b.server.client('/', { auth: { sid: 'sess-2', uid: 'dana' } });
    await Promise.all([outcome(tab), outcome(phone)]);
    const w = watch(tab);
    const started = Date.now();
    await a.auth.revoke(a.server.io, { session: 'sess-1' });
    const end = await w.ended;
    expect(end.at - started).toBeLessThan(1000);
    expect(w.notices).toEqual([{ code: 'token_revoked', message: 'credentials have been revoked', action: 'login' }]);
    await sleep(300);
    expect(phone.connected).toBe(true);
  });
});

/** Until node A's adapter counts `n` nodes on `/`: a server-side message waits for as many answers as it counts. */
async function nodesSeenBy(node: TestServer, n: number): Promise<void> {
  const adapter = node.io.of('/').adapter as unknown as { serverCount(): Promise<number> };
  await eventually(async () => (await adapter.serverCount()) >= n, { timeout: 5000 });
}

for (const kind of ['classic', 'sharded'] as const) {
  describe(`revoke({ token }) across two nodes (${kind} Redis adapter)`, () => {
    it('cuts the token\'s sockets on node B, on a namespace node A never served and was not told of, and leaves other tokens', async () => {
      const a = await startNode(kind);
      const b = await startNode(kind);
      const stolen = hs256({ sub: 'mallory', jti: `stolen-${kind}` });
      const onB = [b.server.client('/', { auth: { token: stolen } }), b.server.client('/admin', { auth: { token: stolen } })];
      const otherToken = b.server.client('/', { auth: { token: hs256({ sub: 'mallory', jti: `other-${kind}` }) } });
      const onA = a.server.client('/', { auth: { token: stolen } });
      expect((await Promise.all([...onB, otherToken, onA].map((c) => outcome(c)))).every((r) => r.connected)).toBe(true);
      await nodesSeenBy(a.server, 2);
      const watches = [...onB, onA].map(watch);

      // No `namespaces` option: node A holds nothing on /admin, and the token is still cut there on node B.
      await a.auth.revoke(a.server.io, { token: `stolen-${kind}` }, { reason: 'token leaked' });
      // Resolved once node B answered, so its sockets were already told and disconnected.
      await Promise.race([
        Promise.all(watches.map((w) => w.ended)),
        sleep(5000).then(() => Promise.reject(new Error('the token\'s sockets still connected after 5 s'))),
      ]);
      for (const w of watches) expect(w.notices).toEqual([{ code: 'token_revoked', message: 'token leaked', action: 'login' }]);
      expect(await alive(otherToken)).toBe(true);
      expect(b.auth.lifecycle.tokens.holders(`stolen-${kind}`)).toHaveLength(0);
      expect(a.auth.lifecycle.tokens.size).toBe(0);
    });

    it('leaves a socket on node B refreshed away from the revoked jti, and cuts it by its new jti', async () => {
      const a = await startNode(kind);
      const b = await startNode(kind);
      const client = b.server.client('/', { auth: { token: hs256({ sub: 'nina', jti: `before-${kind}` }, { expiresIn: 60 }) } });
      expect((await outcome(client)).connected).toBe(true);
      const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: hs256({ sub: 'nina', jti: `after-${kind}` }, { expiresIn: 120 }) })) as {
        error?: unknown;
      };
      expect(reply.error).toBeUndefined();
      await nodesSeenBy(a.server, 2);
      const w = watch(client);
      await a.auth.revoke(a.server.io, { token: `before-${kind}` });
      await sleep(200);
      expect(await alive(client)).toBe(true);
      await a.auth.revoke(a.server.io, { token: `after-${kind}` });
      await w.ended;
      expect(w.notices).toEqual([{ code: 'token_revoked', message: 'credentials have been revoked', action: 'login' }]);
      await eventually(() => expect(b.auth.lifecycle.tokens.size).toBe(0));
    });
  });
}

describe('revoke({ token }) does not wait for other nodes', () => {
  // The adapter's timeout is far longer than the test's: a revoke that waited for a node's answer would time the test out.
  it('resolves at once beside a node whose registry has admitted nobody and was never attached', async () => {
    const a = await startNode('classic', { requestsTimeout: 60_000 });
    await startNode('classic');
    const client = a.server.client('/', { auth: { token: hs256({ sub: 'olga', jti: 'olga-1' }) } });
    expect((await outcome(client)).connected).toBe(true);
    await nodesSeenBy(a.server, 2);
    const w = watch(client);
    await a.auth.revoke(a.server.io, { token: 'olga-1' });
    await w.ended;
  });

  it('resolves beside a node that answers nothing, after this node\'s sockets were cut', async () => {
    const a = await startNode('classic', { requestsTimeout: 60_000 });
    const client = a.server.client('/', { auth: { token: hs256({ sub: 'pia', jti: 'pia-1' }) } });
    expect((await outcome(client)).connected).toBe(true);
    // A hung node: subscribed to the namespace's request channel (so the adapter counts it), answering nothing.
    const hung = createClient({ url: redis.url });
    redisClients.push(hung);
    await hung.connect();
    await hung.subscribe('socket.io-request#/#', () => undefined);
    await nodesSeenBy(a.server, 2);
    const w = watch(client);
    await a.auth.revoke(a.server.io, { token: 'pia-1' });
    await w.ended;
    expect(w.notices).toHaveLength(1);
  });
});
