/**
 * `npm run bench`: sockpass against bare Socket.IO and the peer libraries, in
 * one run. Starts one server process per scenario (bench/server.ts) and one
 * client-driver process (bench/clients.ts), then runs interleaved rounds —
 * every scenario once per round, so slow drift of a shared machine hits all
 * of them alike — and prints medians over rounds, with ratios taken round by
 * round against the baselines of the same run:
 *
 * - handshakes: authenticated connections/s, latency p50/p99, server CPU time
 *   per handshake (`process.cpuUsage()` in the server process);
 * - events: acked events/s and server CPU per event, without and with `auth.guard`;
 * - memory: server heap per idle authenticated socket after forced GC, against bare.
 *
 * Everything is on loopback, bounded in count and time, and stops by itself.
 * Knobs (environment): BENCH_ROUNDS (5), BENCH_CLIENTS (1500),
 * BENCH_CONCURRENCY (50), BENCH_MEMORY_SOCKETS (1000), BENCH_ONLY (comma list
 * of scenario ids, for quick runs), BENCH_PHASES (handshakes,events,memory),
 * BENCH_CPU_PROF=<scenarios> (writes a .cpuprofile of each of those server
 * processes into bench/results/), BENCH_HEAP_SNAPSHOT=<scenario> (a heap snapshot with the
 * memory round's sockets open, same place).
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeRsaPair, RSA_PUBLIC_ENV, signTokens } from './keys.js';
import { request, type ClientReply, type ClientRequest, type Envelope, type ServerReply, type ServerRequest } from './protocol.js';
import { EVENT_SCENARIOS, HANDSHAKE_SCENARIOS, MEMORY_SCENARIOS, type Scenario } from './scenarios.js';
import { fmt, median, pairedRatio, percentile, ratio, table } from './stats.js';

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`bench: ${name} must be a positive integer`);
  return value;
};
const ROUNDS = env('BENCH_ROUNDS', 5);
const CLIENTS = env('BENCH_CLIENTS', 1500);
const CONCURRENCY = env('BENCH_CONCURRENCY', 50);
const MEMORY_SOCKETS = env('BENCH_MEMORY_SOCKETS', 1000);
const WARMUP_CLIENTS = Math.min(CLIENTS, 300);
const EVENT_SOCKETS = 50;
const EVENTS_PER_SOCKET = 1000;
const EVENT_WINDOW = 8;
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const CPU_PROF = process.env.BENCH_CPU_PROF;
const HEAP_SNAPSHOT = process.env.BENCH_HEAP_SNAPSHOT;
const PHASES = new Set((process.env.BENCH_PHASES ?? 'handshakes,events,memory').split(','));
/** The whole run stops after this, whatever state it is in. */
const RUN_TIMEOUT_MS = env('BENCH_TIMEOUT_MS', 20 * 60_000);
const REQUEST_TIMEOUT_MS = 120_000;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const RESULTS_DIR = here('./results/');

interface ServerHandle {
  scenario: Scenario;
  child: ChildProcess;
  url: string;
}

const children = new Set<ChildProcess>();

function stopChildren(): void {
  for (const child of children) if (child.exitCode === null) child.kill();
}

function spawn(file: string, args: string[], execArgv: string[], extraEnv: Record<string, string>): ChildProcess {
  const child = fork(here(file), args, {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Starts a scenario's server; resolves with its URL, or with the reason it skips. */
function startServer(scenario: Scenario, publicKey: string): Promise<ServerHandle | string> {
  const execArgv = ['--expose-gc'];
  if (CPU_PROF?.split(',').includes(scenario.id)) execArgv.push('--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`);
  const child = spawn('./server.ts', [scenario.id], execArgv, { [RSA_PUBLIC_ENV]: publicKey });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench: server ${scenario.id} did not start`)), 60_000);
    child.once('exit', (code) => reject(new Error(`bench: server ${scenario.id} exited (${code}) while starting`)));
    child.on('message', function onReady(msg: Envelope<ServerReply>) {
      if (msg.id !== 0) return;
      clearTimeout(timer);
      child.off('message', onReady);
      child.removeAllListeners('exit');
      children.add(child);
      child.once('exit', () => children.delete(child));
      if (msg.body.type === 'ready') resolve({ scenario, child, url: `http://127.0.0.1:${msg.body.port}` });
      else if (msg.body.type === 'skip') {
        child.kill();
        resolve(msg.body.reason);
      } else reject(new Error(`bench: unexpected first message from ${scenario.id}`));
    });
  });
}

