/**
 * Where sockpass's extra server CPU per handshake goes, over the hand-written
 * prepared-key middleware (`jwt-key`), measured in one process: the
 * end-to-end bench (bench/run.ts) compares server processes whose spread (a
 * few percent between two processes running the same code) is larger than
 * the few µs sockpass adds to a ~700 µs handshake.
 *
 * Two modes, each with interleaved rounds (every scenario once per round, in
 * rotated order) and medians, in CPU time (`process.cpuUsage()`, so a busy
 * machine that preempts this process does not inflate the figures):
 *
 * - `loop` (default): no network. Real Socket.IO `Socket`s of a real
 *   `Server`'s namespace, built as Socket.IO builds them for a connection
 *   (only the Engine.IO client below them is a stub that drops packets),
 *   are taken through Socket.IO's own steps: the namespace middleware chain
 *   (`nsp.run`), the connection (`nsp._doConnect`: the socket joins its own
 *   room, writes CONNECT, emits `connect` and `connection`), and the close
 *   (`socket._onclose`). Each step is timed over a batch of sockets, so the
 *   difference between scenarios is exactly what each adds to that step,
 *   GC included. Also the bytes each handshake allocates (heap growth over
 *   the two steps, in rounds where no GC ran: run with
 *   `--max-semi-space-size=64` so none does), a figure the machine's load
 *   does not move.
 * - `wire`: real socket.io-client websocket clients in a child process
 *   (bench/clients.ts) against real servers on loopback in this process:
 *   server CPU per handshake and per disconnect, as bench/run.ts measures it
 *   but with every scenario in the same process.
 *
 * Each client / socket has its own token for its own user, so every sockpass
 * socket joins its own `user:<id>` room.
 *
 * sockpass is built from the working tree's `src/` as the package is built
 * (bench/results/, not committed). A/B of a change: `HANDSHAKE_BASE=<commit>`
 * builds that commit's `src/` and `strategies/` too and runs it as a third
 * scenario `sp-base` beside the working tree's `sp`, interleaved in the same
 * process.
 *
 * Run: `node --expose-gc --import tsx bench/handshake-cost.ts`
 * `HANDSHAKE_COPIES=name=dir,...` adds scenarios built from other copies of
 * `src/` and `strategies/` (e.g. with one step knocked out, to weigh it).
 *
 * `HANDSHAKE_ONLY=<id>` runs one scenario alone (for a CPU profile of it).
 * `HANDSHAKE_REFERENCES=1` adds `key+room`, `key+life` and `key+objects`:
 * the prepared-key middleware plus sockpass's room, plus sockpass's default
 * guarantees written by hand (room, expiry timer, refresh listener), or plus
 * the objects sockpass keeps per socket (what those cost apart from
 * sockpass's code).
 *
 * Knobs: HANDSHAKE_MODE (loop | wire), HANDSHAKE_ROUNDS (15 loop, 9 wire),
 * HANDSHAKE_SOCKETS (sockets per round: 4000 loop, 1000 wire),
 * HANDSHAKE_CONCURRENCY (wire: 50 in flight), HANDSHAKE_BASE.
 *
 * @module
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'tsup';
import { Server, Socket, type Namespace } from 'socket.io';
import { prepareBase } from './base-build.js';
import { collect, engineClient, loopSocket, type Closable, type NamespaceInternals } from './loop-sockets.js';
import { RESULTS_DIR, startClients, stopChildren, toClients } from './children.js';
import { handWritten, handWrittenLife, type Middleware } from './hand-written.js';
import { HS_SECRET, hsKey, signTokens } from './keys.js';
import { env } from './knobs.js';
import { fmt, median, pairedDiff, pairedRatio, table } from './stats.js';

type Sockpass = typeof import('../src/index.js');

const MODE = process.env.HANDSHAKE_MODE ?? 'loop';
if (MODE !== 'loop' && MODE !== 'wire') throw new Error('bench: HANDSHAKE_MODE is loop or wire');
const ROUNDS = env('HANDSHAKE_ROUNDS', MODE === 'loop' ? 15 : 9);
const SOCKETS = env('HANDSHAKE_SOCKETS', MODE === 'loop' ? 4000 : 1000);
const CONCURRENCY = env('HANDSHAKE_CONCURRENCY', 50);
const BASE = process.env.HANDSHAKE_BASE;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench: run with node --expose-gc --import tsx bench/handshake-cost.ts');

interface Scenario {
  id: string;
  io: Server;
  http: HttpServer;
  /** Authenticated connections counted by the scenario's own `connection` handler. */
  handshakes: number;
  /** Whether every socket must reach that handler (not for a copy with a step knocked out). */
  counted: boolean;
}

