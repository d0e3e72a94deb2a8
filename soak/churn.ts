/**
 * Churn: 10,000 connect → authenticate → echo → disconnect cycles, rotating
 * through every strategy the server mounts, a few at a time. Afterwards the
 * server (its own process, run with --expose-gc) must be back where it
 * started: no socket, no Engine.IO client, the same active handles and
 * timers (`process.getActiveResourcesInfo()`), the same listener counts, and
 * a heap that grew by less than the bound, measured after forced GC against
 * a baseline taken after a warm-up.
 *
 * @module
 */
import { hs256 } from '../test/helpers/tokens.js';
import { connect, cookieOptions, echo, eventOutcome, handshakeOutcome, login, pool, until, type ClientOptions } from './clients.js';
import { spawnServer, type ServerHandle, type ServerStats } from './protocol.js';
import { delta, sumAbs, type Recorder } from './report.js';

const CYCLES = 10_000;
const WARMUP = 400;
const CONCURRENCY = 16;
/** Heap growth allowed over 10,000 cycles after GC: 3 MB, i.e. ~300 bytes per cycle. A leak of one socket each is ~10 KB. */
const HEAP_GROWTH_BOUND = 3 * 1024 * 1024;

interface Kind {
  name: string;
  nsp: string;
  options: () => ClientOptions;
  /** Payload of the `authenticate` event, for the in-band strategy. */
  event?: () => unknown;
}

function kindsFor(server: ServerHandle, cookies: string[]): Kind[] {
  const kinds: Kind[] = [
    { name: 'jwt-auth', nsp: '/', options: () => ({ auth: { token: hs256() } }) },
    { name: 'jwt-query', nsp: '/', options: () => ({ query: { token: hs256() } }) },
    { name: 'jwt-header', nsp: '/', options: () => ({ extraHeaders: { authorization: `Bearer ${hs256()}` } }) },
    { name: 'passport', nsp: '/passport', options: () => ({ extraHeaders: { 'x-access-token': hs256() } }) },
  ];
  if (server.namespaces.includes('/event')) kinds.push({ name: 'event', nsp: '/event', options: () => ({}), event: () => ({ token: hs256() }) });
  if (server.namespaces.includes('/session')) {
    let n = 0;
    kinds.push({ name: 'session', nsp: '/session', options: () => cookieOptions(cookies[n++ % cookies.length]!) });
  }
  return kinds;
}

/** One full cycle; true when the socket authenticated and its handler answered. */
async function cycle(server: ServerHandle, kind: Kind): Promise<string | undefined> {
  const socket = connect(server.url, kind.nsp, kind.options());
  try {
    const outcome = kind.event ? await eventOutcome(socket, kind.event()) : await handshakeOutcome(socket);
    if (outcome !== 'connected' && outcome !== 'authenticated') return `${kind.name}: ${outcome}`;
    if (!(await echo(socket))) return `${kind.name}: no echo`;
    return undefined;
  } finally {
    socket.disconnect();
  }
}

async function drained(server: ServerHandle): Promise<ServerStats> {
  let last: ServerStats | undefined;
  await until(async () => {
    last = await server.stats();
    return last.sockets === 0 && last.engineClients === 0;
  }, 15_000, 200);
  // Engine.IO and ws finish closing a tick or two after the last socket leaves.
  await new Promise((r) => setTimeout(r, 500));
  return server.stats(true);
}


export async function churn(r: Recorder): Promise<void> {
  const server = await spawnServer({ name: 'churn', eventTimeout: 10_000 });
  try {
    for (const piece of server.missing) r.skip(`cycles for ${piece} (not in sockpass yet)`);
    const cookies: string[] = [];
    if (server.namespaces.includes('/session')) for (let i = 0; i < 16; i++) cookies.push(await login(server.url, `churn${i}`));
    const kinds = kindsFor(server, cookies);

    await pool(WARMUP, CONCURRENCY, async (i) => void (await cycle(server, kinds[i % kinds.length]!)));
    const before = await drained(server);

    const failures: string[] = [];
    let failed = 0;
    let seconds = 0;
    const half = async () => {
      const t0 = performance.now();
      await pool(CYCLES / 2, CONCURRENCY, async (i) => {
        const problem = await cycle(server, kinds[i % kinds.length]!);
        if (problem !== undefined) {
          failed++;
          if (failures.length < 5) failures.push(problem);
        }
      });
      seconds += (performance.now() - t0) / 1000;
    };
    await half();
    const middle = await drained(server);
    await half();
    const after = await drained(server);

    const resources = delta(before.resources, after.resources);
    const timers = (after.resources.Timeout ?? 0) - (before.resources.Timeout ?? 0);
    const listeners = delta(before.listeners, after.listeners);
    const heap = after.heapUsed - before.heapUsed;
    const secondHalf = after.heapUsed - middle.heapUsed;

    r.figure('cycles', CYCLES - failed, `of ${CYCLES}`, { op: '>=', limit: CYCLES }, `${kinds.map((k) => k.name).join(', ')}; ${CONCURRENCY} at a time`);
    r.figure('cycles per second', CYCLES / seconds, '/s', { op: 'info' }, 'server and clients on the same 2 cores');
    r.figure('sockets left on the server', after.sockets + after.nspSockets, 'sockets', { op: '==', limit: 0 }, 'live sockets and nsp.sockets entries');
    r.figure('Engine.IO clients left', after.engineClients, 'clients', { op: '==', limit: 0 });
    r.figure('active handles vs baseline', sumAbs(resources), 'handles', { op: '==', limit: 0 }, Object.keys(resources).length ? JSON.stringify(resources) : 'process.getActiveResourcesInfo() by type');
    r.figure('timers vs baseline', timers, 'timers', { op: '==', limit: 0 });
    r.figure('listeners vs baseline', sumAbs(listeners), 'listeners', { op: '==', limit: 0 }, Object.keys(listeners).length ? JSON.stringify(listeners) : 'http, engine, io, every namespace, process');
    r.figure('heap growth after GC', heap / 1024, 'KiB', { op: '<=', limit: HEAP_GROWTH_BOUND / 1024 }, `${(heap / CYCLES).toFixed(0)} B/cycle; baseline after ${WARMUP} warm-up cycles`);
    r.figure('heap growth, second 5,000 cycles', secondHalf / 1024, 'KiB', { op: '<=', limit: HEAP_GROWTH_BOUND / 2048 }, 'a leak grows in both halves; warm-up settles in the first');
    r.figure('unhandled rejections', after.counters.unhandledRejections, 'rejections', { op: '==', limit: 0 });
    r.figure('server crashes', (server.crashed() ? 1 : 0) + after.counters.uncaughtExceptions, 'crashes', { op: '==', limit: 0 });
    for (const f of failures) console.log(`      failed cycle: ${f}`);
  } finally {
    await server.close();
  }
}
