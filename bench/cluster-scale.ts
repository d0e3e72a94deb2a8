/**
 * The cluster phase of `npm run bench` (BENCH_PHASES=cluster): many server
 * processes on one shared Redis, as an app runs one Node process per core
 * behind a balancer. BENCH_CLUSTER_NODES nodes of the sp-auth-hs scenario
 * with `@socket.io/redis-adapter` and the Redis ledger (bench/server.ts,
 * `sp-auth-hs-cluster`) on one redis-server, or with
 * BENCH_CLUSTER_REDIS=cluster on a 3-master Redis Cluster (sharded adapter),
 * hold BENCH_CLUSTER_SOCKETS idle authenticated sockets in total (default
 * 12,000, a few minutes; up to 100,000), one user each, opened by client
 * drivers (bench/clients.ts, one per BENCH_CLUSTER_PER_DRIVER sockets). The
 * drivers bind no source address: bind() with port 0 searches the address's
 * bound ports on every call and took 59% of a driver's CPU at 12,000 sockets,
 * so the fill slowed as it grew; connect() alone picks ephemeral ports per
 * destination, and every node has its own port. The fill prints its rate at
 * each 10,000 sockets. It reports:
 *
 * - heap and RSS per socket on each node (after forced GC, with the lasting
 *   nine tenths open, minus the node's weight after its warm-up), and
 *   handshakes/s while filling;
 * - Redis commands per handshake and per revoke (every master's
 *   `total_commands_processed`, less the idle rate: heartbeats);
 * - for BENCH_CLUSTER_REVOKE users revoked on node 1 one after the other:
 *   p50/p99 of the time from `revoke()` resolving to the user's socket cut,
 *   wherever it was (0 when it was cut before the call resolved);
 * - `revoke({ token })` of BENCH_CLUSTER_REVOKE_TOKENS tokens (0 skips it):
 *   how long each call takes (this node's token index, then one server-side
 *   message on which every other node cuts from its own), and how long until
 *   every node has cut;
 * - the CPU of the second in which 10% of all sockets expire, per node;
 * - a reconnect storm: the last node is killed (SIGKILL), its clients
 *   reconnect to the others after socket.io-client's reconnection delay,
 *   revoked and expired ones too: the time until every valid one is back,
 *   and how many revoked ones got in (must be none). With
 *   BENCH_CLUSTER_STANDBY=1 one more node, started empty and filled by no
 *   one, takes them in turn with the survivors.
 *
 * Before starting it refuses a scale the machine cannot hold (open files per
 * process, with the storm's extra sockets on the survivors; memory), and says
 * why. 100,000 sockets on 6 nodes cannot hold a storm onto the 5 survivors
 * under 20,000 open files per process (20,001 sockets each); the refusal
 * names BENCH_CLUSTER_STANDBY=1 (19,445 each) or 7 nodes. A full run:
 * BENCH_PHASES=cluster BENCH_CLUSTER_SOCKETS=100000 BENCH_CLUSTER_REVOKE=10000
 * BENCH_CLUSTER_STANDBY=1 BENCH_CLUSTER_REVOKE_TOKENS=0 npm run bench (about
 * 6 minutes here: the fill at ~2,000 handshakes/s per 10,000 on one core;
 * its figures are in docs/many-nodes.md). The storm also reports the
 * survivors' own sockets it closed, by reason (`ping timeout` at 100,000).
 *
 * Other knobs: BENCH_CLUSTER_PING_INTERVAL (Engine.IO's pingInterval on every
 * node, a deployment's choice for idle sockets; default 25,000 ms) and
 * BENCH_CLUSTER_CPU_PROF=1 (node 1 and driver 1 write a .cpuprofile into
 * bench/results/, read with bench/profile-summary.ts).
 *
 * @module
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freemem, loadavg } from 'node:os';
import { promisify } from 'node:util';
import { closeServer, hardFileLimit, RESULTS_DIR, startClients, startServer, toClients, toServer, type ServerHandle } from './children.js';
import { benchUser, RSA_PUBLIC_ENV, signTokens } from './keys.js';
import { env } from './knobs.js';
import { CLUSTER_SCENARIO } from './scenarios.js';
import { fmt, median, percentile, table } from './stats.js';

const run = promisify(execFile);

export const CLUSTER_NODES = env('BENCH_CLUSTER_NODES', 6);
export const CLUSTER_SOCKETS = env('BENCH_CLUSTER_SOCKETS', 12_000);
const REVOKE = env('BENCH_CLUSTER_REVOKE', 1_000);
const PER_DRIVER = env('BENCH_CLUSTER_PER_DRIVER', 15_000);
/**
 * Tokens revoked by `jti`, one after the other: each call cuts this node's from its token index and sends one
 * message on which every other node cuts its own. 0 skips them (before the index, at 30,000 sockets on a loaded
 * machine a call's fetchSockets waited past the Redis adapter's 5 s `requestsTimeout` and stopped the run).
 */
