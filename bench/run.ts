/**
 * `npm run bench`: sockpass against bare Socket.IO and the peer libraries, in
 * one run. Starts one client-driver process (bench/clients.ts), then runs
 * interleaved rounds — every scenario once per round, so slow drift of a
 * shared machine hits all of them alike — each scenario in a new server
 * process (bench/server.ts) warmed up before it is measured, so the bias one
 * process can carry is drawn anew each round; servers and clients are pinned
 * to separate CPUs where possible (bench/placement.ts). It prints medians over
 * rounds, with ratios taken round by round against the baselines of the same
 * run, and the A/A control (jwt-key-twin against jwt-key) as the noise floor:
 *
 * - handshakes: authenticated connections/s, latency p50/p99, server CPU time
 *   per handshake (`process.cpuUsage()` in the server process);
 * - events: acked events/s and server CPU per event, without and with `auth.guard`;
 * - memory: server heap per idle authenticated socket after forced GC, against
 *   bare and the prepared-key middleware;
 * - scale (bench/scale.ts): BENCH_SCALE idle sockets on one server, heap and
 *   RSS per socket, the second in which 10% expire, revoke() of 10,000 users;
 * - cluster (bench/cluster-scale.ts, not run unless named in BENCH_PHASES):
 *   BENCH_CLUSTER_SOCKETS sockets over BENCH_CLUSTER_NODES server processes
 *   on one shared Redis, cross-node revoke, expiry and a reconnect storm.
 *
 * Every socket has its own token and its own user unless BENCH_USERS=shared.
 * Everything is on loopback, bounded in count and time, and stops by itself.
 * Knobs (environment): BENCH_ROUNDS (5), BENCH_FRESH (1; 0: one server per
 * scenario for all rounds), BENCH_PIN (1; 0: no CPU pinning), BENCH_WARMUP
 * (300 handshakes before each measured round), BENCH_CLIENTS (1500),
 * BENCH_CONCURRENCY (50), BENCH_MEMORY_SOCKETS (1000), BENCH_USERS
 * (distinct|shared), BENCH_SCALE (16000), BENCH_SCALE_REVOKE (10000),
 * BENCH_SCALE_PER_DRIVER (15000), BENCH_CLUSTER_NODES (6), BENCH_CLUSTER_SOCKETS
 * (12000), BENCH_CLUSTER_REVOKE (1000), BENCH_CLUSTER_REDIS (single|cluster), BENCH_ONLY (comma list of scenario ids,
 * for quick runs), BENCH_PHASES (handshakes,events,memory,scale),
 * BENCH_CPU_PROF=<scenarios> (writes a .cpuprofile of each of those server
 * processes into bench/results/), BENCH_HEAP_SNAPSHOT=<scenarios> (a heap snapshot with the
 * memory round's sockets open, same place), BENCH_BASE=<commit> (adds sp-auth-hs-base: the
 * jwt-auth server on that commit's build, measured in the same rounds).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { childrenExited, closeServer, hardFileLimit, drain as drainAll, RESULTS_DIR, startClients, startServer, stopChildren, toClients as toDriver, toServer, type ServerHandle } from './children.js';
import { PLACEMENT, pinOrchestrator } from './placement.js';
import { makeRsaPair, RSA_PUBLIC_ENV, signTokens } from './keys.js';
import type { ClientReply, ClientRequest } from './protocol.js';
import { checkScaleLimits, runScale, SCALE, type ScaleResult } from './scale.js';
import { checkClusterLimits, runClusterScale, writeCluster } from './cluster-scale.js';
import { EVENT_SCENARIOS, HANDSHAKE_SCENARIOS, MEMORY_SCENARIOS, SCALE_SCENARIOS, type Scenario } from './scenarios.js';
import { diffs, fmt, median, medianInterval, pairedDiff, pairedRatio, percentile, ratio, ratios, table } from './stats.js';
import { env } from './knobs.js';
import { prepareBase } from './base-build.js';

const ROUNDS = env('BENCH_ROUNDS', 5);
const CLIENTS = env('BENCH_CLIENTS', 1500);
const CONCURRENCY = env('BENCH_CONCURRENCY', 50);
const MEMORY_SOCKETS = env('BENCH_MEMORY_SOCKETS', 1000);
/** Handshakes each server makes before it is measured (its JIT warm-up); the memory phase warms up the same way. */
const WARMUP_CLIENTS = env('BENCH_WARMUP', Math.min(CLIENTS, 300));
/**
 * Default: a new server process per scenario per round (each warmed up alike), so the
 * ±10–15% by which two processes running the same code can differ is drawn anew every
 * round. BENCH_FRESH=0: one server per scenario for all rounds.
 */
