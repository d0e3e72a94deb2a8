/**
 * Redis faults: the session store (connect-redis on a real redis-server) is
 * killed with SIGKILL under load and started again. One chain on `/mixed`
 * (jwt-auth, then the session cookie) serves cookie and token clients at
 * once. While Redis is down every cookie handshake must be refused with
 * `store_unavailable` within the store bound, and every token handshake must
 * still succeed; after the restart (an empty Redis: no persistence) a fresh
 * login and its cookie handshake must work again within the recovery bound;
 * no handshake may hang.
 *
 * @module
 */
import { startRedis } from '../test/helpers/redis.js';
import { hs256 } from '../test/helpers/tokens.js';
import { connect, cookieOptions, handshakeOutcome, login, sleep, until } from './clients.js';
import { spawnServer, type ServerHandle } from './protocol.js';
import type { Recorder } from './report.js';

const STORE_TIMEOUT_MS = 1500;
/** A cookie handshake during the outage must be answered within the store bound plus this. */
const ANSWER_SLACK_MS = 1000;
/** From `redis-server` accepting connections again to a fresh login's cookie handshake succeeding. */
const RECOVERY_BOUND_MS = 5000;
const HANG_MS = 10_000;
const WORKERS = 4;

type Phase = 'healthy' | 'outage' | 'restarting' | 'recovered';

interface Sample {
  /** Phase when the handshake started. */
  phase: Phase;
  kind: 'token' | 'session';
  outcome: string;
  ms: number;
  /** When it was answered (performance.now()). */
  end: number;
}

async function handshake(server: ServerHandle, kind: Sample['kind'], cookie: string | undefined): Promise<{ outcome: string; ms: number }> {
  const t0 = performance.now();
  const socket = connect(server.url, '/mixed', kind === 'token' ? { auth: { token: hs256() } } : cookieOptions(cookie!));
  try {
    const outcome = await handshakeOutcome(socket, HANG_MS);
    return { outcome, ms: performance.now() - t0 };
  } finally {
    socket.disconnect();
  }
}

