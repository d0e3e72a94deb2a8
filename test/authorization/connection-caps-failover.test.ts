/**
 * Connection caps through a Redis Cluster failover (issue 24): 3 masters and
 * 3 replicas on loopback (test/helpers/redis-cluster.ts, six processes), two
 * in-process sockpass nodes counting in the cluster with `perUser: 2`
 * (broadcasts between them through a plain redis-server and the classic
 * adapter). A user is held at the cap, its replica has caught up, and the
 * master owning the user's counter slot is killed (SIGKILL):
 *
 * - while the slot has no master, that slot's handshakes are refused with
 *   `store_unavailable` (the cap fails closed, docs/authorization.md) and
 *   answer within the registry's `connections.timeout`; a user on another
 *   master is admitted as usual;
 * - once the replica is promoted the counter reaches it, and the cap still
 *   holds: the replica had the user's two entries, a third socket is
 *   refused with `too_many_connections`, and a release on the new master
 *   lets one in again.
 *
 * Then the master holding the node leases (`sockpass:conns:nodes`) is killed:
 * a handshake at the cap with sockets on the other node needs that node's
 * lease, so it is refused with `store_unavailable` meanwhile, and the cap
 * holds after the promotion (the leases were replicated and had not run out).
 *
 * Before the counter replaced its cluster connection on trouble, the first
 * test failed: node-redis 5 kept sending the slot's commands to the dead
 * master, so the slot's users stayed `store_unavailable` after the promotion.
 */
import { createCluster } from 'redis';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisConnectionCounter } from 'sockpass';
import { startCapsServer, type CapsServer } from '../helpers/caps-server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { clusterNodes, masterOf, startRedisCluster, type RedisClusterServer } from '../helpers/redis-cluster.js';
import { codeOf, once, sleep } from '../helpers/server.js';

/** The registry's wait for the counter (`connections.timeout`): short, so it answers well inside the failover window. */
const TIMEOUT = 500;
/** A handshake must answer within the timeout; this much more is the machine's slack (loopback, 2 loaded cores). */
const SLACK = 2_000;

let redis: RedisServer;
let cluster: RedisClusterServer;
const closers: Array<() => Promise<unknown>> = [];
/** Ports of the nodes a test killed. */
const killed = new Set<number>();

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster({ masters: 3, replicasPerMaster: 1 })]);
}, 90_000);
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});
afterAll(async () => {
  await Promise.allSettled([redis?.stop(), cluster?.stop()]);
});

async function startNode(): Promise<CapsServer> {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
  await client.connect();
  closers.push(() => Promise.race([client.close(), sleep(2_000)]).then(() => client.isOpen && client.destroy()));
  const store = redisConnectionCounter({ client, onError: () => undefined });
  return startCapsServer(redis.url, { perUser: 2, onExceed: 'refuse', store, timeout: TIMEOUT }, closers);
}

/** Waits until `check` holds, polling; throws past `limit` ms. */
async function until(check: () => boolean | Promise<boolean>, limit: number, what: string): Promise<number> {
  const start = performance.now();
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (performance.now() - start > limit) throw new Error(`${what}: not within ${limit} ms`);
    await sleep(50);
  }
  return performance.now() - start;
}

/** A handshake's outcome, and how long it took to answer (it must answer: `codeOf` rejects past its bound). */
async function attempt(node: { as(who: string): ClientSocket }, who: string): Promise<{ code: string; ms: number }> {
  const started = performance.now();
  const code = await codeOf(node.as(who), TIMEOUT + SLACK);
  return { code, ms: performance.now() - started };
}

const key = (user: string) => `sockpass:conns:{${user}}`;

/** Until `replica` holds everything `master` wrote (replication offsets). */
async function untilCaughtUp(master: number, replica: number): Promise<void> {
  const written = Number(/master_repl_offset:(\d+)/.exec(await cluster.cli(master, 'INFO', 'replication'))![1]);
  await until(async () => Number(/slave_repl_offset:(\d+)/.exec(await cluster.cli(replica, 'INFO', 'replication'))![1]) >= written, 5_000, 'replica caught up');
}