const FRESH = process.env.BENCH_FRESH !== '0';
const EVENT_SOCKETS = 50;
const EVENTS_PER_SOCKET = 1000;
const EVENT_WINDOW = 8;
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const CPU_PROF = process.env.BENCH_CPU_PROF?.split(',') ?? [];
const HEAP_SNAPSHOT = process.env.BENCH_HEAP_SNAPSHOT?.split(',') ?? [];
const PHASES = new Set((process.env.BENCH_PHASES ?? 'handshakes,events,memory,scale').split(','));
/** `distinct` (default): one token and one user per socket. `shared`: every socket sends the same token of one user. */
const USERS = process.env.BENCH_USERS ?? 'distinct';
if (USERS !== 'distinct' && USERS !== 'shared') throw new Error('bench: BENCH_USERS must be distinct or shared');
/** A commit to measure beside this tree (the sp-auth-hs-base scenario), e.g. the main a change started from. */
const BASE = process.env.BENCH_BASE || undefined;
/** The whole run stops after this, whatever state it is in. */
const RUN_TIMEOUT_MS = env('BENCH_TIMEOUT_MS', 30 * 60_000);

let clients: ChildProcess;
const toClients = <T extends ClientReply['type']>(body: ClientRequest) => toDriver<T>(clients, body);
const drain = (server: ServerHandle) => drainAll(server, [clients]);

interface HandshakeRound {
  connPerSec: number;
  p50: number;
  p99: number;
  cpuPerHandshake: number;
  /** User CPU only: the JavaScript work, without the kernel's loopback TCP time, which a loaded machine makes noisy. */
  userPerHandshake: number;
}

interface Credentials {
  tokens: Record<'HS256' | 'RS256', string[]>;
  cookies: string[];
}

function credentialsFor(scenario: Scenario, creds: Credentials, count: number): string[] {
  const list = scenario.credential === 'cookie' ? creds.cookies : creds.tokens[scenario.algorithm];
  return list.slice(0, count);
}

async function handshakeRound(server: ServerHandle, creds: Credentials, count: number, concurrency = CONCURRENCY): Promise<HandshakeRound> {
  await toServer<'ok'>(server, { type: 'measure-start' });
  const run = await toClients<'handshakes'>({
    type: 'handshakes',
    url: server.url,
    credential: server.scenario.credential,
    credentials: credentialsFor(server.scenario, creds, count),
    concurrency,
  });
  const measured = await toServer<'measured'>(server, { type: 'measure-stop' });
  await drain(server);
  if (run.failures > 0) {
    throw new Error(`bench: ${server.scenario.id}: ${run.failures} of ${count} handshakes failed (first: ${run.firstError})`);
  }
  if (measured.handshakes !== count) {
    throw new Error(`bench: ${server.scenario.id}: server counted ${measured.handshakes} authenticated connections, expected ${count}`);
  }
  return {
    connPerSec: count / (run.wallMs / 1000),
    p50: percentile(run.latenciesMs, 50),
    p99: percentile(run.latenciesMs, 99),
    cpuPerHandshake: measured.cpuMicros / measured.handshakes,
    userPerHandshake: measured.userMicros / measured.handshakes,
  };
}

/**
 * A server's warm-up: its first handshakes one at a time, then WARMUP_CLIENTS
 * at the bench's concurrency. V8 sizes each class's instances (slack
 * tracking) from the first few it builds; with 50 connections in flight the
 * first `net.Socket`s and `WritableState`s were built before they had all
 * their properties, so whether a later socket's properties spilled into a
 * 40 B `PropertyArray` varied from one server process to the next (±80 B per
 * socket in the memory phase, in either direction). Built one at a time,
 * every process sizes them alike.
 */
const ONE_AT_A_TIME = 16;

async function warmUpHandshakes(server: ServerHandle, creds: Credentials): Promise<void> {
  await handshakeRound(server, creds, ONE_AT_A_TIME, 1);
  // In rounds of at most BENCH_CLIENTS: the credentials made for a round are reused.
  for (let left = WARMUP_CLIENTS; left > 0; left -= CLIENTS) await handshakeRound(server, creds, Math.min(left, CLIENTS));
}