const REVOKE_TOKENS = process.env.BENCH_CLUSTER_REVOKE_TOKENS === '0' ? 0 : env('BENCH_CLUSTER_REVOKE_TOKENS', 20);
/** BENCH_CLUSTER_CPU_PROF=1: node 1 and driver 1 write a .cpuprofile into bench/results/ (bench/profile-summary.ts reads it). */
const CPU_PROF = process.env.BENCH_CLUSTER_CPU_PROF === '1';
/**
 * BENCH_CLUSTER_PING_INTERVAL (ms, unset: Socket.IO's 25,000): Engine.IO's heartbeat on every node. Every idle
 * socket costs a ping and a pong each interval on both ends; a longer interval is a deployment's choice (it
 * also lengthens how long a silently dead client is held: pingInterval + pingTimeout).
 */
const PING_INTERVAL = process.env.BENCH_CLUSTER_PING_INTERVAL === undefined ? undefined : env('BENCH_CLUSTER_PING_INTERVAL', 25_000);
const REDIS_MODE = process.env.BENCH_CLUSTER_REDIS ?? 'single';
if (REDIS_MODE !== 'single' && REDIS_MODE !== 'cluster') throw new Error('bench: BENCH_CLUSTER_REDIS must be single or cluster');
/**
 * BENCH_CLUSTER_STANDBY=1: one more node, started empty, that no client fills; in the storm the killed node's
 * clients come back to it and to the survivors in turn (as a balancer sends them to a node added to take a
 * failed one's load). It lets the storm fit where the survivors alone would pass the open-file limit.
 */
const STANDBY = process.env.BENCH_CLUSTER_STANDBY === '1';
/** Share of the sockets whose tokens expire in the same second. */
const EXPIRING_SHARE = 0.1;
/**
 * Open files a process needs besides its sockets (node itself, IPC, Redis connections, the listening socket):
 * an empty node holds 26–29 (ls /proc/<pid>/fd).
 */
const SPARE_FILES = 256;
/** What one idle socket costs the machine, server and client process together (measured ~40 KB; with headroom). */
const BYTES_PER_SOCKET_BOTH_ENDS = 80 * 1024;
/**
 * Sockets 127.0.0.1 can open to one node's port: its ephemeral ports, less a margin. The drivers do not bind
 * a source address: bind() with port 0 searches the address's bound ports on every call, which took 59% of a
 * driver's CPU at 12,000 sockets per address (31% of its wall time, `internalConnect`); connect() alone picks
 * a port per destination, and every node has its own.
 */
const PORTS_PER_DESTINATION = 28_000;

export interface NodeFigures {
  sockets: number;
  heapPerSocket: number;
  rssPerSocket: number;
  expiringCut: number;
  expiryCpuMs: number;
  idleCpuMs: number;
}

export interface ClusterResult {
  nodes: number;
  sockets: number;
  redis: string;
  fillSeconds: number;
  perNode: NodeFigures[];
  redisPerHandshake: number;
  redisPerRevoke: number;
  revoke: { users: number; cut: number; callsMs: number; p50: number; p99: number; max: number };
  byToken: { tokens: number; cut: number; p50: number; max: number };
  storm: { valid: number; readmitted: number; p50: number; p99: number; allBackMs: number; revokedTried: number; revokedAdmitted: number; outcomes: Record<string, number>; standbyHolds: number; dropped: Record<string, number> };
  /** Whether a standby node (started empty) took the killed node's clients with the survivors. */
  standby: boolean;
}

/** Open files each node that takes part of the storm needs once it holds its share of the killed node's clients. */
const stormFiles = (nodes: number, standby: boolean) => {
  const perNode = Math.ceil(CLUSTER_SOCKETS / nodes);
  return perNode + Math.ceil(perNode / (nodes - 1 + (standby ? 1 : 0))) + SPARE_FILES;
};

