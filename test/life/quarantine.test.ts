// The quarantine of the `authenticate` event strategy, against real Socket.IO
// servers and real clients. It rests on adapters delivering only to sockets
// found in the namespace's `nsp.sockets` Map: the broadcast tests here (the
// in-memory adapter and the Redis adapter across two nodes) fail if a
// Socket.IO or adapter upgrade starts delivering to sockets outside it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, jwtAuthenticateEvent } from 'sockpass';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import { eventually } from '../helpers/eventually.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Seen {
  /** Every server-side socket, as the app's own connection handler saw it. */
  sockets: Map<string, import('socket.io').Socket>;
  events: string[];
  anyEvents: string[];
  authenticated: string[];
}

/** A server whose app code runs in plain `connection` (as apps wrongly do) and in onAuthenticated. */
async function serve(options: { timeout?: number; setup?: (io: Server) => unknown } = {}) {
  const auth = new SockPass().use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: options.timeout ?? 10_000 }));
  const seen: Seen = { sockets: new Map(), events: [], anyEvents: [], authenticated: [] };
  const server = await startServer(async (io) => {
    await options.setup?.(io);
    io.use(auth.middleware('jwt-event'));
    io.on('connection', (socket) => {
      seen.sockets.set(socket.id, socket);
      // App code that runs before authentication: none of this may let the socket see or do anything.
      void socket.join('lobby');
      socket.onAny((event: string) => seen.anyEvents.push(event));
      socket.on('chat', (text: string, ack?: (r: string) => void) => {
        seen.events.push(text);
        ack?.('handled');
      });
    });
    auth.onAuthenticated<import('socket.io').Socket>(io, (socket) => {
      seen.authenticated.push(socket.id);
      socket.on('rooms', (ack: (rooms: string[]) => void) => ack([...socket.rooms]));
    });
  });
  servers.push(server);
  return { server, seen, auth };
}

function record(client: ClientSocket, events: string[]): string[] {
  const got: string[] = [];
  for (const e of events) client.on(e, (n: number) => got.push(`${e}:${n}`));
  return got;
}

async function authenticateClient(client: ClientSocket, token = hs256()) {
  const done = once(client, 'authenticated');
  client.emit('authenticate', { token });
  await done;
}

const BROADCASTS = ['io', 'nsp', 'room', 'id-room', 'from-peer', 'volatile'];

/** Sends `n` broadcasts of every kind, as app code would. */
function broadcastAll(io: Server, pendingId: string, peer: import('socket.io').Socket | undefined, n: number) {
  io.emit('io', n);
  io.of('/').emit('nsp', n);
  io.to('lobby').emit('room', n);
  io.to(pendingId).emit('id-room', n);
  peer?.broadcast.emit('from-peer', n);
  io.volatile.emit('volatile', n);
}

