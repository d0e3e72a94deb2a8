/**
 * Connection caps across nodes on a real redis-server: each node has its own
 * SockPass and its own `redisConnectionCounter`, and the nodes share
 * broadcasts through @socket.io/redis-adapter, as separate processes would.
 * A user is held to `perUser` in total; `replace-oldest` cuts the oldest
 * socket on the other node; a node killed with SIGKILL (its own process: no
 * release, no lease ended) stops counting within its `nodeTtl`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, redisConnectionCounter, REPLACED_EVENT, type ConnectionsRedisClient, type OnExceed } from 'sockpass';
import { closeClient, startRedis, type RedisServer } from '../helpers/redis.js';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/eventually.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type User = { id: string };
type Client = ReturnType<typeof createClient>;

const NODE_TTL = 1500;

let redis: RedisServer;
const redisClients: Client[] = [];
const closers: Array<() => Promise<unknown>> = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  await Promise.allSettled(redisClients.splice(0).map((c) => closeClient(c)));
  const flush = await connected();
  await flush.flushAll();
  await closeClient(flush);
  redisClients.splice(0);
});
afterAll(async () => {
  await redis?.stop();
});

async function connected(): Promise<Client> {
  const client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  redisClients.push(client);
  await client.connect();
  return client;
}

async function withRedisAdapter(io: Server): Promise<void> {
  const pub = await connected();
  const sub = await connected();
  io.adapter(createAdapter(pub, sub));
}

/** Counts the round trips the counter makes for sockets (each `eval` is one), leaving out the lease renewals that run on their own timer. */
function counting(client: Client): ConnectionsRedisClient & { calls: number; cutOff: boolean } {
  return {
    calls: 0,
    /** Stands for a network partition between this node and Redis. */
    cutOff: false,
    eval(script, options) {
      if (!script.includes('ZREMRANGEBYSCORE')) this.calls++;
      if (this.cutOff) return Promise.reject(new Error('cut off from Redis'));
      return client.eval(script, options);
    },
    get isReady() {
      return client.isReady;
    },
  };
}

interface Node {
  server: TestServer;
  redis: ReturnType<typeof counting>;
  counter: ReturnType<typeof redisConnectionCounter>;
  as(sub: string): ClientSocket;
}

async function startNode(perUser: number, onExceed: OnExceed): Promise<Node> {
  const redisCalls = counting(await connected());
  const counter = redisConnectionCounter({ client: redisCalls, nodeTtl: NODE_TTL });
  const auth = new SockPass<User>({ connections: { perUser, onExceed, store: counter } }).use(
    'jwt-auth',
    jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }),
  );
  const server = await startServer(async (io) => {
    await withRedisAdapter(io);
    io.use(auth.middleware('jwt-auth'));
  });
  closers.push(async () => {
    await server.close();
    await counter.close();
  });
  return { server, redis: redisCalls, counter, as: (sub) => server.client('/', { auth: { token: hs256({ sub }) } }) };
}

/** A node in its own process (test/helpers/caps-node.ts), to be killed. */
async function startChildNode(perUser: number): Promise<{ child: ChildProcess; as(sub: string): ClientSocket }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/caps-node.ts'], {
    env: { ...process.env, REDIS_URL: redis.url, PER_USER: String(perUser), NODE_TTL: String(NODE_TTL) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let errors = '';
  child.stderr?.on('data', (d) => (errors += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child node did not start: ${errors}`)), 20_000);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => reject(new Error(`the child node exited (${code}): ${errors}`)));
  });
  const sockets: ClientSocket[] = [];
  closers.push(async () => sockets.forEach((s) => s.disconnect()));
  return {
    child,
    as(sub) {
      const socket = connectClient(`http://127.0.0.1:${port}/`, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000, auth: { token: hs256({ sub }) } });
      sockets.push(socket);
      return socket;
    },
  };
}