/** µs per socket of each measured step of one round. */
type Round = Record<string, number>;

/**
 * sockpass built as `npm run build` builds it (tsup, ESM, node20, the
 * package's dependencies external), from the working tree or from a copy of
 * `src/` and `strategies/` at `commit`, into bench/results/ (where
 * node_modules resolve).
 * Built, not run through tsx: tsx keeps function names by wrapping every
 * closure it creates in a helper call, which the published code does not pay.
 */
async function buildSockpass(commit?: string, copy?: string): Promise<Sockpass> {
  let root = copy ?? fileURLToPath(new URL('..', import.meta.url));
  let outDir = `${RESULTS_DIR}sockpass-${copy?.replace(/\W+/g, '_') ?? 'worktree'}-${process.pid}`;
  if (commit !== undefined) {
    // Installed from the commit's own lockfile (bench/base-build.ts): its
    // dependencies may differ from today's (the old main still used jwks-rsa).
    root = dirname(dirname(prepareBase(commit))) + '/';
    outDir = `${root}handshake-cost-${process.pid}`;
  }
  await build({
    entry: { index: `${root}src/index.ts` },
    outDir,
    format: ['esm'],
    target: 'node20',
    splitting: false,
    config: false,
    silent: true,
    // Every package stays a package, resolved from the copy's node_modules (or today's).
    external: [/^[^./]/],
  });
  return (await import(pathToFileURL(`${outDir}/index.js`).href)) as Sockpass;
}

/** The hand-written middleware apps write with a KeyObject prepared once (bench/server.ts's `jwt-key`). */
const preparedKeyMiddleware = (): Middleware => handWritten(hsKey(), ['HS256']);

function scenario(id: string, install: (io: Server, s: Scenario) => void): Scenario {
  const http = createServer();
  const io = new Server(http);
  const s: Scenario = { id, io, http, handshakes: 0, counted: true };
  install(io, s);
  return s;
}

/**
 * The prepared-key middleware plus one of the things sockpass keeps, done by
 * hand: what that thing alone costs, apart from the code sockpass runs.
 * `key+room` joins the socket to its `user:<id>` room at connection;
 * `key+objects` keeps what sockpass keeps per socket (a 15-field state with
 * three doubles, the strategy's result with two Dates, a `data.auth` record,
 * a symbol property on the socket).
 */
function referenceScenarios(): Scenario[] {
  const KEPT = Symbol('kept');
  const verify = preparedKeyMiddleware();
  type Claims = { exp: number; iat: number; sub: string; jti: string };
  return [
    scenario('key+room', (io, s) => {
      io.use(verify);
      io.on('connection', (socket) => {
        void socket.join(`user:${(socket.data.user as Claims).sub}`);
        s.handshakes++;
      });
    }),
    // sockpass's default guarantees written by hand (bench/hand-written.ts): the fair reference for its lifecycle.
    scenario('key+life', (io, s) => {
      handWrittenLife(hsKey(), ['HS256']).install(io, () => s.handshakes++);
    }),
    scenario('key+objects', (io, s) => {
      io.use((socket, next) =>
        verify(socket, (err) => {
          if (err === undefined) {
            const c = socket.data.user as Claims;
            const result = { kind: 'success', user: c, claims: c, expiresAt: new Date(c.exp * 1000), issuedAt: new Date(c.iat * 1000), tokenId: c.jti };
            (socket as unknown as Record<symbol, unknown>)[KEPT] = {
              socket, owner: undefined, status: 'authenticated', strategyName: 'bench', strategy: undefined, result, waiters: [], cleanup: [],
              deadline: Math.random() + 1.5, heapIndex: -1, expiresAtMs: Math.random() + 2.5, noticeAt: Math.random() + 3.5, refreshing: false, listening: false,
            };
            socket.data.auth = { user: c, strategy: 'bench', claims: c, expiresAt: result.expiresAt, issuedAt: result.issuedAt, tokenId: c.jti };
          }
          next(err);
        }),
      );
      io.on('connection', () => {
        s.handshakes++;
      });
    }),
  ];
}

/** sockpass as bench/server.ts sets it up: `jwt-auth` HS256, the app's code in `onAuthenticated`. */
function sockpassScenario(id: string, library: Sockpass): Scenario {
  return scenario(id, (io, s) => {
    const auth = new library.SockPass().use('bench', library.jwtAuth({ secret: HS_SECRET, algorithms: ['HS256'] }));
    io.use(auth.middleware('bench'));
    auth.onAuthenticated(io, () => {
      s.handshakes++;
    });
  });
}

