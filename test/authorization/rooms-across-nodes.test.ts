/**
 * `socketsJoin` from another node: two Socket.IO servers, each with its own
 * SockPass and the same room policy, share one real redis-server through
 * @socket.io/redis-adapter. A `socketsJoin` issued on node A reaches node B's
 * sockets through the adapter (its `addSockets` calls each socket's `join`),
 * and node B judges it: only the sockets its policy admits enter the room,
 * and a broadcast to that room from node A reaches no refused socket.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server, Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, claimRooms, jwtAuth, type FailureEvent } from 'sockpass';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type Claims = Record<string, unknown>;

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

async function withRedisAdapter(io: Server): Promise<void> {
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

async function startNode() {
  const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const failures: FailureEvent[] = [];
  auth.on('failure', (f) => failures.push(f));
  const sockets = new Map<string, Socket>();
  const server = await startServer(async (io) => {
    await withRedisAdapter(io);
    io.use(auth.middleware('jwt-auth'));
    auth.rooms(io, { 'chat:*': claimRooms('rooms') });
    auth.onAuthenticated(io, (s: Socket) => sockets.set(String(s.data.auth.claims.sub), s));
  });
  nodes.push(server);
  return { server, sockets, failures };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function connect(node: TestServer, claims: Claims): Promise<ClientSocket> {
  const client = node.client('/', { auth: { token: hs256(claims) } });
  expect(await outcome(client)).toEqual({ connected: true });
  return client;
}

describe('socketsJoin from another node through the Redis adapter', () => {
  it('node B admits only the sockets its policy allows; a broadcast from node A reaches no refused socket', async () => {
    const a = await startNode();
    const b = await startNode();
    const ann = await connect(b.server, { sub: 'ann', rooms: ['chat:*'] });
    const bob = await connect(b.server, { sub: 'bob' });
    const forbidden: unknown[] = [];
    bob.on('auth:forbidden', (n) => forbidden.push(n));
    const got = { ann: [] as unknown[], bob: [] as unknown[] };
    ann.on('msg', (m) => got.ann.push(m));
    bob.on('msg', (m) => got.bob.push(m));

    a.server.io.in(['user:ann', 'user:bob']).socketsJoin('chat:red');
    await until(() => b.sockets.get('ann')?.rooms.has('chat:red') === true && forbidden.length === 1);
    expect(b.sockets.get('bob')!.rooms.has('chat:red')).toBe(false);
    expect(forbidden).toEqual([{ room: 'chat:red', code: 'forbidden', message: 'not allowed in room chat:red', action: 'stop' }]);
    expect(b.failures.map((f) => [f.code, f.room])).toEqual([['forbidden', 'chat:red']]);
    expect(a.failures).toEqual([]);

    // What the rooms hold across the cluster, as node A sees it.
    const inRoom = await a.server.io.in('chat:red').fetchSockets();
    expect(inRoom.map((s) => s.data.auth.claims.sub)).toEqual(['ann']);

    for (let i = 0; i < 5; i++) a.server.io.to('chat:red').emit('msg', i);
    a.server.io.emit('msg', 'everyone');
    await until(() => got.ann.includes('everyone') && got.bob.includes('everyone'));
    expect(got.ann).toEqual([0, 1, 2, 3, 4, 'everyone']);
    expect(got.bob).toEqual(['everyone']);
  });
});
