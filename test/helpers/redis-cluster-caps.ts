/**
 * Starts a real 3-master Redis Cluster (Debian's redis-server and redis-cli)
 * on loopback ports, no replicas, no persistence, for one test file of the
 * connection caps; `stop()` kills every node and removes their files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RedisCluster {
  ports: number[];
  /** `redis://127.0.0.1:<port>` of each master, for `createCluster({ rootNodes })`. */
  urls: string[];
  stop(): Promise<void>;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sockpass-caps-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir,
        '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
      ],
      { stdio: 'ignore' },
    ),
  );
  const kill = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  process.once('exit', kill);
  try {
    for (const port of ports) await waitFor(async () => (await cli(port, 'PING')).trim() === 'PONG', `node ${port} up`);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) await waitFor(async () => (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), `cluster ok on ${port}`);
  } catch (err) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ports,
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    async stop() {
      await Promise.all(
        children.map((c) => (c.exitCode !== null ? undefined : new Promise<void>((resolve) => (c.once('exit', () => resolve()), c.kill('SIGKILL'))))),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The port of the master that serves `key`'s slot (read from each node's own line of CLUSTER NODES). */
export async function masterOf(cluster: RedisCluster, key: string): Promise<number> {
  const slot = Number((await cli(cluster.ports[0]!, 'CLUSTER', 'KEYSLOT', key)).trim());
  for (const port of cluster.ports) {
    const myself = (await cli(port, 'CLUSTER', 'NODES')).split('\n').find((l) => l.includes('myself'));
    const ranges = (myself ?? '').trim().split(' ').slice(8);
    const owns = ranges.some((r) => {
      const [lo, hi] = r.split('-').map(Number);
      return lo !== undefined && slot >= lo && slot <= (hi ?? lo);
    });
    if (owns) return port;
  }
  throw new Error(`no master owns slot ${slot}`);
}