/** Throws with what to do when this machine cannot hold the phase's scale. */
export function checkClusterLimits(): void {
  const hard = hardFileLimit();
  // After the storm the survivors hold the killed node's sockets too (with a standby, it takes a share as well).
  const afterStorm = stormFiles(CLUSTER_NODES, STANDBY);
  if (CLUSTER_NODES < 2) throw new Error('bench: BENCH_CLUSTER_NODES must be at least 2 (one is killed in the storm)');
  if (afterStorm > hard) {
    let nodes = CLUSTER_NODES;
    while (stormFiles(nodes, false) > hard) nodes++;
    const withStandby = stormFiles(CLUSTER_NODES, true);
    throw new Error(
      `bench: ${fmt(CLUSTER_SOCKETS)} sockets on ${CLUSTER_NODES} nodes need ${fmt(afterStorm)} open files in each node ` +
        `(${fmt(afterStorm - SPARE_FILES)} sockets and the process's own) once the storm has moved ` +
        `a killed node's clients to the ${STANDBY ? 'survivors and the standby' : `${CLUSTER_NODES - 1} survivors`}; the per-process hard limit here is ${fmt(hard)}, ` +
        `so that storm cannot be held at this scale. Use ` +
        (!STANDBY && withStandby <= hard
          ? `BENCH_CLUSTER_STANDBY=1 (the fill, revokes and expiry on ${CLUSTER_NODES} nodes; the storm also onto a ${CLUSTER_NODES + 1}th node started empty: ${fmt(withStandby)} files each), `
          : '') +
        `BENCH_CLUSTER_NODES=${nodes} or more, fewer sockets, or raise the limit (as root: ulimit -Hn; docker: --ulimit nofile=N:N).`,
    );
  }
  if (afterStorm - SPARE_FILES > PORTS_PER_DESTINATION) {
    throw new Error(`bench: ${fmt(afterStorm - SPARE_FILES)} sockets per node exceed the ~${fmt(PORTS_PER_DESTINATION)} ephemeral ports 127.0.0.1 has towards one node's port; use more nodes`);
  }
  if (PER_DRIVER + SPARE_FILES > hard) {
    throw new Error(`bench: BENCH_CLUSTER_PER_DRIVER=${PER_DRIVER} exceeds what one client process may open here (hard limit ${fmt(hard)})`);
  }
  const needBytes = CLUSTER_SOCKETS * BYTES_PER_SOCKET_BOTH_ENDS;
  if (needBytes > freemem()) {
    throw new Error(
      `bench: ${fmt(CLUSTER_SOCKETS)} sockets need ~${fmt(needBytes / 2 ** 30, 1)} GiB (server and client ends, ~${BYTES_PER_SOCKET_BOTH_ENDS / 1024} KB each); ` +
        `${fmt(freemem() / 2 ** 30, 1)} GiB are free. Lower BENCH_CLUSTER_SOCKETS.`,
    );
  }
}

interface SharedRedis {
  /** Node URLs clients connect to. */
  urls: string[];
  /** Every master's port, to count commands on. */
  masters: number[];
  stop(): Promise<void>;
}

async function startSharedRedis(): Promise<SharedRedis> {
  if (REDIS_MODE === 'cluster') {
    const { startRedisCluster } = await import('../test/helpers/redis-cluster.js');
    const cluster = await startRedisCluster({ masters: 3 });
    return { urls: cluster.rootNodes.map((n) => n.url), masters: cluster.ports, stop: () => cluster.stop() };
  }
  const { startRedis } = await import('../test/helpers/redis.js');
  const redis = await startRedis();
  return { urls: [redis.url], masters: [redis.port], stop: () => redis.stop() };
}

/** Commands Redis has processed so far, over every master. */
async function redisCommands(masters: readonly number[]): Promise<number> {
  let total = 0;
  for (const port of masters) {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'stats']);
    total += Number(/total_commands_processed:(\d+)/.exec(stdout)?.[1] ?? Number.NaN);
  }
  return total;
}

/** Calls per command (INFO commandstats) over every master: which commands a step costs. */
async function redisCommandStats(masters: readonly number[]): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const port of masters) {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'commandstats']);
    for (const [, name, n] of stdout.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(name!, (calls.get(name!) ?? 0) + Number(n));
  }
  return calls;
}

