/**
 * Slow and idle attackers: 2,000 sockets (twice) connect to the `authenticate` event
 * strategy (5 s timeout, so that most of them wait at the same time) and never authenticate — most stay silent, a
 * quarter keep sending other events, which must reach no handler and must
 * not keep the socket alive. Each must be told `authentication_timeout` and
 * be disconnected within a second of its timeout; afterwards the server has
 * no socket, handle, timer or listener more than before. While they wait,
 * the server's heap (after forced GC) per pending socket stays under the
 * bound.
 *
 * @module
 */
import type { Socket } from 'socket.io-client';
import { hs256 } from '../test/helpers/tokens.js';
import { connect, eventOutcome, pool, until } from './clients.js';
import { spawnServer, type ServerStats } from './protocol.js';
import { delta, sumAbs, type Recorder } from './report.js';

const SOCKETS = 2000;
const CHATTY_EVERY = 4;
const TIMEOUT_MS = 5000;
/** A socket must be gone at most this long after its timeout. */
const LATE_BOUND_MS = 1000;
/** Server heap per pending socket: Engine.IO + Socket.IO + ws + the request, plus sockpass's quarantine. */
const BYTES_PER_PENDING_BOUND = 32 * 1024;

interface Attacker {
  socket: Socket;
  code?: string;
  chat?: NodeJS.Timeout;
}