const toServer = <T extends ServerReply['type']>(s: ServerHandle, body: ServerRequest) =>
  request<ServerRequest, Extract<ServerReply, { type: T }>>(s.child, body, REQUEST_TIMEOUT_MS);

let clients: ChildProcess;
const toClients = <T extends ClientReply['type']>(body: ClientRequest) =>
  request<ClientRequest, Extract<ClientReply, { type: T }>>(clients, body, REQUEST_TIMEOUT_MS);

/** Closes the driver's sockets and waits until the server has let go of every one. */
async function drain(server: ServerHandle): Promise<void> {
  await toClients<'ok'>({ type: 'disconnect-all' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { sockets } = await toServer<'count'>(server, { type: 'count' });
    if (sockets === 0) return;
    if (Date.now() > deadline) throw new Error(`bench: ${server.scenario.id} still holds ${sockets} sockets`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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

async function handshakeRound(server: ServerHandle, creds: Credentials, count: number): Promise<HandshakeRound> {
  await toServer<'ok'>(server, { type: 'measure-start' });
  const run = await toClients<'handshakes'>({
    type: 'handshakes',
    url: server.url,
    credential: server.scenario.credential,
    credentials: credentialsFor(server.scenario, creds, count),
    concurrency: CONCURRENCY,
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
  const snapshotDir = HEAP_SNAPSHOT === server.scenario.id ? RESULTS_DIR : undefined;
  const after = await toServer<'heap'>(server, { type: 'heap', claims: true, snapshotDir });
  await drain(server);
  const empty = await toServer<'heap'>(server, { type: 'heap' });
  return {
    bytesPerSocket: (after.heapUsed - empty.heapUsed) / MEMORY_SOCKETS,
    claimsPerSocket: (after.claimsBytes ?? 0) / MEMORY_SOCKETS,
  };
}

function machine(): string {
  let cpu = 'unknown CPU';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: leave it unknown
  }
  return `${availableParallelism()} × ${cpu}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  const selected = (list: readonly Scenario[]) => list.filter((s) => ONLY === undefined || ONLY.includes(s.id));
  const handshakeScenarios = selected(HANDSHAKE_SCENARIOS);
  const eventScenarios = selected(EVENT_SCENARIOS);
  const needed = new Map<string, Scenario>();
  for (const s of [...handshakeScenarios, ...eventScenarios]) needed.set(s.id, s);
  for (const id of MEMORY_SCENARIOS) {
    const s = HANDSHAKE_SCENARIOS.find((h) => h.id === id)!;
    if (ONLY === undefined || ONLY.includes(id)) needed.set(id, s);
  }

  log(`bench: ${ROUNDS} rounds × ${CLIENTS} clients (concurrency ${CONCURRENCY}); ${machine()}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const { publicKey, privateKey } = makeRsaPair();
  const creds: Credentials = {
    tokens: { HS256: signTokens(Math.max(CLIENTS, MEMORY_SOCKETS), 'HS256', privateKey), RS256: [] },
    cookies: [],
  };
  if ([...needed.values()].some((s) => s.algorithm === 'RS256')) creds.tokens.RS256 = signTokens(CLIENTS, 'RS256', privateKey);

  const servers = new Map<string, ServerHandle>();
  const skipped = new Map<string, string>();
  const outcomes = await Promise.all([...needed.values()].map(async (s) => [s, await startServer(s, publicKey)] as const));
  for (const [s, outcome] of outcomes) {
    if (typeof outcome === 'string') {
      skipped.set(s.id, outcome);
      log(`bench: SKIPPED ${s.label}: ${outcome}`);
    } else servers.set(s.id, outcome);
  }
  clients = spawn('./clients.ts', [], [], {});
  await new Promise((r) => setTimeout(r, 200));

  const session = servers.get('sp-session');
  if (session !== undefined) {
    creds.cookies = (await toClients<'login'>({ type: 'login', url: session.url, count: CLIENTS })).cookies;
    log(`bench: ${creds.cookies.length} users logged in over HTTP for the session scenario`);
  }

  const live = (list: readonly Scenario[]) => list.filter((s) => servers.has(s.id)).map((s) => servers.get(s.id)!);
  const hsServers = PHASES.has('handshakes') ? live(handshakeScenarios) : [];
  const evServers = PHASES.has('events') ? live(eventScenarios) : [];
  const memServers = PHASES.has('memory')
    ? MEMORY_SCENARIOS.map((id) => servers.get(id)).filter((s): s is ServerHandle => s !== undefined)
    : [];

  for (const server of new Set([...hsServers, ...memServers])) await handshakeRound(server, creds, WARMUP_CLIENTS);
  for (const server of evServers) await eventRound(server, creds);
  log('bench: warm-up done');

  const hs = new Map<string, HandshakeRound[]>(hsServers.map((s) => [s.scenario.id, []]));
  const ev = new Map<string, EventRound[]>(evServers.map((s) => [s.scenario.id, []]));
  const mem = new Map<string, MemoryRound[]>(memServers.map((s) => [s.scenario.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of hsServers) {
      const r = await handshakeRound(server, creds, CLIENTS);
      hs.get(server.scenario.id)!.push(r);
      log(
        `round ${round} ${server.scenario.id.padEnd(13)} ${fmt(r.connPerSec).padStart(6)} conn/s  p50 ${r.p50.toFixed(1)} ms  ` +
          `p99 ${r.p99.toFixed(1)} ms  ${fmt(r.cpuPerHandshake)} µs CPU/handshake (${fmt(r.userPerHandshake)} user)`,
      );
    }
    for (const server of evServers) {
      const r = await eventRound(server, creds);
      ev.get(server.scenario.id)!.push(r);
      log(`round ${round} ${server.scenario.id.padEnd(13)} ${fmt(r.eventsPerSec).padStart(6)} events/s  ${r.cpuPerEvent.toFixed(1)} µs CPU/event`);
    }
    for (const server of memServers) {
      const r = await memoryRound(server, creds);
      mem.get(server.scenario.id)!.push(r);
      log(`round ${round} ${server.scenario.id.padEnd(13)} ${fmt(r.bytesPerSocket)} B heap/socket (claims ${fmt(r.claimsPerSocket)} B)`);
    }
  }

  const report = render({ hs, ev, mem, skipped, loadBefore, seconds: (Date.now() - started) / 1000 });
  process.stdout.write(`\n${report}\n`);
  writeFileSync(`${RESULTS_DIR}latest.md`, `${report}\n`);
  log(`bench: written to bench/results/latest.md`);

  // Let the children exit on their own (a --cpu-prof profile is written at exit); stopChildren() kills stragglers.
  const exited = [...children].map((child) => new Promise((r) => child.once('exit', r)));
  await Promise.allSettled([...servers.values()].map((s) => toServer<'ok'>(s, { type: 'close' })));
  await toClients<'ok'>({ type: 'close' }).catch(() => undefined);
  await Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, 10_000))]);
}

interface Results {
  hs: Map<string, HandshakeRound[]>;
  ev: Map<string, EventRound[]>;
  mem: Map<string, MemoryRound[]>;
  skipped: Map<string, string>;
  loadBefore: number;
  seconds: number;
}

function render({ hs, ev, mem, skipped, loadBefore, seconds }: Results): string {
  const out: string[] = [];
  const label = (id: string) => [...HANDSHAKE_SCENARIOS, ...EVENT_SCENARIOS].find((s) => s.id === id)!.label;
  const pick = <T>(rounds: T[] | undefined, key: keyof T) => (rounds ?? []).map((r) => r[key] as number);
  const bare = hs.get('bare');
  const targets: string[] = [];
  const target = (what: string, value: number, op: '≥' | '≤', limit: number, unit = ' ×') => {
    if (!Number.isFinite(value)) return;
    const ok = op === '≥' ? value >= limit : value <= limit;
    targets.push(`| ${what} | ${value.toFixed(unit === ' ×' ? 2 : 0)}${unit} | ${op} ${limit}${unit} | ${ok ? 'met' : '**missed**'} |`);
  };

  out.push(`### Handshakes (${CLIENTS} websocket clients per round, one token each, ${CONCURRENCY} in flight; medians of ${ROUNDS} interleaved rounds)`, '');
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
  const memSp = mem.get('sp-auth-hs');
  if (memBare && memSp) {
    const bareBytes = median(pick(memBare, 'bytesPerSocket'));
    const spBytes = median(pick(memSp, 'bytesPerSocket'));
    const claims = median(pick(memSp, 'claimsPerSocket'));
    out.push(
      '',
      `### Server heap per idle socket (${MEMORY_SOCKETS} sockets, heapUsed after forced GC, same token sent to both)`,
      '',
      table(
        ['scenario', 'bytes/socket', 'extra over bare', 'claims/user object', 'extra excl. claims/user'],
        [
          [label('bare'), fmt(bareBytes), '', '', ''],
          [label('sp-auth-hs'), fmt(spBytes), fmt(spBytes - bareBytes), fmt(claims), fmt(spBytes - bareBytes - claims)],
        ],
      ),
    );
    target('sockpass extra heap per authenticated socket (excl. token, user)', spBytes - bareBytes - claims, '≤', 1024, ' B');
  }

  const sp = hs.get('sp-auth-hs');
  if (sp && bare) {
    const vs = (id: string) => (hs.get(id) ? pairedRatio(pick(sp, 'connPerSec'), pick(hs.get(id)!, 'connPerSec')) : Number.NaN);
    target('jwt-auth HS256 conn/s vs bare Socket.IO', vs('bare'), '≥', 0.9);
    target('jwt-auth HS256 conn/s vs hand-written, string secret', vs('jwt-string'), '≥', 1.5);
    target('jwt-auth HS256 conn/s vs @thream/socketio-jwt', vs('thream'), '≥', 1.5);
    target('jwt-auth HS256 conn/s vs socketio-jwt 4.6', vs('socketio-jwt'), '≥', 0.97);
    target('jwt-auth HS256 conn/s vs hand-written, KeyObject', vs('jwt-key'), '≥', 0.97);
    target('jwt-auth HS256 server CPU/handshake vs bare', pairedRatio(pick(sp, 'cpuPerHandshake'), pick(bare, 'cpuPerHandshake')), '≤', 1.2);
    target('(same, user CPU only)', pairedRatio(pick(sp, 'userPerHandshake'), pick(bare, 'userPerHandshake')), '≤', 1.2);
  }
  const plain = ev.get('ev-plain');
  const guarded = ev.get('ev-guard');
  if (plain && guarded) {
    target('events/s with auth.guard vs without', pairedRatio(pick(guarded, 'eventsPerSec'), pick(plain, 'eventsPerSec')), '≥', 0.97);
    target('server CPU/event with auth.guard vs without', pairedRatio(pick(guarded, 'cpuPerEvent'), pick(plain, 'cpuPerEvent')), '≤', 1.03);
  }
  if (targets.length > 0) out.push('', '### Targets (issue 7)', '', '| target | measured | limit | |', '|---|---:|---:|---|', ...targets);

  if (skipped.size > 0) {
    out.push('', '### Skipped', '');
    for (const [id, reason] of skipped) out.push(`- ${label(id)}: ${reason}`);
  }
  out.push(
    '',
    `Machine: ${machine()}; load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end; ` +
      `${fmt(seconds)} s; ${new Date().toISOString().slice(0, 16)}Z. Ratios are medians of per-round ratios. Reproduce: \`npm run bench\`.`,
  );
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