/** `after − before` per command, largest first, as `name n` (the commands a step made, heartbeats included). */
function statsDiff(before: Map<string, number>, after: Map<string, number>): string {
  return [...after]
    .map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Socket i's node and driver: round robin over the nodes, then over the drivers, so every node and driver gets a share. */
const nodeOf = (i: number) => i % CLUSTER_NODES;
const driverOf = (i: number, drivers: number) => Math.floor(i / CLUSTER_NODES) % drivers;

/** Opens `tokens` (socket `first + i` each) on their nodes from their drivers; resolves with the wall time in seconds. */
async function fill(
  nodes: readonly ServerHandle[],
  drivers: readonly ChildProcess[],
  tokens: readonly string[],
  first: number,
  concurrency: number,
  progress?: (line: string) => void,
): Promise<number> {
  const jobs = new Map<string, { node: number; driver: number; tokens: string[] }>();
  tokens.forEach((token, k) => {
    const i = first + k;
    const [node, driver] = [nodeOf(i), driverOf(i, drivers.length)];
    const key = `${node}/${driver}`;
    if (!jobs.has(key)) jobs.set(key, { node, driver, tokens: [] });
    jobs.get(key)!.tokens.push(token);
  });
  // Each driver keeps `concurrency` handshakes in flight in all, spread over its jobs.
  const perJob = Math.max(1, Math.round(concurrency / CLUSTER_NODES));
  const started = performance.now();
  const watch = progress === undefined ? undefined : watchFill(nodes, first, tokens.length, started, progress);
  const runs = await Promise.all(
    [...jobs.values()].map((job) =>
      toClients<'handshakes'>(drivers[job.driver]!, {
        type: 'handshakes',
        url: nodes[job.node]!.url,
        credential: 'auth',
        credentials: job.tokens,
        concurrency: perJob,
      }, Math.max(300_000, job.tokens.length * 200)),
    ),
  );
  watch?.stop();
  const failed = runs.find((r) => r.failures > 0);
  if (failed !== undefined) throw new Error(`bench: cluster: ${failed.failures} handshakes failed (first: ${failed.firstError})`);
  return (performance.now() - started) / 1000;
}

/**
 * Polls the nodes' counts once a second while a fill runs and prints the rate at each 10,000 sockets
 * (over that 10,000 and since the start), so a rate that falls as the nodes fill shows where.
 */
function watchFill(nodes: readonly ServerHandle[], first: number, count: number, started: number, progress: (line: string) => void): { stop(): void } {
  const STEP = 10_000;
  let stopped = false;
  let mark = { sockets: first, at: started };
  let next = (Math.floor(first / STEP) + 1) * STEP;
  const poll = async () => {
    while (!stopped) {
      await sleep(1000);
      if (stopped) return;
      const total = await totalInNamespace(nodes).catch(() => undefined);
      if (total === undefined || total < next || stopped) continue;
      const now = performance.now();
      progress(
        `bench: cluster: filling: ${fmt(total)} sockets after ${((now - started) / 1000).toFixed(0)} s; ` +
          `${fmt((total - mark.sockets) / ((now - mark.at) / 1000))} handshakes/s over the last ${fmt(total - mark.sockets)}, ` +
          `${fmt((total - first) / ((now - started) / 1000))} since the start; load average ${loadavg()[0]!.toFixed(1)}`,
      );
      mark = { sockets: total, at: now };
      next = (Math.floor(total / STEP) + 1) * STEP;
      if (total >= first + count) return;
    }
  };
  void poll();
  return { stop: () => void (stopped = true) };
}

async function totalInNamespace(nodes: readonly ServerHandle[]): Promise<number> {
  const counts = await Promise.all(nodes.map((n) => toServer<'count'>(n, { type: 'count' })));
  return counts.reduce((sum, c) => sum + c.inNamespace, 0);
}

async function waitForTotal(nodes: readonly ServerHandle[], target: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let total = await totalInNamespace(nodes);
  while (total > target && Date.now() < deadline) {
    await sleep(20);
    total = await totalInNamespace(nodes);
  }
  return total;
}

export async function runClusterScale(setup: { publicKey: string; privateKey: string; concurrency: number; log: (line: string) => void }): Promise<ClusterResult> {
  const { log, concurrency } = setup;
  checkClusterLimits();
  const redis = await startSharedRedis();
  const driverCount = Math.max(2, Math.ceil(CLUSTER_SOCKETS / PER_DRIVER));
  const nodeFiles = stormFiles(CLUSTER_NODES, STANDBY);
  const stormTargets = CLUSTER_NODES - 1 + (STANDBY ? 1 : 0);
  log(
    `bench: cluster phase: ${fmt(CLUSTER_SOCKETS)} sockets on ${CLUSTER_NODES} nodes, Redis ${REDIS_MODE}, ${driverCount} client drivers (no source address bound); ` +
      `storm: node ${CLUSTER_NODES} killed, its clients back on ${STANDBY ? `the ${CLUSTER_NODES - 1} survivors and a standby node ${CLUSTER_NODES + 1} started empty` : `the ${CLUSTER_NODES - 1} survivors`} ` +
      `(${fmt(nodeFiles - SPARE_FILES)} sockets each at most); pingInterval ${fmt(PING_INTERVAL ?? 25_000)} ms`,
  );
  let standby: ServerHandle | undefined;
  const nodes: ServerHandle[] = [];
  const share = Math.ceil(CLUSTER_SOCKETS / driverCount);
  const drivers = Array.from({ length: driverCount }, (_, d) => startClients(Math.min(hardFileLimit(), share + Math.ceil(share / stormTargets) + SPARE_FILES), CPU_PROF && d === 0));
  try {
    const env = {
      BENCH_CLUSTER_REDIS_URLS: redis.urls.join(','),
      BENCH_CLUSTER_REDIS: REDIS_MODE,
      ...(PING_INTERVAL === undefined ? {} : { BENCH_PING_INTERVAL_MS: String(PING_INTERVAL) }),
    };
    for (let n = 0; n < CLUSTER_NODES; n++) {
      const cpuProf = CPU_PROF && n === 0 ? [CLUSTER_SCENARIO.id] : [];
      const started = await startServer(CLUSTER_SCENARIO, { publicKey: setup.publicKey, files: nodeFiles, env, cpuProf }, RSA_PUBLIC_ENV);
      if (typeof started === 'string') throw new Error(`bench: cluster node skipped: ${started}`);
      nodes.push(started);
    }
    if (STANDBY) {
      const started = await startServer(CLUSTER_SCENARIO, { publicKey: setup.publicKey, files: nodeFiles, env }, RSA_PUBLIC_ENV);
      if (typeof started === 'string') throw new Error(`bench: cluster standby skipped: ${started}`);
      standby = started;
    }
    const expiring = Math.round(CLUSTER_SOCKETS * EXPIRING_SHARE);
    const lasting = CLUSTER_SOCKETS - expiring;
    const revokeCount = Math.min(REVOKE, lasting);

    // Warm up (JIT) and weigh each node before any socket of the phase: users past every socket's number.
    await fill(nodes, drivers, signTokens(100 * CLUSTER_NODES, 'HS256', setup.privateKey, { first: CLUSTER_SOCKETS }), 0, concurrency);
    await Promise.all(drivers.map((d) => toClients<'ok'>(d, { type: 'disconnect-all' })));
    await waitForTotal(nodes, 0, 30_000);
    await sleep(500);
    const before = await Promise.all(nodes.map((n) => toServer<'heap'>(n, { type: 'heap' })));

    // The idle rate of Redis commands (heartbeats), to take out of the per-handshake and per-revoke counts.
    const idleFrom = [await redisCommands(redis.masters), performance.now()] as const;
    await sleep(2000);
    const idleRate = ((await redisCommands(redis.masters)) - idleFrom[0]) / (performance.now() - idleFrom[1]);
    const commandsDuring = async (work: () => Promise<unknown>) => {
      const [c0, t0] = [await redisCommands(redis.masters), performance.now()];
      await work();
      const [c1, t1] = [await redisCommands(redis.masters), performance.now()];
      return Math.max(0, c1 - c0 - idleRate * (t1 - t0));
    };

    let fillSeconds = 0;
    const lastingTokens = signTokens(lasting, 'HS256', setup.privateKey);
    const fillCommands = await commandsDuring(async () => {
      fillSeconds = await fill(nodes, drivers, lastingTokens, 0, concurrency, log);
    });
    log(`bench: cluster: ${fmt(lasting)} sockets in ${fillSeconds.toFixed(1)} s (${fmt(lasting / fillSeconds)} handshakes/s)`);
    // Weighed with the lasting sockets open, before the expiring ones: forced GCs on every node take long
    // enough at scale to eat into the expiring tokens' lifetime.
    await sleep(1000);
    const full = await Promise.all(nodes.map((n) => toServer<'heap'>(n, { type: 'heap' })));
    const counts = await Promise.all(nodes.map((n) => toServer<'count'>(n, { type: 'count' })));
    log(`bench: cluster: RSS per node ${full.map((h) => fmt(h.rss / 2 ** 20)).join(' / ')} MiB`);
    // One `exp` for the expiring tenth, far enough ahead for them to connect: 4× the time the fill's rate
    // gives, and at least 2 minutes (other work on the machine cut a 100,000 run's rate by half at its end,
    // and 103 of 10,000 expired before they connected).
    const exp = Math.ceil((Date.now() + Math.max(120_000, (expiring / (lasting / fillSeconds)) * 4000)) / 1000);
    await fill(nodes, drivers, signTokens(expiring, 'HS256', setup.privateKey, { first: lasting, exp }), lasting, concurrency, log);
    if (Date.now() >= exp * 1000 - 1500) throw new Error('bench: cluster: connecting took longer than the tokens live');
    const total = await totalInNamespace(nodes);
    if (total !== CLUSTER_SOCKETS) throw new Error(`bench: cluster: ${total} of ${CLUSTER_SOCKETS} sockets connected`);
    log(`bench: cluster: ${fmt(total)} sockets open`);

    // Expiry: every node's second, at once.
    const expiringOn = (n: number) => Array.from({ length: expiring }, (_, k) => lasting + k).filter((i) => nodeOf(i) === n).length;
    const expiries = await Promise.all(
      nodes.map((node, n) => toServer<'expiry'>(node, { type: 'expiry', atMs: exp * 1000, expected: expiringOn(n) }, exp * 1000 - Date.now() + 120_000)),
    );
    log(`bench: cluster: expiry: ${expiries.map((e) => e.cut).reduce((a, b) => a + b, 0)} of ${expiring} cut; CPU ms per node ${expiries.map((e) => fmt(e.cpuMicros / 1000)).join(' / ')}`);

    // Revocation: users spread over every node, revoked on node 1.
    const users = Array.from({ length: revokeCount }, (_, i) => benchUser(i));
    await Promise.all(nodes.map((n) => toServer<'ok'>(n, { type: 'cuts-start' })));
    const beforeRevoke = await totalInNamespace(nodes);
    let resolvedAt: number[] = [];
    let callsMs = 0;
    const statsBefore = await redisCommandStats(redis.masters);
    const revokeCommands = await commandsDuring(async () => {
      const t0 = performance.now();
      resolvedAt = (await toServer<'revoke-timed'>(nodes[0]!, { type: 'revoke-timed', users }, 600_000)).resolvedAt;
      callsMs = performance.now() - t0;
      await waitForTotal(nodes, beforeRevoke - revokeCount, 60_000);
    });
    log(`bench: cluster: Redis commands during the revokes (heartbeats included): ${statsDiff(statsBefore, await redisCommandStats(redis.masters))}`);
    const cutAt = new Map<string, number>();
    for (const node of nodes) {
      const c = await toServer<'cuts'>(node, { type: 'cuts' });
      c.users.forEach((u, i) => cutAt.set(u, Math.max(cutAt.get(u) ?? 0, c.at[i]!)));
    }
    const waits = users.flatMap((u, i) => (cutAt.has(u) ? [Math.max(0, cutAt.get(u)! - resolvedAt[i]!)] : []));
    const revoke = { users: revokeCount, cut: waits.length, callsMs, p50: percentile(waits, 50), p99: percentile(waits, 99), max: Math.max(...waits) };
    log(`bench: cluster: revoke() of ${revokeCount} users: ${waits.length} cut; after the call resolved p50 ${revoke.p50.toFixed(2)} ms, p99 ${revoke.p99.toFixed(2)} ms`);

    // revoke({ token }) of tokens of users not revoked, on node 1: each call waits for every node to cut its own.
    const jtis = lastingTokens
      .slice(revokeCount, revokeCount + Math.min(REVOKE_TOKENS, lasting - revokeCount))
      .map((t) => String((JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { jti: unknown }).jti));
    const beforeTokens = await totalInNamespace(nodes);
    const tokenCalls =
      jtis.length === 0
        ? []
        : (
            await toServer<'revoke-tokens'>(nodes[0]!, { type: 'revoke-tokens', jtis }, 600_000).catch((err: Error) => {
              throw new Error(`${err.message} (revoke({ token }) of ${jtis.length} tokens; BENCH_CLUSTER_REVOKE_TOKENS=0 skips that step)`);
            })
          ).callsMs;
    const tokensLeft = await waitForTotal(nodes, beforeTokens - jtis.length, 30_000);
    const byToken = { tokens: jtis.length, cut: beforeTokens - tokensLeft, p50: median(tokenCalls), max: Math.max(...tokenCalls) };
    if (jtis.length > 0) log(`bench: cluster: revoke({ token }) of ${jtis.length} tokens: ${byToken.cut} cut; each call p50 ${byToken.p50.toFixed(1)} ms, max ${byToken.max.toFixed(1)} ms`);

    // The storm: the last node dies; its clients (valid, revoked and expired) come back to the others.
    const victim = nodes[nodes.length - 1]!;
    // With a standby, it takes the killed node's clients in turn with the survivors.
    const survivors = [...nodes.slice(0, -1), ...(standby === undefined ? [] : [standby])];
    const onVictim = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k).filter((i) => nodeOf(i) === nodes.length - 1);
    const revokedOnVictim = onVictim(0, revokeCount + jtis.length).length;
    const validOnVictim = onVictim(revokeCount + jtis.length, lasting).length;
    await Promise.all(drivers.map((d) => toClients<'ok'>(d, { type: 'arm-failover', from: victim.url, to: survivors.map((s) => s.url) })));
    // What the survivors' own sockets closed by before the storm, to tell the ones the storm dropped.
    const closedBefore = await Promise.all(survivors.map((n) => toServer<'count'>(n, { type: 'count' })));
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    nodes.pop();
    const replies = await Promise.all(drivers.map((d) => toClients<'failover'>(d, { type: 'failover-wait', ms: 360_000 }, 420_000)));
    const outcomes: Record<string, number> = {};
    for (const r of replies) for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    const back = replies.flatMap((r) => r.admittedAt.map((t) => t - killedAt));
    const revoked = new Set([...users, ...Array.from({ length: jtis.length }, (_, k) => benchUser(revokeCount + k))]);
    const revokedAdmitted = replies.reduce((sum, r) => sum + r.admittedUsers.filter((u) => revoked.has(u)).length, 0);
    const survivorsHold = await totalInNamespace(survivors);
    const closedAfter = await Promise.all(survivors.map((n) => toServer<'count'>(n, { type: 'count' })));
    const dropped: Record<string, number> = {};
    closedAfter.forEach((c, k) => {
      for (const [reason, n] of Object.entries(c.closedBy ?? {})) {
        const d = n - (closedBefore[k]!.closedBy?.[reason] ?? 0);
        if (d > 0) dropped[reason] = (dropped[reason] ?? 0) + d;
      }
    });
    const standbyHolds = standby === undefined ? 0 : await totalInNamespace([standby]);
    const storm = {
      valid: validOnVictim,
      readmitted: outcomes.connected ?? 0,
      p50: percentile(back, 50),
      p99: percentile(back, 99),
      allBackMs: back.length > 0 ? Math.max(...back) : Number.NaN,
      revokedTried: revokedOnVictim,
      revokedAdmitted,
      outcomes,
      standbyHolds,
      dropped,
    };
    log(`bench: cluster: storm: ${storm.readmitted} of ${validOnVictim} valid clients back within ${fmt(storm.allBackMs)} ms; outcomes ${JSON.stringify(outcomes)}; survivors hold ${survivorsHold}${standby === undefined ? '' : ` (the standby ${standbyHolds})`}; sockets the survivors closed during it, by reason: ${JSON.stringify(dropped)}`);

    const perNode: NodeFigures[] = full.map((f, n) => ({
      sockets: counts[n]!.inNamespace + expiringOn(n),
      heapPerSocket: (f.heapUsed - before[n]!.heapUsed) / counts[n]!.inNamespace,
      rssPerSocket: (f.rss - before[n]!.rss) / counts[n]!.inNamespace,
      expiringCut: expiries[n]!.cut,
      expiryCpuMs: expiries[n]!.cpuMicros / 1000,
      idleCpuMs: expiries[n]!.idleCpuMicros / 1000,
    }));
    return {
      nodes: CLUSTER_NODES,
      sockets: CLUSTER_SOCKETS,
      redis: REDIS_MODE === 'cluster' ? 'Redis Cluster, 3 masters (sharded adapter)' : 'one redis-server (classic adapter)',
      fillSeconds,
      perNode,
      redisPerHandshake: fillCommands / lasting,
      redisPerRevoke: revokeCommands / revokeCount,
      revoke,
      byToken,
      storm,
      standby: STANDBY,
    };
  } finally {
    await Promise.all(drivers.map((d) => toClients<'ok'>(d, { type: 'close' }).catch(() => undefined)));
    await Promise.allSettled([...nodes, ...(standby === undefined ? [] : [standby])].map((n) => closeServer(n)));
    await redis.stop();
  }
}