const scenarios: Scenario[] = [
  scenario('jwt-key', (io, s) => {
    io.use(preparedKeyMiddleware());
    io.on('connection', () => {
      s.handshakes++;
    });
  }),
  sockpassScenario('sp', await buildSockpass()),
];
if (process.env.HANDSHAKE_REFERENCES === '1') scenarios.push(...referenceScenarios());
if (BASE !== undefined) scenarios.push(sockpassScenario('sp-base', await buildSockpass(BASE)));
// Other copies of the sources (`name=dir,...`, each dir holding src/ and strategies/): variants of an experiment.
for (const entry of process.env.HANDSHAKE_COPIES?.split(',') ?? []) {
  const [name, dir] = entry.split('=');
  if (!name || !dir) throw new Error('bench: HANDSHAKE_COPIES is name=dir,name=dir');
  const copy = sockpassScenario(name, await buildSockpass(undefined, dir.endsWith('/') ? dir : `${dir}/`));
  copy.counted = false;
  scenarios.push(copy);
}

// One scenario alone (`HANDSHAKE_ONLY=sp`): for a CPU profile of just that server's work.
const only = process.env.HANDSHAKE_ONLY;
if (only !== undefined) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => s.id === only));
if (scenarios.length === 0) throw new Error(`bench: no scenario named ${only}`);

const tokens = signTokens(SOCKETS, 'HS256', '');

/** Wall time of every GC pause so far (the observer is told a little after each ends). */
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
const flushGcEntries = () => new Promise((r) => setTimeout(r, 5));

const cpuSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return used.user + used.system;
};

// ---------------------------------------------------------------------------
// loop: Socket.IO's own steps on real sockets, no network


async function loopRound(s: Scenario): Promise<Round> {
  const namespace = s.io.of('/');
  const nsp = namespace as unknown as NamespaceInternals;
  const client = engineClient();
  await collect(10);
  let start = process.cpuUsage();
  const sockets = tokens.map((token) => loopSocket(namespace, client, { token }));
  const build = cpuSince(start);

  let admitted = 0;
  const admit = (err?: Error) => {
    if (err !== undefined) throw new Error(`bench: ${s.id} refused a socket: ${err.message}`);
    admitted++;
  };
  await collect(10);
  let gcBefore = gcMs;
  let heapBefore = process.memoryUsage().heapUsed;
  start = process.cpuUsage();
  for (const socket of sockets) nsp.run(socket, admit);
  // Every middleware here answers synchronously; wait for any that did not.
  while (admitted < sockets.length) await new Promise((r) => setImmediate(r));
  const middleware = cpuSince(start);
  let allocated = process.memoryUsage().heapUsed - heapBefore;
  await flushGcEntries();
  const middlewareGc = (gcMs - gcBefore) * 1000;
  // Bytes allocated, readable only when no GC ran in between (see HANDSHAKE_MODE=loop's note on --max-semi-space-size).
  if (middlewareGc > 0) allocated = Number.NaN;

  const connected = () => {};
  s.handshakes = 0;
  await collect(10);
  gcBefore = gcMs;
  heapBefore = process.memoryUsage().heapUsed;
  start = process.cpuUsage();
  for (const socket of sockets) nsp._doConnect(socket, connected);
  const connect = cpuSince(start);
  allocated += process.memoryUsage().heapUsed - heapBefore;
  await flushGcEntries();
  const connectGc = (gcMs - gcBefore) * 1000;
  if (connectGc > 0) allocated = Number.NaN;
  if (s.counted && s.handshakes !== sockets.length) throw new Error(`bench: ${s.id}: ${s.handshakes} of ${sockets.length} sockets reached the app`);

  await collect(10);
  start = process.cpuUsage();
  for (const socket of sockets) (socket as Closable)._onclose('transport close');
  const close = cpuSince(start);
  if (nsp.sockets.size !== 0) throw new Error(`bench: ${s.id}: ${nsp.sockets.size} sockets left after close`);

  const per = (us: number) => us / sockets.length;
  return {
    middleware: per(middleware),
    connect: per(connect),
    handshake: per(middleware + connect),
    gc: per(middlewareGc + connectGc),
    bytes: allocated / sockets.length,
    close: per(close),
    build: per(build),
  };
}

const LOOP_STEPS: Array<[string, string]> = [
  ['handshake', 'handshake (middleware + connection)'],
  ['middleware', '  the middleware chain (`nsp.run`)'],
  ['connect', '  the connection (`_doConnect`: own room, CONNECT, `connect` + `connection` listeners)'],
  ['gc', '  GC pauses during those two (wall time)'],
  ['bytes', '  bytes allocated by those two (rounds without a GC in them)'],
  ['close', 'disconnect (`_onclose`: rooms left, `disconnect` listeners)'],
  ['build', 'for scale: building the `Socket` (same code for all)'],
];

