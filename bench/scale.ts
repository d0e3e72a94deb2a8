/**
 * The scale phase of `npm run bench`: BENCH_SCALE idle authenticated sockets
 * (one user each) on one server process, for each scale scenario in turn,
 * with nothing else of the bench running. It reports:
 *
 * - heap per socket (heapUsed after forced GC with every socket open, minus
 *   the same once they are gone) and RSS per socket (RSS with every socket
 *   open, minus RSS before the first one: RSS does not shrink back);
 * - for sockpass and for its guarantees written by hand (`jwt-key-life`):
 *   the server CPU of the second in which 10% of the sockets expire (their
 *   tokens share one `exp`), against the idle second before it, and how long
 *   until all of them are cut;
 * - for the same two: the time `revoke()` of a user takes for
 *   BENCH_SCALE_REVOKE users one after the other, and until their sockets are gone.
 *
 * Clients run in several driver processes (BENCH_SCALE_PER_DRIVER sockets
 * each), each from its own loopback source address 127.0.0.x, since one
 * source address has ~28k ephemeral ports towards one server port. The
 * server's open-file limit is raised to fit (never past the hard limit; the
 * phase refuses to start when the hard limit is too low, and says so).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { closeServer, drain, hardFileLimit, startClients, startServer, toClients, toServer, type ServerHandle } from './children.js';
import { benchUser, RSA_PUBLIC_ENV, signTokens } from './keys.js';
import { env } from './knobs.js';
import type { Scenario } from './scenarios.js';

/** Sockets on the one server. 16,000 fits the 20,000 open files a default container allows, and takes ~2 minutes on 2 cores. */
export const SCALE = env('BENCH_SCALE', 16_000);
/** Users revoked one after the other (at most the sockets that do not expire). */
const REVOKE = env('BENCH_SCALE_REVOKE', 10_000);
const PER_DRIVER = env('BENCH_SCALE_PER_DRIVER', 15_000);
/** Share of the sockets whose tokens expire in the same second. */
const EXPIRING_SHARE = 0.1;
/** Open files a process needs besides its sockets (node itself, IPC, the listening socket). */
const SPARE_FILES = 1024;

export interface ScaleResult {
  id: string;
  label: string;
  sockets: number;
  connectSeconds: number;
  heapPerSocket: number;
  rssPerSocket: number;
  expiry?: { sockets: number; cpuMs: number; idleCpuMs: number; cutMs: number; cut: number };
  revoke?: { users: number; callsMs: number; goneMs: number; cut: number };
}

export interface ScaleSetup {
  publicKey: string;
  privateKey: string;
  concurrency: number;
  cpuProf: readonly string[];
  log: (line: string) => void;
}

/** Open files the server of the scale phase needs. */
export const scaleFilesNeeded = () => SCALE + SPARE_FILES;

/** Throws with what to do when this machine cannot hold BENCH_SCALE sockets in one process. */
export function checkScaleLimits(): void {
  const hard = hardFileLimit();
  const need = Math.max(scaleFilesNeeded(), Math.min(SCALE, PER_DRIVER) + SPARE_FILES);
  if (need > hard) {
    throw new Error(
      `bench: BENCH_SCALE=${SCALE} needs ${need} open files in the server process; the hard limit here is ${hard}. ` +
        `Raise it (as root: ulimit -Hn ${need}; docker: --ulimit nofile=${need}:${need}) or lower BENCH_SCALE to ${hard - SPARE_FILES} or less.`,
    );
  }
}

/** Opens `tokens` as sockets spread over the drivers; resolves with the wall time in seconds. */
async function connect(server: ServerHandle, drivers: readonly ChildProcess[], tokens: readonly string[], concurrency: number): Promise<number> {
  const started = performance.now();
  const share = Math.ceil(tokens.length / drivers.length);
  const runs = await Promise.all(
    drivers.map((driver, i) =>
      toClients<'handshakes'>(driver, {
        type: 'handshakes',
        url: server.url,
        credential: server.scenario.credential,
        credentials: tokens.slice(i * share, (i + 1) * share),
        concurrency,
        localAddress: `127.0.0.${10 + i}`,
      }, Math.max(300_000, share * 100)),
    ),
  );
  const failed = runs.find((r) => r.failures > 0);
  if (failed !== undefined) {
    throw new Error(`bench: scale ${server.scenario.id}: ${failed.failures} handshakes failed (first: ${failed.firstError})`);
  }
  return (performance.now() - started) / 1000;
}

