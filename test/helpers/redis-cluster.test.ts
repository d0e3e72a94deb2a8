import { existsSync } from 'node:fs';
import { createCluster } from 'redis';
import { expect, it } from 'vitest';
import { startRedisCluster } from './redis-cluster.js';

it('starts a real 3-master Redis Cluster on free ports, serves every slot, and stops without a trace', async () => {
  const cluster = await startRedisCluster({ masters: 3 });
  try {
    expect(cluster.ports).toHaveLength(3);
    expect(await cluster.cli(cluster.ports[0]!, 'CLUSTER', 'INFO')).toContain('cluster_slots_assigned:16384');
    const client = createCluster({ rootNodes: cluster.rootNodes });
    await client.connect();
    for (let i = 0; i < 30; i++) await client.set(`k${i}`, String(i));
    expect(await client.get('k17')).toBe('17');
    expect(client.masters).toHaveLength(3);
    client.destroy();
  } finally {
    await cluster.stop();
  }
  expect(existsSync(cluster.dir)).toBe(false);
  for (const port of cluster.ports) await expect(cluster.cli(port, 'PING')).rejects.toThrow();
}, 60_000);