interface EventRound {
  eventsPerSec: number;
  cpuPerEvent: number;
}

async function eventRound(server: ServerHandle, creds: Credentials): Promise<EventRound> {
  const connected = await toClients<'handshakes'>({
    type: 'handshakes',
    url: server.url,
    credential: 'auth',
    credentials: creds.tokens.HS256.slice(0, EVENT_SOCKETS),
    concurrency: CONCURRENCY,
  });
  if (connected.failures > 0) throw new Error(`bench: ${server.scenario.id}: event sockets failed to connect (${connected.firstError})`);
  await toServer<'ok'>(server, { type: 'measure-start' });
  const run = await toClients<'events'>({ type: 'events', perSocket: EVENTS_PER_SOCKET, window: EVENT_WINDOW });
  const measured = await toServer<'measured'>(server, { type: 'measure-stop' });
  await drain(server);
  const expected = EVENT_SOCKETS * EVENTS_PER_SOCKET;
  if (run.failures > 0 || run.events !== expected || measured.events !== expected) {
    throw new Error(`bench: ${server.scenario.id}: ${run.events}/${expected} events answered, server saw ${measured.events} (${run.firstError})`);
  }
  return { eventsPerSec: run.events / (run.wallMs / 1000), cpuPerEvent: measured.cpuMicros / measured.events };
}

interface MemoryRound {
  bytesPerSocket: number;
  claimsPerSocket: number;
}

/**
 * Heap with the sockets open minus heap once they are gone, both after forced
 * GC: weighing the empty server afterwards rather than before cancels code the
 * JIT compiled during the round, which would otherwise count as per-socket.
 */
async function memoryRound(server: ServerHandle, creds: Credentials): Promise<MemoryRound> {
  const run = await toClients<'handshakes'>({
    type: 'handshakes',
    url: server.url,
    credential: server.scenario.credential,
    credentials: credentialsFor(server.scenario, creds, MEMORY_SOCKETS),
    concurrency: CONCURRENCY,
  });
  if (run.failures > 0) throw new Error(`bench: ${server.scenario.id}: memory sockets failed to connect (${run.firstError})`);
  // Let every socket settle (timers armed, rooms joined) before weighing.
  await new Promise((r) => setTimeout(r, 500));
  const snapshotDir = HEAP_SNAPSHOT.includes(server.scenario.id) ? RESULTS_DIR : undefined;
  const after = await toServer<'heap'>(server, { type: 'heap', claims: true, snapshotDir });
  await drain(server);
  const empty = await toServer<'heap'>(server, { type: 'heap' });
  return {
    bytesPerSocket: (after.heapUsed - empty.heapUsed) / MEMORY_SOCKETS,
    claimsPerSocket: (after.claimsBytes ?? 0) / MEMORY_SOCKETS,
  };
}

/** Taken before the orchestrator pins itself to one CPU, which would make it 1. */
const CPUS = availableParallelism();

function machine(): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: leave it unknown
  }
  return `${CPUS} × ${cpu}, Node ${process.version}, ${process.platform}/${process.arch}; ${PLACEMENT.note}`;
}

function processes(): string {
  return FRESH ? 'a new server process per scenario per round' : 'one server process per scenario for all rounds (BENCH_FRESH=0)';
}

const log = (line: string) => process.stderr.write(`${line}\n`);

type Phase = 'handshakes' | 'events' | 'memory';