async function scaleOne(scenario: Scenario, setup: ScaleSetup, drivers: readonly ChildProcess[]): Promise<ScaleResult | string> {
  const { log, concurrency } = setup;
  const started = await startServer(scenario, { publicKey: setup.publicKey, cpuProf: setup.cpuProf, files: scaleFilesNeeded() }, RSA_PUBLIC_ENV);
  if (typeof started === 'string') return started;
  const server = started;
  try {
    // sockpass, and its guarantees written by hand: both cut at expiry and revoke.
    const lifecycle = scenario.id.startsWith('sp-') || scenario.id === 'jwt-key-life';
    const expiring = lifecycle ? Math.round(SCALE * EXPIRING_SHARE) : 0;
    const lasting = SCALE - expiring;

    // Warm up (JIT) and weigh the server before any socket of the phase.
    await connect(server, drivers.slice(0, 1), signTokens(300, scenario.algorithm, setup.privateKey, { first: SCALE }), concurrency);
    await drain(server, drivers);
    const before = await toServer<'heap'>(server, { type: 'heap' });

    const lastingSeconds = await connect(server, drivers, signTokens(lasting, scenario.algorithm, setup.privateKey), concurrency);
    let connectSeconds = lastingSeconds;
    let expiresAtMs = 0;
    if (expiring > 0) {
      // One `exp` for all of them, far enough ahead for them to connect (twice the time the rate so far says, plus 5 s).
      const estimateMs = (expiring / (lasting / lastingSeconds)) * 2000 + 5000;
      const exp = Math.ceil((Date.now() + estimateMs) / 1000);
      expiresAtMs = exp * 1000;
      const tokens = signTokens(expiring, scenario.algorithm, setup.privateKey, { first: lasting, exp });
      connectSeconds += await connect(server, drivers, tokens, concurrency);
      if (Date.now() >= expiresAtMs - 1500) throw new Error(`bench: scale ${scenario.id}: connecting took longer than the tokens live`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const full = await toServer<'heap'>(server, { type: 'heap' });
    const { inNamespace } = await toServer<'count'>(server, { type: 'count' });
    if (inNamespace !== SCALE) throw new Error(`bench: scale ${scenario.id}: ${inNamespace} of ${SCALE} sockets connected`);
    log(`bench: scale ${scenario.id}: ${SCALE} sockets in ${connectSeconds.toFixed(1)} s, heap ${(full.heapUsed / 2 ** 20).toFixed(0)} MiB, RSS ${(full.rss / 2 ** 20).toFixed(0)} MiB`);

    const result: ScaleResult = {
      id: scenario.id,
      label: scenario.label,
      sockets: SCALE,
      connectSeconds,
      heapPerSocket: 0,
      rssPerSocket: (full.rss - before.rss) / SCALE,
    };
    if (expiring > 0) {
      const e = await toServer<'expiry'>(server, { type: 'expiry', atMs: expiresAtMs, expected: expiring }, expiresAtMs - Date.now() + 120_000);
      result.expiry = { sockets: expiring, cpuMs: e.cpuMicros / 1000, idleCpuMs: e.idleCpuMicros / 1000, cutMs: e.cutMs, cut: e.cut };
      log(`bench: scale ${scenario.id}: ${e.cut}/${expiring} expired sockets cut in ${e.cutMs} ms, ${(e.cpuMicros / 1000).toFixed(0)} ms CPU in that second`);
    }
    if (lifecycle) {
      const users = Array.from({ length: Math.min(REVOKE, lasting) }, (_, i) => benchUser(i));
      const r = await toServer<'revoke'>(server, { type: 'revoke', users }, 300_000);
      result.revoke = { users: users.length, callsMs: r.callsMs, goneMs: r.goneMs, cut: r.cut };
      log(`bench: scale ${scenario.id}: revoke() of ${users.length} users: ${r.callsMs.toFixed(0)} ms, sockets gone after ${r.goneMs.toFixed(0)} ms`);
    }
    await drain(server, drivers);
    const empty = await toServer<'heap'>(server, { type: 'heap' });
    result.heapPerSocket = (full.heapUsed - empty.heapUsed) / SCALE;
    return result;
  } finally {
    await closeServer(server);
  }
}

/** Runs the phase for each scenario, one server at a time; a scenario that skips is reported by its reason. */
export async function runScale(scenarios: readonly Scenario[], setup: ScaleSetup): Promise<Map<string, ScaleResult | string>> {
  checkScaleLimits();
  const count = Math.ceil(SCALE / PER_DRIVER);
  const drivers = Array.from({ length: count }, () => startClients(Math.min(SCALE, PER_DRIVER) + SPARE_FILES));
  setup.log(`bench: scale phase: ${SCALE} sockets, ${count} client driver(s) from 127.0.0.10–${9 + count}`);
  const results = new Map<string, ScaleResult | string>();
  try {
    for (const scenario of scenarios) results.set(scenario.id, await scaleOne(scenario, setup, drivers));
  } finally {
    await Promise.all(drivers.map((d) => toClients<'ok'>(d, { type: 'close' }).catch(() => undefined)));
  }
  return results;
}