/** Until `survivor` sees the cluster whole again with `replica` as a master; how long that took. */
function untilPromoted(survivor: number, replica: number): Promise<number> {
  return until(
    async () => (await cluster.cli(survivor, 'CLUSTER', 'INFO')).includes('cluster_state:ok') && (await clusterNodes(cluster, survivor)).some((n) => n.port === replica && n.master),
    30_000,
    'replica promoted',
  );
}

/** Handshakes of `who` on `node` until the counter answers something other than `store_unavailable`: how long, and every code seen. */
async function untilAnswering(node: { as(who: string): ClientSocket }, who: string, what: string): Promise<{ answered: number; seen: Set<string> }> {
  const seen = new Set<string>();
  const answered = await until(
    async () => {
      const { code } = await attempt(node, who);
      seen.add(code);
      return code !== 'store_unavailable';
    },
    30_000,
    what,
  );
  return { answered, seen };
}

describe('connection caps through a Redis Cluster failover (3 masters, 3 replicas)', () => {
  it('fails closed while the slot has no master, answering within the timeout, and holds the cap on the promoted replica', async () => {
    const a = await startNode();
    const b = await startNode();
    const first = cluster.ports[0]!;
    // A user whose slot's master does not also hold the node leases (the lease-loss case is apart).
    const leases = await masterOf(cluster, 'sockpass:conns:nodes', first);
    let user = '';
    for (let i = 0; user === ''; i++) if ((await masterOf(cluster, key(`ann${i}`), first)) !== leases) user = `ann${i}`;
    const victim = await masterOf(cluster, key(user), first);
    const onVictim = (prefix: string) => (async () => {
      for (let i = 0; ; i++) if ((await masterOf(cluster, key(`${prefix}${i}`), first)) === victim) return `${prefix}${i}`;
    })();
    const onOther = (prefix: string) => (async () => {
      for (let i = 0; ; i++) if ((await masterOf(cluster, key(`${prefix}${i}`), first)) !== victim) return `${prefix}${i}`;
    })();
    const [fresh, later, other] = await Promise.all([onVictim('fay'), onVictim('lou'), onOther('oto')]);

    // The user at the cap, one socket on each node; a third is refused.
    const heldOnA = a.as(user);
    const heldOnB = b.as(user);
    expect(await codeOf(heldOnA)).toBe('connected');
    expect(await codeOf(heldOnB)).toBe('connected');
    expect((await attempt(a, user)).code).toBe('too_many_connections');

    // The victim's replica has everything its master wrote (replication offsets).
    const survivor = cluster.ports.find((p) => p !== victim)!;
    const before = await clusterNodes(cluster, survivor);
    const victimId = before.find((m) => m.port === victim)!.id;
    const replica = before.find((n) => !n.master && n.of === victimId)!.port;
    await untilCaughtUp(victim, replica);

    await cluster.kill(victim);
    killed.add(victim);

    // Failing over: the victim's slots answer store_unavailable, within the timeout; another master's user is served.
    const during = await Promise.all([attempt(a, user), attempt(b, user), attempt(a, fresh), attempt(b, other)]);
    const promotedMeanwhile = (await clusterNodes(cluster, survivor)).some((n) => n.port === replica && n.master);
    console.log(`[caps failover] during the failover: ${during.map((d) => `${d.code} in ${d.ms.toFixed(0)} ms`).join(', ')} (replica promoted by then: ${promotedMeanwhile})`);
    expect(promotedMeanwhile).toBe(false);
    expect(during.map((d) => d.code)).toEqual(['store_unavailable', 'store_unavailable', 'store_unavailable', 'connected']);
    for (const d of during.slice(0, 3)) expect(d.ms).toBeLessThan(TIMEOUT + SLACK);

    const promoted = await untilPromoted(survivor, replica);

    // After the promotion: the counter reaches the new master and the cap still holds (never `connected`).
    const { answered, seen } = await untilAnswering(a, user, 'the counter answering again for the failed-over slot');
    console.log(
      `[caps failover] master ${victim} killed: replica ${replica} promoted after ${promoted.toFixed(0)} ms, ` +
        `the cap answered again ${(promoted + answered).toFixed(0)} ms after the kill; codes seen: ${[...seen].join(', ')}`,
    );
    expect([...seen].filter((c) => c !== 'store_unavailable')).toEqual(['too_many_connections']);
    // Each node replaces its own connection after its own failure, so node B may answer later than A (a loaded machine).
    const onB = await untilAnswering(b, user, 'node B\'s counter answering again for the failed-over slot');
    expect([...onB.seen].filter((c) => c !== 'store_unavailable')).toEqual(['too_many_connections']);

    // A release lands on the new master: one socket may come in again, and no more.
    const gone = once(heldOnB, 'disconnect');
    heldOnB.disconnect();
    await gone;
    await until(async () => (await attempt(b, user)).code === 'connected', 5_000, 'a socket admitted after the release');
    expect((await attempt(a, user)).code).toBe('too_many_connections');
    // The failed-over slots admit new users again.
    expect((await attempt(a, later)).code).toBe('connected');
    heldOnA.disconnect();
  }, 120_000);

  it('holds the cap when the master holding the node leases fails over (the check of the other nodes\' leases fails closed meanwhile)', async () => {
    const a = await startNode();
    const b = await startNode();
    // Asked of a node that is still alive (the first test killed one).
    const live = (await clusterNodes(cluster, cluster.ports.find((p) => !killed.has(p))!)).filter((n) => n.master);
    const first = live[0]!.port;
    const victim = await masterOf(cluster, 'sockpass:conns:nodes', first);
    const survivor = live.find((n) => n.port !== victim)!.port;
    const before = await clusterNodes(cluster, survivor);
    const victimId = before.find((m) => m.port === victim)!.id;
    const replica = before.find((n) => !n.master && n.of === victimId)?.port;
    expect(replica, 'the leases\' master has a replica (the first test failed over another master)').toBeDefined();
    let user = '';
    for (let i = 0; user === ''; i++) if ((await masterOf(cluster, key(`lea${i}`), survivor)) !== victim) user = `lea${i}`;

    // At the cap with one socket on each node: a third needs the other node's lease read.
    const heldOnA = a.as(user);
    const heldOnB = b.as(user);
    expect(await codeOf(heldOnA)).toBe('connected');
    expect(await codeOf(heldOnB)).toBe('connected');
    expect((await attempt(a, user)).code).toBe('too_many_connections');
    await untilCaughtUp(victim, replica!);

    await cluster.kill(victim);
    killed.add(victim);
    const during = await attempt(a, user);
    const promotedMeanwhile = (await clusterNodes(cluster, survivor)).some((n) => n.port === replica && n.master);
    expect(promotedMeanwhile).toBe(false);
    expect(during.code).toBe('store_unavailable');
    expect(during.ms).toBeLessThan(TIMEOUT + SLACK);

    const promoted = await untilPromoted(survivor, replica!);
    const { answered, seen } = await untilAnswering(b, user, 'the counter answering again at the cap');
    console.log(
      `[caps failover] leases' master ${victim} killed: replica ${replica} promoted after ${promoted.toFixed(0)} ms, ` +
        `the cap answered again ${(promoted + answered).toFixed(0)} ms after the kill; codes seen: ${[...seen].join(', ')}`,
    );
    expect([...seen].filter((c) => c !== 'store_unavailable')).toEqual(['too_many_connections']);
    const onA = await untilAnswering(a, user, 'node A\'s counter answering again at the cap');
    expect([...onA.seen].filter((c) => c !== 'store_unavailable')).toEqual(['too_many_connections']);
    heldOnA.disconnect();
    heldOnB.disconnect();
  }, 120_000);
});