/** What one phase does with a server: warm it up, measure one round, log the round. */
interface PhaseRun<R> {
  scenarios: Scenario[];
  results: Map<string, R[]>;
  warm(server: ServerHandle): Promise<unknown>;
  measure(server: ServerHandle): Promise<R>;
  describe(r: R): string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  pinOrchestrator();
  const selected = (list: readonly Scenario[]) =>
    list.filter((s) => (ONLY === undefined || ONLY.includes(s.id)) && (s.id !== 'sp-auth-hs-base' || BASE !== undefined));
  if (BASE !== undefined) {
    log(`bench: building BENCH_BASE=${BASE}`);
    process.env.BENCH_BASE_DIST = prepareBase(BASE);
  }
  const byId = (id: string) => HANDSHAKE_SCENARIOS.find((h) => h.id === id)!;
  const shared = USERS === 'shared';
  const scaleScenarios = PHASES.has('scale') ? selected(SCALE_SCENARIOS.map(byId)) : [];
  if (scaleScenarios.length > 0) checkScaleLimits();
  if (PHASES.has('cluster')) checkClusterLimits();
  log(`bench: ${ROUNDS} rounds × ${CLIENTS} clients (concurrency ${CONCURRENCY}, ${USERS} users); ${machine()}; ${processes()}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const { publicKey, privateKey } = makeRsaPair();
  const creds: Credentials = {
    tokens: { HS256: signTokens(Math.max(CLIENTS, MEMORY_SOCKETS), 'HS256', privateKey, { shared }), RS256: [] },
    cookies: [],
  };

  const phases: { [P in Phase]: PhaseRun<P extends 'handshakes' ? HandshakeRound : P extends 'events' ? EventRound : MemoryRound> } = {
    handshakes: {
      scenarios: PHASES.has('handshakes') ? selected(HANDSHAKE_SCENARIOS) : [],
      results: new Map(),
      warm: (server) => warmUpHandshakes(server, creds),
      measure: (server) => handshakeRound(server, creds, CLIENTS),
      describe: (r) =>
        `${fmt(r.connPerSec).padStart(6)} conn/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  ` +
        `${fmt(r.cpuPerHandshake)} µs CPU/handshake (${fmt(r.userPerHandshake)} user)`,
    },
    events: {
      scenarios: PHASES.has('events') ? selected(EVENT_SCENARIOS) : [],
      results: new Map(),
      warm: (server) => eventRound(server, creds),
      measure: (server) => eventRound(server, creds),
      describe: (r) => `${fmt(r.eventsPerSec).padStart(6)} events/s  ${r.cpuPerEvent.toFixed(1)} µs CPU/event`,
    },
    memory: {
      scenarios: PHASES.has('memory') ? selected(MEMORY_SCENARIOS.map(byId)) : [],
      results: new Map(),
      warm: (server) => warmUpHandshakes(server, creds),
      measure: (server) => memoryRound(server, creds),
      describe: (r) => `${fmt(r.bytesPerSocket)} B heap/socket (claims ${fmt(r.claimsPerSocket)} B)`,
    },
  };
  const needed = new Map<string, Scenario>();
  for (const phase of Object.values(phases)) for (const s of phase.scenarios) needed.set(s.id, s);
  if ([...needed.values()].some((s) => s.algorithm === 'RS256')) creds.tokens.RS256 = signTokens(CLIENTS, 'RS256', privateKey, { shared });

  clients = startClients();
  const skipped = new Map<string, string>();
  /** Starts a scenario's server (the session scenario's users log in to it); undefined when it skips. */
  const open = async (s: Scenario): Promise<ServerHandle | undefined> => {
    if (skipped.has(s.id)) return undefined;
    const outcome = await startServer(s, { publicKey, cpuProf: CPU_PROF }, RSA_PUBLIC_ENV);
    if (typeof outcome === 'string') {
      skipped.set(s.id, outcome);
      log(`bench: SKIPPED ${s.label}: ${outcome}`);
      return undefined;
    }
    // Sessions live in the server's MemoryStore, so each new session server needs its own logins.
    if (s.credential === 'cookie') creds.cookies = (await toClients<'login'>({ type: 'login', url: outcome.url, count: CLIENTS })).cookies;
    return outcome;
  };

  // BENCH_FRESH=0: one server per scenario for the whole run, started and warmed up once.
  const longLived = new Map<string, ServerHandle>();
  if (!FRESH) {
    const servers = await Promise.all([...needed.values()].map(async (s) => [s.id, await open(s)] as const));
    for (const [id, server] of servers) if (server !== undefined) longLived.set(id, server);
    const warmed = new Set<string>();
    for (const phase of Object.values(phases) as PhaseRun<unknown>[]) {
      for (const s of phase.scenarios) {
        const server = longLived.get(s.id);
        // A server both phases use is warmed once with handshakes (events warm their own servers).
        if (server === undefined || (phase !== phases.events && warmed.has(s.id))) continue;
        warmed.add(s.id);
        await phase.warm(server);
      }
    }
    log('bench: warm-up done');
  }

  // Each round starts one scenario further along, so no scenario always runs first or last
  // (a full run showed later positions in a round costing up to ~10% more server CPU).
  const rotated = <T>(list: readonly T[], round: number): T[] => list.map((_, i) => list[(i + round - 1) % list.length]!);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const phase of Object.values(phases) as PhaseRun<unknown>[]) {
      for (const s of rotated(phase.scenarios, round)) {
        // By default every round gets a new server, warmed up the same way: a bias of one process
        // (JIT timing, heap layout) then differs from round to round and the median of ratios averages it out.
        const server = FRESH ? await open(s) : longLived.get(s.id);
        if (server === undefined) continue;
        try {
          if (FRESH) await phase.warm(server);
          const r = await phase.measure(server);
          phase.results.set(s.id, [...(phase.results.get(s.id) ?? []), r]);
          log(`round ${round} ${s.id.padEnd(13)} ${phase.describe(r)}`);
        } finally {
          if (FRESH) await closeServer(server);
        }
      }
    }
  }

  // The round servers go before the scale phase, which wants the machine to itself.
  await Promise.allSettled([...longLived.values()].map((s) => closeServer(s)));
  await toClients<'ok'>({ type: 'close' }).catch(() => undefined);
  const scale =
    scaleScenarios.length > 0
      ? await runScale(scaleScenarios, { publicKey, privateKey, concurrency: CONCURRENCY, cpuProf: CPU_PROF, log })
      : new Map<string, ScaleResult | string>();

  // Last, with the machine to itself: many server processes on one shared Redis.
  const cluster = PHASES.has('cluster') ? await runClusterScale({ publicKey, privateKey, concurrency: CONCURRENCY, log }) : undefined;

  const hs = phases.handshakes.results;
  const ev = phases.events.results;
  const mem = phases.memory.results;
  writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify({ rounds: ROUNDS, fresh: FRESH, placement: PLACEMENT, handshakes: Object.fromEntries(hs), events: Object.fromEntries(ev), memory: Object.fromEntries(mem) }, null, 1)}\n`);
  let report = render({ hs, ev, mem, scale, skipped, loadBefore, seconds: (Date.now() - started) / 1000 });
  if (cluster !== undefined) {
    report = `${writeCluster(cluster, `Machine: ${machine()}; load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end; ${new Date().toISOString().slice(0, 16)}Z.`)}\n${report}`;
    log(`bench: cluster table written to bench/results/cluster-*.md`);
  }
  process.stdout.write(`\n${report}\n`);
  writeFileSync(`${RESULTS_DIR}latest.md`, `${report}\n`);
  log(`bench: written to bench/results/latest.md (the rounds themselves: latest.json)`);
  // Let the children exit on their own (a --cpu-prof profile is written at exit); stopChildren() kills stragglers.
  await childrenExited(10_000);
}