describe('connection caps on two nodes sharing one Redis', () => {
  it('holds a user to perUser 2 in total across both nodes; one round trip per handshake below the cap', async () => {
    const a = await startNode(2, 'refuse');
    const b = await startNode(2, 'refuse');
    await sleep(50); // both leases registered

    const before = a.redis.calls;
    const onA = a.as('alice');
    expect(await codeOf(onA)).toBe('connected');
    const belowCap = a.redis.calls - before;

    const onB = b.as('alice');
    expect(await codeOf(onB)).toBe('connected');
    const atCap = a.redis.calls;
    expect(await codeOf(a.as('alice'))).toBe('too_many_connections');
    const refusedAtCap = a.redis.calls - atCap;
    expect(await codeOf(b.as('alice'))).toBe('too_many_connections');
    expect(await codeOf(a.as('bob'))).toBe('connected');

    // Release: one disconnect on B frees a place, taken on A.
    const released = b.redis.calls;
    onB.disconnect();
    await eventually(() => b.counter.size === 0 && b.redis.calls > released, { timeout: 10_000 });
    await eventually(async () => (await codeOf(a.as('alice'))) === 'connected', { timeout: 10_000 });

    // Round trips of the counter (each one EVAL): a handshake below the cap, its release, a refusal at the cap.
    expect(belowCap).toBe(1);
    expect(b.redis.calls - released).toBe(1);
    expect(refusedAtCap).toBe(3);
    console.log(`redis round trips: admit below cap ${belowCap}, release 1, refusal at cap ${refusedAtCap}`);
  });

  it('admits exactly perUser of a burst of sockets opened on both nodes at once', async () => {
    const a = await startNode(2, 'refuse');
    const b = await startNode(2, 'refuse');
    await sleep(50);
    const burst = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).as('carol'));
    const codes = await Promise.all(burst.map((c) => codeOf(c)));
    expect(codes.filter((c) => c === 'connected')).toHaveLength(2);
    expect(codes.filter((c) => c === 'too_many_connections')).toHaveLength(6);
    expect(a.counter.size + b.counter.size).toBe(2);
    // Every release reaches Redis: once the sockets are gone, no user key is left.
    for (const c of burst) c.disconnect();
    await eventually(() => a.counter.size + b.counter.size === 0, { timeout: 10_000 });
    const probe = await connected();
    await eventually(async () => (await probe.keys('sockpass:conns:{*')).length === 0, { timeout: 10_000 });
  });

  it('replace-oldest cuts the oldest socket on the other node with connection_replaced', async () => {
    const a = await startNode(2, 'replace-oldest');
    const b = await startNode(2, 'replace-oldest');
    await sleep(50);
    const oldestOnB = b.as('dana');
    expect(await codeOf(oldestOnB)).toBe('connected');
    await sleep(5); // distinct admission times
    const secondOnA = a.as('dana');
    expect(await codeOf(secondOnA)).toBe('connected');
    const notices: unknown[] = [];
    oldestOnB.on(REPLACED_EVENT, (n: unknown) => notices.push(n));
    const cut = once<string>(oldestOnB, 'disconnect');

    const newestOnA = a.as('dana');
    expect(await codeOf(newestOnA)).toBe('connected');
    expect(await cut).toBe('io server disconnect');
    expect(notices).toEqual([{ code: 'connection_replaced', message: expect.any(String), action: 'stop' }]);
    await sleep(200);
    expect(secondOnA.connected && newestOnA.connected).toBe(true);
    await eventually(() => b.counter.size === 0, { timeout: 10_000 });
    expect(a.counter.size).toBe(2);
    expect((await a.server.io.in('user:dana').fetchSockets()).length).toBe(2);
  });

  it(`stops counting a SIGKILLed node's sockets within its nodeTtl (${NODE_TTL} ms)`, async () => {
    const a = await startNode(2, 'refuse');
    const doomed = await startChildNode(2);
    expect(await codeOf(doomed.as('erin'))).toBe('connected');
    expect(await codeOf(doomed.as('erin'))).toBe('connected');
    // Counted on the other node while the doomed one lives.
    expect(await codeOf(a.as('erin'))).toBe('too_many_connections');

    const exited = new Promise((resolve) => doomed.child.once('exit', resolve));
    doomed.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    let admittedAt = 0;
    await eventually(async () => {
      const code = await codeOf(a.as('erin'));
      if (code === 'connected') admittedAt = Date.now();
      else expect(code).toBe('too_many_connections');
      return admittedAt > 0;
    }, { timeout: 15_000 });
    const waited = admittedAt - killedAt;
    console.log(`dead node's sockets stopped counting ${waited} ms after SIGKILL (nodeTtl ${NODE_TTL} ms)`);
    // The bound is nodeTtl from the last renewal, which is before the kill; slack for a loaded machine's handshakes.
    expect(waited).toBeLessThan(NODE_TTL + 2000);
    expect(await codeOf(a.as('erin'))).toBe('connected');
    expect(await codeOf(a.as('erin'))).toBe('too_many_connections');
  }, 60_000);

  it('a node cut off from Redis longer than its lease puts its sockets back once it is reachable again', async () => {
    const a = await startNode(1, 'refuse');
    const b = await startNode(1, 'refuse');
    await sleep(50);
    const onB = b.as('iris');
    expect(await codeOf(onB)).toBe('connected');
    b.redis.cutOff = true;
    /** One handshake on A, whose socket leaves at once (so A's own sockets never hold the place). */
    const probe = async (): Promise<string> => {
      const client = a.as('iris');
      const code = await codeOf(client);
      client.disconnect();
      await eventually(() => a.counter.size === 0, { timeout: 10_000 });
      return code;
    };
    // Past B's lease, A takes B's entry for a dead node's: the user gets a second socket (B's still lives).
    await eventually(async () => (await probe()) === 'connected', { timeout: 10_000 });
    expect(onB.connected).toBe(true);
    b.redis.cutOff = false;
    // B's next renewal finds its lease lapsed and puts its socket back: the user is at the cap again.
    await eventually(async () => (await probe()) === 'too_many_connections', { timeout: 10_000 });
  }, 30_000);

  it('refuses with store_unavailable within the timeout while Redis is down, and admits again once it is back', async () => {
    const client = createClient({ url: redis.url, disableOfflineQueue: true });
    client.on('error', () => undefined);
    await client.connect();
    closers.push(() => closeClient(client));
    const counter = redisConnectionCounter({ client, nodeTtl: NODE_TTL });
    const auth = new SockPass<User>({ connections: { perUser: 2, store: counter, timeout: 500 } }).use(
      'jwt-auth',
      jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }),
    );
    const server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    closers.push(async () => {
      await server.close();
      await counter.close();
    });
    const as = (who: string) => server.client('/', { auth: { token: hs256({ sub: who }) } });
    expect(await codeOf(as('jack'))).toBe('connected');
    await redis.stop();
    const started = Date.now();
    expect(await codeOf(as('jack'))).toBe('store_unavailable');
    expect(Date.now() - started).toBeLessThan(3000);
    await redis.restart();
    await eventually(async () => (await codeOf(as('kim'))) === 'connected', { timeout: 15_000 });
  }, 40_000);

  it('a graceful close ends the lease at once: the closed node\'s entries stop counting at the next check', async () => {
    const a = await startNode(1, 'refuse');
    const b = await startNode(1, 'refuse');
    await sleep(50);
    expect(await codeOf(b.as('fred'))).toBe('connected');
    expect(await codeOf(a.as('fred'))).toBe('too_many_connections');
    // The counter closes before its sockets' releases reach Redis (they are dropped): only the lease tells.
    await b.counter.close();
    expect(await codeOf(a.as('fred'))).toBe('connected');
  });
});