describe('quarantine (in-memory adapter)', () => {
  it("defers onAny listeners added in io.on('connect'), Socket.IO's alias that fires before 'connection'", async () => {
    const anyEvents: string[] = [];
    const auth = new SockPass().use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 10_000 }));
    const server = await startServer((io) => {
      io.use(auth.middleware('jwt-event'));
      io.on('connect', (socket) => {
        socket.onAny((event: string) => anyEvents.push(event));
        socket.prependAny((event: string) => anyEvents.push(`first:${event}`));
      });
    });
    servers.push(server);
    const client = server.client();
    expect(await outcome(client)).toEqual({ connected: true });
    client.emit('chat', 'early');
    await sleep(150);
    expect(anyEvents).toEqual([]);
    await authenticateClient(client);
    client.emit('chat', 'late');
    await sleep(150);
    expect(anyEvents).toEqual(['first:chat', 'chat']);
  });

  it('gets no broadcast, is in no room and has no event handled until it authenticates', async () => {
    const { server, seen } = await serve();
    const { io } = server;

    // A witness: authenticated, it must receive every broadcast, proving they were sent.
    const witness = server.client();
    const witnessGot = record(witness, BROADCASTS);
    await outcome(witness);
    await authenticateClient(witness, hs256({ sub: 'witness' }));

    const pending = server.client();
    const pendingGot = record(pending, BROADCASTS);
    expect(await outcome(pending)).toEqual({ connected: true });
    const id = pending.id!;
    const nsp = io.of('/');

    // Hidden: not in nsp.sockets, not in its own id room, not in the room the app joined it to.
    expect(nsp.sockets.has(id)).toBe(false);
    expect(nsp.adapter.rooms.get(id)).toBeUndefined();
    expect(nsp.adapter.rooms.get('lobby')?.has(id) ?? false).toBe(false);
    expect((await io.fetchSockets()).map((s) => s.id)).not.toContain(id);
    expect((await io.in('lobby').fetchSockets()).map((s) => s.id)).not.toContain(id);

    // Its events reach no handler, not even catch-all ones; an ack is never answered.
    const acks: string[] = [];
    for (let i = 0; i < 5; i++) pending.emit('chat', `early-${i}`);
    pending.timeout(300).emit('chat', 'with-ack', (err: Error | null, r: string) => acks.push(err ? 'timeout' : r));

    const peer = nsp.sockets.get(witness.id!)!;
    const N = 5;
    for (let n = 0; n < N; n++) broadcastAll(io, id, peer, n);
    await sleep(400);

    await authenticateClient(pending);
    // Shown again: in nsp.sockets, its id room, the room joined while pending, its user room.
    const rooms = (await pending.timeout(2000).emitWithAck('rooms')) as string[];
    expect(new Set(rooms)).toEqual(new Set([id, 'lobby', 'user:alice']));
    expect(nsp.sockets.get(id)?.id).toBe(id);

    broadcastAll(io, id, peer, N);
    pending.emit('chat', 'after');
    await sleep(50);
    // Per-connection order is kept, so anything sent before the last broadcast would have arrived before it.
    await eventually(() => ['io', 'nsp', 'room', 'id-room', 'from-peer'].every((b) => pendingGot.includes(`${b}:${N}`)));
    await eventually(() => seen.events.includes('after'));

    // Volatile packets may be dropped by design, so the last one is not required; an early one is still a leak.
    expect(pendingGot.filter((e) => e !== `volatile:${N}`).sort()).toEqual(['from-peer', 'id-room', 'io', 'nsp', 'room'].map((b) => `${b}:${N}`));
    // The witness got all of them, before and after (minus its own id room and its own broadcast).
    for (const kind of ['io', 'nsp', 'room']) {
      for (let n = 0; n <= N; n++) expect(witnessGot).toContain(`${kind}:${n}`);
    }
    expect(seen.events).toEqual(['after']);
    expect(seen.anyEvents).toEqual(['rooms', 'chat']);
    expect(acks).toEqual(['timeout']);
  });

  it('forgets a quarantined socket that disconnects: no socket, room, timer or listener left', async () => {
    const { server, seen } = await serve({ timeout: 60_000 });
    const nsp = server.io.of('/');
    const timersBefore = countTimeouts();
    const pending = server.client();
    expect(await outcome(pending)).toEqual({ connected: true });
    const serverSocket = seen.sockets.get(pending.id!)!;
    expect(serverSocket.listenerCount('authenticate')).toBe(1);
    pending.disconnect();
    await eventually(() => !serverSocket.connected);
    expect(serverSocket.listenerCount('authenticate')).toBe(0);
    expect(nsp.sockets.size).toBe(0);
    expect(nsp.adapter.sids.size).toBe(0);
    expect(nsp.adapter.rooms.size).toBe(0);
    await eventually(() => countTimeouts() <= timersBefore);
    expect(seen.authenticated).toEqual([]);
  });

  it('leaves no timer, listener or socket behind after 500 sockets that never authenticate are dropped', async () => {
    const TIMEOUT = 10_000; // long enough for 500 sockets to connect on a loaded 2-core machine
    const { server, seen } = await serve({ timeout: TIMEOUT });
    const { io } = server;
    const nsp = io.of('/');
    const listeners = () => ({
      connection: nsp.listenerCount('connection'),
      joinRoom: nsp.adapter.listenerCount('join-room'),
      process: process.listenerCount('exit') + process.listenerCount('uncaughtException'),
    });

    // Warm up once so every per-namespace hook is in place before measuring.
    const warm = server.client();
    await outcome(warm);
    await once(warm, 'disconnect', TIMEOUT + 5000);
    await sleep(100);
    const timersBefore = countTimeouts();
    const listenersBefore = listeners();

    const COUNT = 500;
    const clients: ClientSocket[] = [];
    const disconnected: Promise<unknown>[] = [];
    for (let i = 0; i < COUNT; i += 50) {
      const batch = Array.from({ length: 50 }, () => server.client('/', { timeout: 20_000 }));
      clients.push(...batch);
      disconnected.push(...batch.map((c) => once(c, 'disconnect', 30_000)));
      await Promise.all(batch.map((c) => outcome(c, 20_000)));
    }
    expect(clients.every((c) => c.connected)).toBe(true);
    expect(io.engine.clientsCount).toBe(COUNT);
    // All of them hidden: connected, yet in no Map or room the app can reach.
    expect(nsp.sockets.size).toBe(0);
    expect(nsp.adapter.rooms.size).toBe(0);
    expect((await io.fetchSockets()).length).toBe(0);
    expect(countTimeouts() - timersBefore).toBeGreaterThanOrEqual(COUNT);

    const reasons = await Promise.all(disconnected);
    expect(new Set(reasons)).toEqual(new Set(['io server disconnect']));
    await eventually(() => io.engine.clientsCount === 0, { timeout: 10_000 });
    await eventually(() => countTimeouts() <= timersBefore, { timeout: 10_000 });
    expect(countTimeouts()).toBeLessThanOrEqual(timersBefore);
    expect(nsp.sockets.size).toBe(0);
    expect(nsp.adapter.sids.size).toBe(0);
    expect(nsp.adapter.rooms.size).toBe(0);
    expect(listeners()).toEqual(listenersBefore);
    expect(seen.authenticated).toEqual([]);
  }, 60_000);

  it('is out of reach of io.disconnectSockets() (as of fetchSockets) and still ends at its timeout', async () => {
    const { server } = await serve({ timeout: 600 });
    const witness = server.client();
    await outcome(witness);
    await authenticateClient(witness, hs256({ sub: 'witness' }));
    const pending = server.client();
    expect(await outcome(pending)).toEqual({ connected: true });
    const witnessGone = once<string>(witness, 'disconnect');
    const pendingGone = once<string>(pending, 'disconnect', 5000);
    const pendingRefused = once<{ data: { code: string } }>(pending, 'unauthorized', 5000);
    server.io.disconnectSockets();
    expect(await witnessGone).toBe('io server disconnect');
    expect(pending.connected).toBe(true);
    expect((await pendingRefused).data.code).toBe('authentication_timeout');
    expect(await pendingGone).toBe('io server disconnect');
  });

  it('disconnects quarantined sockets when the server closes', async () => {
    const { server } = await serve({ timeout: 60_000 });
    const pending = server.client();
    expect(await outcome(pending)).toEqual({ connected: true });
    const gone = once<string>(pending, 'disconnect');
    await new Promise<void>((resolve) => server.io.close(() => resolve()));
    expect(await gone).toMatch(/transport close|io server disconnect/);
  });
});