interface NoiseFloor {
  /** Median of the A/A control's per-round ratios: 1.00 for a bench without bias; its distance from 1.00 is the floor. */
  median: number;
  /** The ≥90% interval of that median (NaN below 5 rounds). */
  low: number;
  high: number;
  /** The lowest and highest per-round ratio. */
  min: number;
  max: number;
}

function noiseFloor(perRound: readonly number[]): NoiseFloor {
  const { low, high } = medianInterval(perRound);
  return { median: median(perRound), low, high, min: Math.min(...perRound), max: Math.max(...perRound) };
}

interface Results {
  hs: Map<string, HandshakeRound[]>;
  ev: Map<string, EventRound[]>;
  mem: Map<string, MemoryRound[]>;
  scale: Map<string, ScaleResult | string>;
  skipped: Map<string, string>;
  loadBefore: number;
  seconds: number;
}

function render({ hs, ev, mem, scale, skipped, loadBefore, seconds }: Results): string {
  const out: string[] = [];
  const label = (id: string) => [...HANDSHAKE_SCENARIOS, ...EVENT_SCENARIOS].find((s) => s.id === id)!.label;
  const pick = <T>(rounds: T[] | undefined, key: keyof T) => (rounds ?? []).map((r) => r[key] as number);
  const bare = hs.get('bare');
  const key = hs.get('jwt-key');
  const twin = hs.get('jwt-key-twin');
  /** The A/A control for one handshake metric: jwt-key-twin's per-round ratios to jwt-key (undefined without the twin). */
  const control = (k: keyof HandshakeRound) => (twin && key ? noiseFloor(ratios(pick(twin, k), pick(key, k))) : undefined);
  const targets: string[] = [];
  /** One target row from its per-round values (ratios, or differences in bytes), with the A/A noise floor of its metric. */
  const target = (what: string, perRound: number[], op: '≥' | '≤', limit: number, noise?: NoiseFloor, unit = ' ×') => {
    const value = median(perRound);
    if (!Number.isFinite(value)) return;
    const digits = unit === ' ×' ? 2 : 0;
    const { low, high } = medianInterval(perRound);
    const ok = op === '≥' ? value >= limit : value <= limit;
    // Undecided when the limit lies in the median's own interval, or nearer than the A/A control strays from 1.00.
    const inside = (Number.isFinite(low) && low <= limit && limit <= high) || (noise !== undefined && Math.abs(value - limit) <= Math.abs(noise.median - 1));
    targets.push(
      `| ${what} | ${value.toFixed(digits)}${unit} | ${Number.isFinite(low) ? `${low.toFixed(digits)}–${high.toFixed(digits)}` : '–'} | ` +
        `${op} ${limit}${unit} | ${noise ? ratio(noise.median) : '–'} | ` +
        `${ok ? 'met' : '**missed**'}${inside ? ', inside the noise' : ''} |`,
    );
  };

  if (hs.size > 0) {
    out.push(`### Handshakes (${CLIENTS} websocket clients per round, ${USERS === 'shared' ? 'one shared token' : 'one token and user each'}, ${CONCURRENCY} in flight; medians of ${ROUNDS} interleaved rounds, ${processes()})`, '');
    const rows: string[][] = [];
    for (const [id, rounds] of hs) {
      const s = HANDSHAKE_SCENARIOS.find((x) => x.id === id)!;
      const base = s.baseline ? hs.get(s.baseline) : undefined;
      rows.push([
        s.label,
        fmt(median(pick(rounds, 'connPerSec'))),
        bare ? ratio(pairedRatio(pick(rounds, 'connPerSec'), pick(bare, 'connPerSec'))) : '–',
        median(pick(rounds, 'p50')).toFixed(1),
        median(pick(rounds, 'p99')).toFixed(1),
        fmt(median(pick(rounds, 'cpuPerHandshake'))),
        bare ? ratio(pairedRatio(pick(rounds, 'cpuPerHandshake'), pick(bare, 'cpuPerHandshake'))) : '–',
        fmt(median(pick(rounds, 'userPerHandshake'))),
        bare ? ratio(pairedRatio(pick(rounds, 'userPerHandshake'), pick(bare, 'userPerHandshake'))) : '–',
        base ? `${ratio(pairedRatio(pick(rounds, 'connPerSec'), pick(base, 'connPerSec')))} ${s.baseline}` : '',
      ]);
    }
    out.push(
      table(
        ['scenario', 'conn/s', '× bare', 'p50 ms', 'p99 ms', 'server CPU µs/handshake', 'CPU × bare', 'of which user µs', 'user × bare', 'conn/s × its baseline'],
        rows,
      ),
    );
    const [cpu, user, conn] = [control('cpuPerHandshake'), control('userPerHandshake'), control('connPerSec')];
    if (cpu && user && conn) {
      const show = (n: NoiseFloor) =>
        `${ratio(n.median)} (${Number.isFinite(n.low) ? `interval ${n.low.toFixed(2)}–${n.high.toFixed(2)}, ` : ''}rounds ${n.min.toFixed(2)}–${n.max.toFixed(2)})`;
      out.push(
        '',
        `A/A control, the noise floor (jwt-key-twin / jwt-key, same code, different process): server CPU ${show(cpu)}, ` +
          `user CPU ${show(user)}, conn/s ${show(conn)}. Its distance from 1.00 is a bias this run cannot tell from a real difference, ` +
          'and its interval should hold 1.00.',
      );
    }
  }

  if (ev.size > 0) {
    out.push('', `### Events (${EVENT_SOCKETS} sockets × ${EVENTS_PER_SOCKET} acked events, ${EVENT_WINDOW} in flight per socket)`, '');
    const plain = ev.get('ev-plain');
    out.push(
      table(
        ['scenario', 'events/s', '× no guard', 'server CPU µs/event', 'CPU × no guard'],
        [...ev].map(([id, rounds]) => [
          label(id),
          fmt(median(pick(rounds, 'eventsPerSec'))),
          plain ? ratio(pairedRatio(pick(rounds, 'eventsPerSec'), pick(plain, 'eventsPerSec'))) : '–',
          median(pick(rounds, 'cpuPerEvent')).toFixed(1),
          plain ? ratio(pairedRatio(pick(rounds, 'cpuPerEvent'), pick(plain, 'cpuPerEvent'))) : '–',
        ]),
      ),
    );
  }

  const memBare = mem.get('bare');
  const memKey = mem.get('jwt-key');
  if (mem.size > 0) {
    const bytes = (rounds: MemoryRound[] | undefined) => pick(rounds, 'bytesPerSocket');
    out.push(
      '',
      `### Server heap per idle socket (${MEMORY_SOCKETS} sockets, ${USERS === 'shared' ? 'one shared token and user' : 'one token and one user each'}, ` +
        `heapUsed after forced GC; medians of per-round differences)`,
      '',
      table(
        ['scenario', 'bytes/socket', 'extra over bare', 'extra over prepared-key middleware', 'claims object'],
        [...mem].map(([id, rounds]) => [
          label(id),
          fmt(median(bytes(rounds))),
          memBare && id !== 'bare' ? fmt(pairedDiff(bytes(rounds), bytes(memBare))) : '',
          memKey && id !== 'jwt-key' && id !== 'bare' ? fmt(pairedDiff(bytes(rounds), bytes(memKey))) : '',
          id === 'bare' ? '' : fmt(median(pick(rounds, 'claimsPerSocket'))),
        ]),
      ),
    );
    const memSp = mem.get('sp-auth-hs');
    if (memSp && memKey) {
      target('jwt-auth extra heap per idle socket over the prepared-key middleware', diffs(bytes(memSp), bytes(memKey)), '≤', 1024, undefined, ' B');
      const memLife = mem.get('jwt-key-life');
      // The same guarantees by hand keep a timer and closures per socket: sockpass should keep no more.
      if (memLife) target('jwt-auth extra heap per idle socket over the same guarantees by hand', diffs(bytes(memSp), bytes(memLife)), '≤', 0, undefined, ' B');
    }
  }

  if (scale.size > 0) out.push('', renderScale(scale));

  const sp = hs.get('sp-auth-hs');
  if (sp) {
    const vs = (id: string, k: keyof HandshakeRound) => {
      const other = hs.get(id);
      return other ? ratios(pick(sp, k), pick(other, k)) : [];
    };
    const [cpu, user, conn] = [control('cpuPerHandshake'), control('userPerHandshake'), control('connPerSec')];
    target('jwt-auth HS256 server CPU/handshake vs hand-written, KeyObject', vs('jwt-key', 'cpuPerHandshake'), '≤', 1.03, cpu);
    target('(same, user CPU only)', vs('jwt-key', 'userPerHandshake'), '≤', 1.03, user);
    // The fair reference for the lifecycle's price: the same guarantees written by hand (issue 15's own bound, applied to it).
    target('jwt-auth HS256 server CPU/handshake vs the same guarantees by hand', vs('jwt-key-life', 'cpuPerHandshake'), '≤', 1.05, cpu);
    target('jwt-auth HS256 conn/s vs the same guarantees by hand', vs('jwt-key-life', 'connPerSec'), '≥', 1.0, conn);
    target('jwt-auth HS256 server CPU/handshake vs the BENCH_BASE build', vs('sp-auth-hs-base', 'cpuPerHandshake'), '≤', 1.0, cpu);
    target('(same, user CPU only)', vs('sp-auth-hs-base', 'userPerHandshake'), '≤', 1.0, user);
    target('jwt-auth HS256 conn/s vs socketio-jwt 4.6', vs('socketio-jwt', 'connPerSec'), '≥', 1.0, conn);
    target('jwt-auth HS256 conn/s vs hand-written, KeyObject', vs('jwt-key', 'connPerSec'), '≥', 1.0, conn);
    target('jwt-auth HS256 conn/s vs hand-written, string secret', vs('jwt-string', 'connPerSec'), '≥', 1.5, conn);
    target('jwt-auth HS256 conn/s vs @thream/socketio-jwt', vs('thream', 'connPerSec'), '≥', 1.5, conn);
    target('jwt-auth HS256 conn/s vs bare Socket.IO', vs('bare', 'connPerSec'), '≥', 0.9, conn);
    target('jwt-auth HS256 server CPU/handshake vs bare', vs('bare', 'cpuPerHandshake'), '≤', 1.2, cpu);
  }
  const plain = ev.get('ev-plain');
  const guarded = ev.get('ev-guard');
  if (plain && guarded) {
    target('events/s with auth.guard vs without', ratios(pick(guarded, 'eventsPerSec'), pick(plain, 'eventsPerSec')), '≥', 0.97);
    target('server CPU/event with auth.guard vs without', ratios(pick(guarded, 'cpuPerEvent'), pick(plain, 'cpuPerEvent')), '≤', 1.03);
  }
  if (targets.length > 0) {
    out.push(
      '',
      '### Budgets (DESIGN.md: ≤ 1.05× the same guarantees by hand, ≤ 1 KB per idle socket over the prepared-key middleware; with the tighter targets of earlier issues)',
      '',
      `Measured: the median over rounds; interval: a distribution-free ≥90% confidence interval of that median (from the ${ROUNDS} per-round values); ` +
        'A/A noise floor: the same metric between jwt-key-twin and jwt-key (same code, different process). ' +
        '"inside the noise": the limit lies within the interval, or nearer to the measured value than the A/A control lies to 1.00, ' +
        'so this run does not decide the verdict.',
      '',
      '| target | measured | interval | limit | A/A noise floor | |',
      '|---|---:|---:|---:|---:|---|',
      ...targets,
    );
  }

  if (skipped.size > 0) {
    out.push('', '### Skipped', '');
    for (const [id, reason] of skipped) out.push(`- ${label(id)}: ${reason}`);
  }
  out.push(
    '',
    `Machine: ${machine()}; ${processes()}; load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end; ` +
      `${fmt(seconds)} s; ${new Date().toISOString().slice(0, 16)}Z. Ratios are medians of per-round ratios. Reproduce: \`npm run bench\`.`,
  );
  return out.join('\n');
}

