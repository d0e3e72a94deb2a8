/**
 * Starts a real Redis Cluster on loopback for one test file: `masters`
 * redis-server processes (and `replicasPerMaster` replicas each) with
 * `--cluster-enabled yes`, joined by `redis-cli --cluster create`, with no
 * persistence, in a temporary directory. `stop()` kills every process and
 * removes the directory; `kill(port)` kills one node (a master lost, for
 * failover tests). Bus ports are chosen free too (`--cluster-port`): the
 * default port + 10,000 may not exist for a high ephemeral port.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis.js';

const run = promisify(execFile);

export interface RedisClusterServer {
  /** Every node's port, masters first. */
  ports: number[];
  /** The directory holding the nodes' cluster config files; removed by `stop()`. */
  dir: string;
  /** `createCluster({ rootNodes })` input. */
  rootNodes: Array<{ url: string }>;
  /** Kills one node with SIGKILL. */
  kill(port: number): Promise<void>;
  /** SIGSTOP / SIGCONT one node: it holds its connections open and answers nothing. */
  pause(port: number): void;
  resume(port: number): void;
  /** `CLUSTER INFO` / `CLUSTER NODES` etc. on one node, as redis-cli prints it. */
  cli(port: number, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, what: string, limit = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > limit) throw new Error(`redis cluster: ${what} not within ${limit} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<RedisClusterServer> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const count = masters * (1 + replicas);
  const dir = await mkdtemp(join(tmpdir(), 'sockpass-cluster-'));
  const children = new Map<number, ChildProcess>();
  const ports: number[] = [];
  const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
  const stop = async () => {
    await Promise.all(
      [...children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    children.clear();
    await rm(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    for (const c of children.values()) c.kill('SIGKILL');
  });
  try {
    // A port freePort() gave may be taken again before redis-server binds it (another test file, or the
    // other port of this cluster): a node that exits is started again on fresh ports.
    const taken = new Set<number>();
    const fresh = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) return taken.add(p), p;
      }
    };
    for (let i = 0; i < count; i++) {
      for (let attempt = 1; ; attempt++) {
        const port = await fresh();
        const bus = await fresh();
        const child = spawn(
          'redis-server',
          [
            '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
            '--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-config-file', `nodes-${port}.conf`,
            '--cluster-node-timeout', '2000', '--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0', '--appendonly', 'no', '--loglevel', 'warning',
          ],
          { stdio: 'ignore' },
        );
        children.set(port, child);
        const exited = () => child.exitCode !== null || child.signalCode !== null;
        // Up when this child answers (its process id): a redis-server of another test file may hold the port.
        await waitFor(async () => exited() || (await cli(port, 'INFO', 'server')).includes(`process_id:${child.pid}`), `node ${port} up`);
        if (!exited()) {
          ports.push(port);
          break;
        }
        children.delete(port);
        if (attempt === 5) throw new Error(`redis cluster: redis-server exited on start 5 times (ports taken?)`);
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    for (const port of ports) await waitFor(async () => (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), `node ${port} cluster_state:ok`);
    // Replicas report ok before they have synced: wait until each has its link to its master up.
    if (replicas > 0) {
      for (const port of ports) {
        await waitFor(async () => {
          const info = await cli(port, 'INFO', 'replication');
          return info.includes('role:master') || info.includes('master_link_status:up');
        }, `replica ${port} synced`);
      }
      // Gossip tells the other nodes of each replica later still: a failover needs the masters to know the replica
      // (they vote), and the tests read the topology from any node. Every node must see every master's replicas.
      for (const port of ports) {
        await waitFor(async () => {
          const lines = (await cli(port, 'CLUSTER', 'NODES')).split('\n').filter((l) => l.trim() !== '');
          const ofMaster = lines.filter((l) => l.split(' ')[2]!.includes('slave')).map((l) => l.split(' ')[3]);
          const masterIds = lines.filter((l) => l.split(' ')[2]!.includes('master')).map((l) => l.split(' ')[0]);
          return masterIds.length === masters && masterIds.every((id) => ofMaster.filter((of) => of === id).length === replicas);
        }, `node ${port} sees every replica`);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ports,
    dir,
    rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })),
    cli,
    pause: (port) => void children.get(port)?.kill('SIGSTOP'),
    resume: (port) => void children.get(port)?.kill('SIGCONT'),
    async kill(port) {
      const c = children.get(port);
      children.delete(port);
      if (c === undefined || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
    stop,
  };
}

/** One node of the cluster as CLUSTER NODES describes it. */
export interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  /** For a replica, its master's id. */
  of: string;
  slots: string[];
}

/** Each node's port, role, master (for a replica) and slots, as CLUSTER NODES on `alive` says; failed nodes left out. */
export async function clusterNodes(cluster: RedisClusterServer, alive = cluster.ports[0]!): Promise<ClusterNode[]> {
  const out = await cluster.cli(alive, 'CLUSTER', 'NODES');
  return out
    .split('\n')
    .filter((l) => l.trim().length > 0 && !/\bfail\b|fail\?/.test(l.split(' ')[2] ?? ''))
    .map((l) => {
      const f = l.trim().split(' ');
      return { id: f[0]!, port: Number(f[1]!.split(':')[1]!.split('@')[0]), master: f[2]!.includes('master'), of: f[3]!, slots: f.slice(8) };
    });
}

/** The port of the master serving `key`'s slot, as node `alive` sees the cluster (after a kill, ask a node still up). */
export async function masterOf(cluster: RedisClusterServer, key: string, alive = cluster.ports[0]!): Promise<number> {
  const slot = Number((await cluster.cli(alive, 'CLUSTER', 'KEYSLOT', key)).trim());
  const owner = (await clusterNodes(cluster, alive)).find(
    (n) =>
      n.master &&
      n.slots.some((r) => {
        const [lo, hi] = r.split('-').map(Number);
        return lo !== undefined && slot >= lo && slot <= (hi ?? lo);
      }),
  );
  if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
  return owner.port;
}