describe('quarantine (Redis adapter, two nodes)', () => {
  let redis: RedisServer;
  const redisClients: Array<{ close(): Promise<unknown> }> = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.allSettled(redisClients.splice(0).map((c) => c.close()));
    await redis?.stop();
  });

  async function withRedisAdapter(io: Server) {
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    redisClients.push(pub, sub);
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }

  it('gets no broadcast sent from another node until it authenticates', async () => {
    const a = await serve({ setup: withRedisAdapter });
    const b = await serve({ setup: withRedisAdapter });

    const witness = a.server.client();
    const witnessGot = record(witness, BROADCASTS);
    await outcome(witness);
    await authenticateClient(witness, hs256({ sub: 'witness' }));

    const pending = a.server.client();
    const pendingGot = record(pending, BROADCASTS);
    expect(await outcome(pending)).toEqual({ connected: true });
    const id = pending.id!;

    // fetchSockets across the cluster does not list it either.
    const everywhere = await b.server.io.fetchSockets();
    expect(everywhere.map((s) => s.id)).toEqual([witness.id]);

    for (let n = 0; n < 5; n++) broadcastAll(b.server.io, id, undefined, n);
    await eventually(() => witnessGot.filter((e) => e.startsWith('io:')).length === 5);
    await sleep(200);

    await authenticateClient(pending);
    broadcastAll(b.server.io, id, undefined, 5);
    await eventually(() => ['io', 'nsp', 'room', 'id-room'].every((b) => pendingGot.includes(`${b}:5`)));
    await sleep(100);
    expect(pendingGot.filter((e) => e !== 'volatile:5').sort()).toEqual(['id-room:5', 'io:5', 'nsp:5', 'room:5']);
    expect((await b.server.io.fetchSockets()).map((s) => s.id).sort()).toEqual([witness.id, id].sort());
  });
});

function countTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