function renderScale(scale: Map<string, ScaleResult | string>): string {
  const out: string[] = [];
  const ok = [...scale.values()].filter((r): r is ScaleResult => typeof r !== 'string');
  const per = (id: string) => ok.find((r) => r.id === id)?.heapPerSocket;
  const bareHeap = per('bare');
  const keyHeap = per('jwt-key');
  out.push(
    `### Scale (${fmt(SCALE)} idle sockets on one server process, one token and one user each; one run, not rounds)`,
    '',
    table(
      ['scenario', 'connect s', 'heap B/socket', 'extra over bare', 'extra over prepared-key', 'RSS B/socket'],
      ok.map((r) => [
        r.label,
        r.connectSeconds.toFixed(1),
        fmt(r.heapPerSocket),
        bareHeap !== undefined && r.id !== 'bare' ? fmt(r.heapPerSocket - bareHeap) : '',
        keyHeap !== undefined && r.id !== 'bare' && r.id !== 'jwt-key' ? fmt(r.heapPerSocket - keyHeap) : '',
        fmt(r.rssPerSocket),
      ]),
    ),
  );
  const timed = ok.filter((r) => r.expiry !== undefined || r.revoke !== undefined);
  if (timed.length > 0) {
    out.push(
      '',
      table(
        ['scenario', 'sockets expiring in one second', 'server CPU ms of that second', 'CPU ms of the idle second before', 'all cut after ms', 'revoke() users', 'revoke() calls ms', 'until their sockets are gone ms'],
        timed.map((r) => [
          r.label,
          r.expiry ? `${fmt(r.expiry.cut)} of ${fmt(r.expiry.sockets)}` : '–',
          r.expiry ? fmt(r.expiry.cpuMs) : '–',
          r.expiry ? fmt(r.expiry.idleCpuMs) : '–',
          r.expiry ? fmt(r.expiry.cutMs) : '–',
          r.revoke ? `${fmt(r.revoke.cut)} of ${fmt(r.revoke.users)}` : '–',
          r.revoke ? fmt(r.revoke.callsMs) : '–',
          r.revoke ? fmt(r.revoke.goneMs) : '–',
        ]),
      ),
    );
  }
  out.push(
    '',
    `Bounds: BENCH_SCALE=${SCALE} sockets (open-file hard limit here ${fmt(hardFileLimit())}); 10% of them expire in one second; ` +
      'expiry and revocation apply to sockpass and to its guarantees written by hand (bare Socket.IO and the plain hand-written middleware have neither).',
  );
  for (const [id, r] of scale) if (typeof r === 'string') out.push(`Skipped ${id}: ${r}`);
  return out.join('\n');
}

const deadline = setTimeout(() => {
  log(`bench: stopped after ${RUN_TIMEOUT_MS / 1000} s`);
  stopChildren();
  process.exit(1);
}, RUN_TIMEOUT_MS);
deadline.unref();
process.once('SIGINT', () => {
  stopChildren();
  process.exit(130);
});

main().then(
  () => {
    stopChildren();
    clearTimeout(deadline);
  },
  (err: unknown) => {
    log(String((err as Error)?.stack ?? err));
    stopChildren();
    process.exit(1);
  },
);