export async function redisFaults(r: Recorder): Promise<void> {
  const redis = await startRedis();
  let server: ServerHandle | undefined;
  try {
    server = await spawnServer({ name: 'redis-faults', eventTimeout: 5000, redisUrl: redis.url, storeTimeout: STORE_TIMEOUT_MS });
    if (!server.namespaces.includes('/mixed')) {
      r.skip('sessionCookie is not in sockpass yet (issue 4): no session handshakes to fault');
      return;
    }
    const s = server;
    let phase: Phase = 'healthy';
    let running = true;
    const samples: Sample[] = [];
    const cookies: Array<string | undefined> = [];
    for (let i = 0; i < WORKERS; i++) cookies.push(await login(s.url, `redis${i}`));

    const tokenWorker = async () => {
      while (running) {
        const at = phase;
        const { outcome, ms } = await handshake(s, 'token', undefined);
        samples.push({ phase: at, kind: 'token', outcome, ms, end: performance.now() });
      }
    };
    const sessionWorker = async (w: number) => {
      while (running) {
        const at = phase;
        if (cookies[w] === undefined) {
          // The session was lost with Redis: log in again, as the web app would send the user to.
          cookies[w] = await login(s.url, `redis${w}`).catch(() => undefined);
          if (cookies[w] === undefined) await sleep(100);
          continue;
        }
        const { outcome, ms } = await handshake(s, 'session', cookies[w]);
        samples.push({ phase: at, kind: 'session', outcome, ms, end: performance.now() });
        if (outcome === 'session_not_found') cookies[w] = undefined;
      }
    };
    const workers = [
      ...Array.from({ length: WORKERS }, () => tokenWorker()),
      ...Array.from({ length: WORKERS }, (_, w) => sessionWorker(w)),
    ];

    await sleep(3000);
    const killedAt = performance.now();
    await redis.stop();
    phase = 'outage';
    await sleep(6000);
    phase = 'restarting';
    await redis.restart();
    const restartedAt = performance.now();
    phase = 'recovered';
    let firstSessionOk = Number.NaN;
    await until(() => {
      const ok = samples.find((x) => x.kind === 'session' && x.phase === 'recovered' && x.outcome === 'connected');
      if (ok !== undefined) firstSessionOk = performance.now() - restartedAt;
      return ok !== undefined;
    }, 15_000, 50);
    const recoveredMark = samples.length;
    await sleep(3000);
    running = false;
    await Promise.all(workers);

    const of = (p: Phase, kind: Sample['kind']) => samples.filter((x) => x.phase === p && x.kind === kind);
    const ok = (xs: Sample[]) => xs.filter((x) => x.outcome === 'connected').length;
    // Healthy: answered before the kill (a cookie handshake in flight at the kill may rightly get store_unavailable).
    const healthyTok = of('healthy', 'token').filter((x) => x.end < killedAt);
    const healthySess = of('healthy', 'session').filter((x) => x.end < killedAt);
    const outTok = of('outage', 'token');
    // A sample's phase is the one it started in, and 'outage' begins once redis-server is dead.
    const outSess = of('outage', 'session');
    const unavailable = outSess.filter((x) => x.outcome === 'store_unavailable');
    const otherOutage = outSess.filter((x) => x.outcome !== 'store_unavailable');
    const after = samples.slice(recoveredMark);
    const afterTok = after.filter((x) => x.kind === 'token');
    const afterSess = after.filter((x) => x.kind === 'session');
    const hangs = samples.filter((x) => x.outcome === 'hang').length;
    const stats = await s.stats();

    r.figure('healthy: handshakes ok', ok(healthyTok) + ok(healthySess), `of ${healthyTok.length + healthySess.length}`, { op: '>=', limit: healthyTok.length + healthySess.length }, 'tokens and cookies, before the kill');
    r.figure('outage: cookie handshakes refused store_unavailable', unavailable.length, `of ${outSess.length}`, { op: '>=', limit: Math.max(1, outSess.length) }, 'started after redis-server died');
    r.figure('outage: cookie handshakes with another outcome', otherOutage.length, 'handshakes', { op: '==', limit: 0 }, otherOutage.slice(0, 3).map((x) => x.outcome).join(', ') || 'store_unavailable only');
    r.figure('outage: slowest store_unavailable', unavailable.length ? Math.max(...unavailable.map((x) => x.ms)) : Number.NaN, 'ms', { op: '<=', limit: STORE_TIMEOUT_MS + ANSWER_SLACK_MS }, `storeTimeout ${STORE_TIMEOUT_MS} ms`);
    r.figure('outage: token handshakes ok', ok(outTok), `of ${outTok.length}`, { op: '>=', limit: Math.max(1, outTok.length) }, 'same chain, Redis down');
    r.figure('outage: slowest token handshake', outTok.length ? Math.max(...outTok.map((x) => x.ms)) : Number.NaN, 'ms', { op: 'info' });
    r.figure('recovery: restart to cookie handshake ok', firstSessionOk, 'ms', { op: '<=', limit: RECOVERY_BOUND_MS }, 'fresh login (the restarted Redis is empty)');
    r.figure('recovered: handshakes ok', ok(afterTok) + ok(afterSess), `of ${afterTok.length + afterSess.length}`, { op: '>=', limit: Math.max(1, afterTok.length + afterSess.length) }, 'the 3 s after recovery');
    r.figure('hangs (no answer in 10 s)', hangs, 'handshakes', { op: '==', limit: 0 }, `${samples.length} handshakes in all`);
    r.figure('outage length', (restartedAt - killedAt) / 1000, 's', { op: 'info' });
    r.figure('unhandled rejections', stats.counters.unhandledRejections, 'rejections', { op: '==', limit: 0 });
    r.figure('server crashes', (s.crashed() ? 1 : 0) + stats.counters.uncaughtExceptions, 'crashes', { op: '==', limit: 0 });
  } finally {
    await server?.close();
    await redis.stop();
  }
}
