/**
 * The Redis revocation ledger through a Redis Cluster failover: 3 masters and
 * 3 replicas on loopback; a master holding ledger entries is killed, its
 * replica is promoted, and the nodes of the app go on: the entries it held are
 * still refused (the replica had them), a node started after the failover
 * loads them, and revocations recorded afterwards in its slots propagate.
 */
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisLedger, type RevocationLedger } from 'sockpass';
import { clusterNodes, startRedisCluster, type RedisClusterServer } from '../helpers/redis-cluster.js';
import { sleep } from '../helpers/server.js';

type Cluster = ReturnType<typeof createCluster>;

let cluster: RedisClusterServer;
const clients: Cluster[] = [];
const ledgers: RevocationLedger[] = [];
const prefix = 'failover:revoked:';
const HOUR = 3_600_000;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(ledgers.map((l) => l.close()));
  await Promise.allSettled(clients.map((c) => Promise.race([c.close(), sleep(2_000)]).then(() => c.isOpen && c.destroy())));
  await cluster?.stop();
});

async function node() {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  const ledger = redisLedger({ client, prefix, heartbeat: 250, timeout: 500, onError: () => undefined });
  ledgers.push(ledger);
  await ledger.ready();
  return { client, ledger };
}

async function until(check: () => boolean | Promise<boolean>, limit: number, what: string): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > limit) throw new Error(`${what}: not within ${limit} ms`);
    await sleep(20);
  }
  return performance.now() - start;
}

describe('redisLedger through a Redis Cluster failover', () => {
  it('keeps refusing what the lost master held, loads it on a new node, and propagates new revocations in its slots', async () => {
    const a = await node();
    const b = await node();
    const users = Array.from({ length: 90 }, (_, i) => `user-${i}`);
    for (const u of users) await a.ledger.record({ kind: 'user', id: u, at: Date.now(), until: Date.now() + HOUR });
    await until(() => users.every((u) => b.ledger.isRevoked({ user: u }) !== undefined), 5_000, 'B has every entry');

    // The first master, and its replica caught up with it (WAIT on a key of one of its slots).
    const before = await clusterNodes(cluster);
    const victim = before.find((n) => n.master && n.slots.length > 0)!.port;
    const survivor = cluster.ports.find((p) => p !== victim)!;
    const held = Number((await cluster.cli(victim, 'DBSIZE')).trim());
    expect(held).toBeGreaterThan(0);
    await until(async () => {
      const replicas = (await clusterNodes(cluster, survivor)).filter((n) => !n.master);
      const sizes = await Promise.all(replicas.map(async (r) => Number((await cluster.cli(r.port, 'DBSIZE')).trim())));
      return sizes.includes(held);
    }, 5_000, 'replica caught up');

    await cluster.kill(victim);
    const killed = performance.now();
    const untrusted = await until(() => !b.ledger.trusted, 3_000, 'B untrusted');
    await until(async () => (await cluster.cli(survivor, 'CLUSTER', 'INFO')).includes('cluster_state:ok') && !(await clusterNodes(cluster, survivor)).some((n) => n.port === victim && n.master), 20_000, 'failover');
    const failedOver = performance.now() - killed;
    // Nothing was lost from the mirrors meanwhile.
    expect(users.every((u) => b.ledger.isRevoked({ user: u }) !== undefined)).toBe(true);

    await until(() => a.ledger.trusted && b.ledger.trusted, 20_000, 'A and B trusted again');
    const trustedAgain = performance.now() - killed;
    console.log(
      `[redis-ledger failover] master ${victim} (${held} keys) killed: B untrusted after ${untrusted.toFixed(0)} ms, ` +
        `replica promoted after ${failedOver.toFixed(0)} ms, A and B trusted again after ${trustedAgain.toFixed(0)} ms`,
    );
    const late = await node();
    expect(late.ledger.size).toBe(users.length);
    expect(users.every((u) => late.ledger.isRevoked({ user: u }) !== undefined)).toBe(true);

    // New revocations, some in the promoted replica's slots, reach every node.
    const more = Array.from({ length: 30 }, (_, i) => `later-${i}`);
    for (const u of more) await a.ledger.record({ kind: 'user', id: u, at: Date.now(), until: Date.now() + HOUR });
    await until(() => more.every((u) => b.ledger.isRevoked({ user: u }) !== undefined && late.ledger.isRevoked({ user: u }) !== undefined), 5_000, 'new revocations everywhere');
  }, 90_000);
});