export async function idleAttackers(r: Recorder): Promise<void> {
  const server = await spawnServer({ name: 'idle', eventTimeout: TIMEOUT_MS });
  const attackers: Attacker[] = [];
  try {
    if (!server.namespaces.includes('/event')) {
      r.skip('jwtAuthenticateEvent is not in sockpass yet (issue 3): no socket can wait unauthenticated');
      return;
    }
    // Warm-up: the registry and quarantine hook each namespace once, at its first socket; JIT settles.
    await pool(300, 16, async (i) => {
      const s = connect(server.url, '/event');
      await eventOutcome(s, { token: i % 2 === 0 ? hs256() : 'not-a-token' });
      s.disconnect();
    });
    await until(async () => (await server.stats()).sockets === 0, 10_000, 100);
    await server.request({ type: 'reset-counters' });
    const before = await server.stats(true);
    /** One wave of SOCKETS attackers; resolves once all are gone, with the server's stats after GC. */
    const wave = async () => {
      let peak: ServerStats | undefined;
      let sampling = true;
      const sampler = (async () => {
        // Forced GCs stall the server: sample only until the first timeouts, so they do not delay the disconnects measured.
        while (sampling && !attackers.some((a) => a.code !== undefined)) {
          const s = await server.stats(true);
          if (peak === undefined || s.pending > peak.pending) peak = s;
          await new Promise((res) => setTimeout(res, 500));
        }
      })();

      const all = new Promise<void>((resolveAll) => {
        let gone = 0;
        const left = () => {
          if (++gone === SOCKETS) resolveAll();
        };
        void pool(SOCKETS, 128, async (i) => {
          const a: Attacker = { socket: connect(server.url, '/event', { timeout: 20_000 }) };
          attackers.push(a);
          await new Promise<void>((connected) => {
            a.socket.once('connect', () => {
              if (i % CHATTY_EVERY === 0) {
                a.chat = setInterval(() => {
                  a.socket.emit('probe');
                  a.socket.emit('echo', 1);
                }, 1000);
              }
              connected();
            });
            a.socket.once('connect_error', () => {
              a.code = 'connect_error';
              connected();
              left();
            });
          });
          a.socket.once('unauthorized', (body: { data?: { code?: string } }) => {
            a.code = body?.data?.code ?? 'untyped';
          });
          a.socket.once('disconnect', () => {
            clearInterval(a.chat);
            left();
          });
        });
      });
      const finished = await Promise.race([all.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 30_000))]);
      sampling = false;
      await sampler;

      await until(async () => {
        const s = await server.stats();
        return s.sockets === 0 && s.engineClients === 0;
      }, 10_000, 200);
      await new Promise((res) => setTimeout(res, 500));
      return { peak, finished, stats: await server.stats(true) };


    };
    // Two waves: growth that is warm-up shows in the first only; a leak grows in both.
    const first = await wave();
    const second = await wave();
    const { peak } = first;
    const finished = first.finished && second.finished;
    const middle = first.stats;
    const after = second.stats;

    const timedOut = attackers.filter((a) => a.code === 'authentication_timeout').length;
    // Lifetimes on the server's clock: the driver shares 2 cores with the server and its own clock reads late.
    const lifetimes = after.counters.pendingLifetimes;
    const stillConnected = attackers.filter((a) => a.socket.connected).length;
    const perPending = peak && peak.pending > 0 ? (peak.heapUsed - before.heapUsed) / peak.pending : Number.NaN;

    r.figure('attackers told authentication_timeout', timedOut, `of ${2 * SOCKETS}`, { op: '>=', limit: 2 * SOCKETS }, `two waves of ${SOCKETS}; a quarter kept sending events meanwhile`);
    r.figure('all gone within the run', finished ? 1 : 0, 'yes', { op: '==', limit: 1 });
    r.figure('pending sockets seen leaving (server)', lifetimes.count, 'sockets', { op: '>=', limit: 2 * SOCKETS });
    r.figure('longest pending lifetime past timeout', lifetimes.maxMs - TIMEOUT_MS, 'ms', { op: '<=', limit: LATE_BOUND_MS }, `timeout ${TIMEOUT_MS} ms, from connection to disconnect on the server`);
    r.figure('shortest pending lifetime vs timeout', lifetimes.minMs - TIMEOUT_MS, 'ms', { op: '>=', limit: -50 }, 'none cut before its timeout (libuv times from its cached loop clock)');
    r.figure('still connected (client side)', stillConnected, 'sockets', { op: '==', limit: 0 });
    r.figure('events of pending sockets handled', after.counters.unauthenticatedEventsHandled + after.counters.probes, 'events', { op: '==', limit: 0 });
    r.figure('peak sockets pending at once', peak?.pending ?? 0, 'sockets', { op: 'info' }, 'first wave');
    r.figure('server heap per pending socket', perPending / 1024, 'KiB', { op: '<=', limit: BYTES_PER_PENDING_BOUND / 1024 }, `after GC, at the peak; rss ${((peak?.rss ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    r.figure('sockets left on the server', after.sockets + after.engineClients, 'sockets', { op: '==', limit: 0 });
    const handles = delta(before.resources, after.resources);
    const listeners = delta(before.listeners, after.listeners);
    r.figure('active handles vs before', sumAbs(handles), 'handles', { op: '==', limit: 0 }, JSON.stringify(handles));
    r.figure('listeners vs before', sumAbs(listeners), 'listeners', { op: '==', limit: 0 }, JSON.stringify(listeners));
    r.figure('heap after the first wave vs before', (middle.heapUsed - before.heapUsed) / 1024, 'KiB', { op: 'info' }, 'after GC, once all are gone');
    r.figure('heap growth over the second wave', (after.heapUsed - middle.heapUsed) / 1024, 'KiB', { op: '<=', limit: 512 }, `after GC; ${(((after.heapUsed - middle.heapUsed) / SOCKETS) | 0)} B per attacker (one socket leaked each would be ~15 KiB)`);
    r.figure('unhandled rejections', after.counters.unhandledRejections, 'rejections', { op: '==', limit: 0 });
    r.figure('server crashes', (server.crashed() ? 1 : 0) + after.counters.uncaughtExceptions, 'crashes', { op: '==', limit: 0 });
  } finally {
    for (const a of attackers) {
      clearInterval(a.chat);
      a.socket.disconnect();
    }
    await server.close();
  }
}
