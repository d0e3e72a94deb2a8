/**
 * Connection caps on a real 3-master Redis Cluster (node-redis
 * `createCluster`): each user's key carries the user id as a hash tag, so the
 * users spread over the masters while each check-and-add stays one atomic
 * script on one slot. Broadcasts between the two Socket.IO nodes go through a
 * plain redis-server and @socket.io/redis-adapter; only the counter runs on
 * the cluster. A node killed with SIGKILL stops counting within its nodeTtl.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCluster } from 'redis';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisConnectionCounter, REPLACED_EVENT, type OnExceed } from 'sockpass';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { masterOf, startRedisCluster, type RedisClusterServer } from '../helpers/redis-cluster.js';
import { startCapsServer, type CapsServer } from '../helpers/caps-server.js';
import { codeOf, once, sleep } from '../helpers/server.js';
import { hs256 } from '../helpers/tokens.js';

const NODE_TTL = 1500;

let redis: RedisServer;
let cluster: RedisClusterServer;
const closers: Array<() => Promise<unknown>> = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster({ masters: 3 })]);
}, 60_000);
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});
afterAll(async () => {
  await Promise.allSettled([redis?.stop(), cluster?.stop()]);
});

async function clusterClient() {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
  await client.connect();
  closers.push(() => client.close());
  return client;
}

async function startNode(perUser: number, onExceed: OnExceed): Promise<CapsServer> {
  const store = redisConnectionCounter({ client: await clusterClient(), nodeTtl: NODE_TTL });
  return startCapsServer(redis.url, { perUser, onExceed, store }, closers);
}

async function startChildNode(perUser: number): Promise<{ child: ChildProcess; as(sub: string): ClientSocket }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/caps-node.ts'], {
    env: { ...process.env, REDIS_URL: redis.url, CLUSTER_URLS: cluster.rootNodes.map((n) => n.url).join(','), PER_USER: String(perUser), NODE_TTL: String(NODE_TTL) },
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
    as(who) {
      const socket = connectClient(`http://127.0.0.1:${port}/`, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000, auth: { token: hs256({ sub: who }) } });
      sockets.push(socket);
      return socket;
    },
  };
}

describe('connection caps on a 3-master Redis Cluster', () => {
  it('holds each user to perUser 2 across two nodes, with the users\' keys spread over the masters', async () => {
    const a = await startNode(2, 'refuse');
    const b = await startNode(2, 'refuse');
    await sleep(50);
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8'];
    const masters = new Set(await Promise.all(users.map((u) => masterOf(cluster, `sockpass:conns:{${u}}`))));
    expect(masters.size).toBeGreaterThan(1);
    for (const user of users) {
      expect(await codeOf(a.as(user))).toBe('connected');
      expect(await codeOf(b.as(user))).toBe('connected');
    }
    for (const user of users) {
      expect(await codeOf(a.as(user))).toBe('too_many_connections');
      expect(await codeOf(b.as(user))).toBe('too_many_connections');
    }
  }, 60_000);

  it('replace-oldest cuts the oldest socket on the other node', async () => {
    const a = await startNode(2, 'replace-oldest');
    const b = await startNode(2, 'replace-oldest');
    await sleep(50);
    const oldest = b.as('gina');
    expect(await codeOf(oldest)).toBe('connected');
    await sleep(5);
    expect(await codeOf(a.as('gina'))).toBe('connected');
    const notice = once<{ code: string }>(oldest, REPLACED_EVENT);
    const cut = once<string>(oldest, 'disconnect');
    expect(await codeOf(a.as('gina'))).toBe('connected');
    expect((await notice).code).toBe('connection_replaced');
    expect(await cut).toBe('io server disconnect');
  });

  it(`stops counting a SIGKILLed node's sockets within its nodeTtl (${NODE_TTL} ms)`, async () => {
    const a = await startNode(2, 'refuse');
    const doomed = await startChildNode(2);
    expect(await codeOf(doomed.as('hank'))).toBe('connected');
    expect(await codeOf(doomed.as('hank'))).toBe('connected');
    expect(await codeOf(a.as('hank'))).toBe('too_many_connections');
    const exited = new Promise((resolve) => doomed.child.once('exit', resolve));
    doomed.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    for (;;) {
      const code = await codeOf(a.as('hank'));
      if (code === 'connected') break;
      expect(code).toBe('too_many_connections');
      expect(Date.now() - killedAt).toBeLessThan(15_000);
      await sleep(25);
    }
    const waited = Date.now() - killedAt;
    console.log(`cluster: dead node's sockets stopped counting ${waited} ms after SIGKILL (nodeTtl ${NODE_TTL} ms)`);
    expect(waited).toBeLessThan(NODE_TTL + 2000);
  }, 60_000);
});