export function renderCluster(r: ClusterResult): string {
  const lasting = r.sockets - Math.round(r.sockets * EXPIRING_SHARE);
  const out = [
    `### Cluster (${fmt(r.sockets)} idle sockets, one user each, on ${r.nodes} server processes${r.standby ? ` and a standby node ${r.nodes + 1} for the storm, started empty` : ''}; ${r.redis}; one run)`,
    '',
    table(
      ['node', 'sockets', 'heap B/socket', 'RSS B/socket', 'expired in one second', 'CPU ms of that second', 'CPU ms of the idle second before'],
      r.perNode.map((n, i) => [String(i + 1), fmt(n.sockets), fmt(n.heapPerSocket), fmt(n.rssPerSocket), fmt(n.expiringCut), fmt(n.expiryCpuMs), fmt(n.idleCpuMs)]),
    ),
    '',
    table(
      ['figure', 'value'],
      [
        ['median heap per socket over the nodes', `${fmt(median(r.perNode.map((n) => n.heapPerSocket)))} B`],
        ['median RSS per socket over the nodes', `${fmt(median(r.perNode.map((n) => n.rssPerSocket)))} B`],
        ['handshakes/s while filling (all nodes)', fmt(lasting / r.fillSeconds)],
        ['Redis commands per handshake (less heartbeats)', fmt(r.redisPerHandshake, 2)],
        ['Redis commands per revoke() of a user (less heartbeats)', fmt(r.redisPerRevoke, 1)],
        [`revoke() of ${fmt(r.revoke.users)} users on node 1, one after the other`, `${fmt(r.revoke.callsMs)} ms; ${fmt(r.revoke.cut)} cut`],
        ['from revoke() resolving to the socket cut, wherever it is: p50 / p99 / max', `${r.revoke.p50.toFixed(2)} / ${r.revoke.p99.toFixed(2)} / ${r.revoke.max.toFixed(2)} ms`],
        r.byToken.tokens === 0
          ? ['revoke({ token })', 'not run (BENCH_CLUSTER_REVOKE_TOKENS=0)']
          : [`revoke({ token }) of ${fmt(r.byToken.tokens)} tokens on node 1, each call (its token index, one message to the others): p50 / max`, `${r.byToken.p50.toFixed(1)} / ${r.byToken.max.toFixed(1)} ms; ${fmt(r.byToken.cut)} cut`],
        ['CPU of the second in which 10% expire: sum over the nodes', `${fmt(r.perNode.reduce((s, n) => s + n.expiryCpuMs, 0))} ms`],
        [
          `storm: node ${r.nodes} killed, its valid clients re-admitted by ${r.standby ? `the ${r.nodes - 1} others and a standby node started empty` : `the ${r.nodes - 1} others`}`,
          `${fmt(r.storm.readmitted - r.storm.revokedAdmitted)} of ${fmt(r.storm.valid)}${r.standby ? ` (${fmt(r.storm.standbyHolds)} on the standby)` : ''}`,
        ],
        ['storm: time from the kill to re-admission, p50 / p99 / all back', `${fmt(r.storm.p50)} / ${fmt(r.storm.p99)} / ${fmt(r.storm.allBackMs)} ms`],
        ['storm: revoked clients (by user or by token) of that node that tried / got in', `${fmt(r.storm.revokedTried)} / ${fmt(r.storm.revokedAdmitted)}`],
        ['storm: outcomes', Object.entries(r.storm.outcomes).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')],
        [
          "storm: the survivors' own sockets closed during it (not reopened: the drivers' sockets do not reconnect), by reason",
          Object.entries(r.storm.dropped).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || 'none',
        ],
      ],
    ),
    '',
    `Clients reconnect after 500–1500 ms (socket.io-client's first reconnection delay; again with its backoff when an attempt times out), so the storm's times include that delay. ` +
      `A revoke's wait is 0 when the socket was cut before the call resolved (a socket on node 1). ` +
      `Knobs: BENCH_CLUSTER_NODES=${r.nodes} BENCH_CLUSTER_SOCKETS=${r.sockets} BENCH_CLUSTER_REVOKE=${r.revoke.users} BENCH_CLUSTER_REDIS=${REDIS_MODE}${r.standby ? ' BENCH_CLUSTER_STANDBY=1' : ''}${PING_INTERVAL === undefined ? '' : ` BENCH_CLUSTER_PING_INTERVAL=${PING_INTERVAL}`}; ` +
      `open-file hard limit per process here ${fmt(hardFileLimit())}.`,
  ];
  return out.join('\n');
}

/** Writes the table, with `footer` (the machine), to bench/results/cluster-<sockets>-<redis>.md; returns the table. */
export function writeCluster(r: ClusterResult, footer: string): string {
  const text = renderCluster(r);
  writeFileSync(`${RESULTS_DIR}cluster-${r.sockets}-${REDIS_MODE}.md`, `${text}\n\n${footer}\n`);
  return text;
}