// ---------------------------------------------------------------------------
// wire: real clients over loopback

async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function wireRound(s: Scenario, clients: ReturnType<typeof startClients>, url: string): Promise<Round> {
  await collect(10);
  s.handshakes = 0;
  const gcBefore = gcMs;
  const cpu = process.cpuUsage();
  const run = await toClients<'handshakes'>(clients, { type: 'handshakes', url, credential: 'auth', credentials: tokens, concurrency: CONCURRENCY });
  await waitUntil(() => s.handshakes === SOCKETS, `${s.id}: ${SOCKETS} handshakes`);
  const used = process.cpuUsage(cpu);
  await flushGcEntries();
  const gcDuring = gcMs - gcBefore;
  if (run.failures > 0) throw new Error(`bench: ${s.id}: ${run.failures} handshakes failed (${run.firstError})`);
  await collect(10);
  const closing = process.cpuUsage();
  await toClients<'ok'>(clients, { type: 'disconnect-all' });
  await waitUntil(() => s.io.engine.clientsCount === 0, `${s.id}: sockets closed`);
  return {
    handshake: (used.user + used.system) / SOCKETS,
    user: used.user / SOCKETS,
    gc: (gcDuring * 1000) / SOCKETS,
    close: cpuSince(closing) / SOCKETS,
  };
}

const WIRE_STEPS: Array<[string, string]> = [
  ['handshake', 'server CPU per handshake'],
  ['user', '  of which user'],
  ['gc', '  GC pauses (wall time)'],
  ['close', 'server CPU per disconnect'],
];

// ---------------------------------------------------------------------------

const results = new Map<string, Round[]>(scenarios.map((s) => [s.id, []]));
let measure: (s: Scenario) => Promise<Round>;
let finish = async () => {};
if (MODE === 'loop') {
  measure = loopRound;
} else {
  const urls = new Map<Scenario, string>();
  for (const s of scenarios) {
    await new Promise<void>((resolve) => s.http.listen(0, '127.0.0.1', resolve));
    urls.set(s, `http://127.0.0.1:${(s.http.address() as AddressInfo).port}`);
  }
  const clients = startClients();
  measure = (s) => wireRound(s, clients, urls.get(s)!);
  finish = async () => {
    await toClients<'ok'>(clients, { type: 'close' }).catch(() => undefined);
    stopChildren();
  };
}

try {
  for (const s of scenarios) await measure(s); // warm-up: JIT, pools
  for (let r = 0; r < ROUNDS; r++) {
    // Rotated, so no scenario always runs right after the same other one.
    for (let i = 0; i < scenarios.length; i++) {
      const s = scenarios[(r + i) % scenarios.length]!;
      results.get(s.id)!.push(await measure(s));
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}\r`);
  }
} finally {
  await finish();
  for (const s of scenarios) s.io.close();
}

const steps = MODE === 'loop' ? LOOP_STEPS : WIRE_STEPS;
const col = (id: string, step: string) => results.get(id)!.map((r) => r[step]!);
const known = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
/** Median difference (ratio), and in how many rounds `a` was the cheaper: a sign test against noise. */
const vs = (a: string, b: string, step: string) => {
  const x = col(a, step);
  const y = col(b, step);
  const pairs = x.flatMap((v, i) => (Number.isNaN(v) || Number.isNaN(y[i]!) ? [] : [[v, y[i]!] as const]));
  const lower = pairs.filter(([p, q]) => p < q).length;
  const a2 = pairs.map(([p]) => p);
  const b2 = pairs.map(([, q]) => q);
  return `${fmt(pairedDiff(a2, b2), 2)} (${pairedRatio(a2, b2).toFixed(3)} ×, lower in ${lower}/${pairs.length})`;
};
const others = scenarios.slice(1).map((s) => s.id);
console.log(`\n${MODE}: CPU µs per socket, medians of ${ROUNDS} interleaved rounds × ${SOCKETS} sockets, one user each`);
console.log(
  table(
    ['', ...scenarios.map((s) => s.id), ...others.map((id) => `${id} − jwt-key (ratio)`), ...(BASE !== undefined ? ['sp − sp-base (ratio)'] : [])],
    steps.map(([step, label]) => [
      label,
      ...scenarios.map((s) => fmt(median(known(col(s.id, step))), step === 'bytes' ? 0 : 2)),
      ...others.map((id) => vs(id, 'jwt-key', step)),
      ...(BASE !== undefined ? [vs('sp', 'sp-base', step)] : []),
    ]),
  ),
);
if (BASE !== undefined) console.log(`sp-base: ${BASE}; differences and ratios are medians of per-round ones.`);
process.exit(0);
