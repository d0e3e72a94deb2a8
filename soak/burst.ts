/**
 * Bursts against the handshake limits: rounds of ~500 forged handshakes sent
 * at once from one address — 200 CONNECT packets in one long-polling POST,
 * 200 CONNECT frames written back to back on one WebSocket, 100 WebSockets
 * opened together — against `address: { points, duration }`. Each round
 * starts in a fresh window and ends well within it, so the handshakes the
 * strategy judged in a round are the admissions of one window: never more
 * than `points`, every other answer `rate_limited` with `retryAfter`.
 *
 * Four phases: one node counting in memory; two nodes sharing one Redis (the
 * bound holds across both); the same two while Redis is frozen with SIGSTOP
 * (each node falls back to its own memory counts within the Redis deadline:
 * at most `points` per node); and Redis resumed (the shared bound again).
 * Meanwhile a valid client from another address must always connect.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { io as connectClient } from 'socket.io-client';
import { rawHandshake } from '../test/helpers/raw-client.js';
import { pollingBurst, websocketBurst, type BurstAnswer } from '../test/helpers/raw-burst.js';
import { startRedis } from '../test/helpers/redis.js';
import { hs256 } from '../test/helpers/tokens.js';
import type { BurstServerConfig } from './burst-server.js';
import { sleep } from './clients.js';
import type { Recorder } from './report.js';

const POINTS = 5;
const DURATION_S = 3;
/** Above what Redis replies take on a loaded soak machine while a node works through a 500-handshake burst (~400 ms seen on 2 shared cores). */
const STORE_TIMEOUT_MS = 1000;
const FORGED = JSON.stringify({ token: 'forged.token.value' });
const SERVER = fileURLToPath(new URL('./burst-server.ts', import.meta.url));
/** An answer slower than this counts as a hang. */
const ANSWER_MS = 20_000;

interface BurstNode {
  url: string;
  judged(): Promise<number>;
  close(): Promise<void>;
}

async function spawnNode(config: BurstServerConfig): Promise<BurstNode> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SOAK_BURST_CONFIG: JSON.stringify(config) },
  });
  let nextId = 1;
  const ask = <T>(body: string) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`burst server: no answer to ${body}`)), 10_000);
      child.on('message', function onMessage(msg: { id: number } & T) {
        if (msg.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(msg);
      });
      child.send({ id, body });
    });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('burst server not ready within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`burst server exited (code ${code})`)));
    child.on('message', (msg: { id: number; port?: number }) => {
      if (msg.id === 0 && msg.port !== undefined) {
        clearTimeout(timer);
        resolve(msg.port);
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    judged: async () => (await ask<{ judged: number }>('judged')).judged,
    async close() {
      await ask('close').catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

interface RoundResult {
  /** Handshakes each node's strategy judged in this round. */
  judged: number[];
  sent: number;
  answers: BurstAnswer[];
  ms: number;
  validRefused: number;
}

/** One round of bursts spread over the nodes, plus one valid client from another address. */
async function round(nodes: BurstNode[]): Promise<RoundResult> {
  const before = await Promise.all(nodes.map((n) => n.judged()));
  const started = performance.now();
  const node = (i: number) => nodes[i % nodes.length]!;
  const raw = (i: number) =>
    rawHandshake(node(i).url, { authText: FORGED }, ANSWER_MS).then((o): BurstAnswer =>
      o.kind === 'connected' ? o : o.kind === 'refused' ? { kind: 'refused', code: o.code, retryAfter: (o.data as { retryAfter?: number })?.retryAfter } : { kind: 'refused', code: `closed: ${o.detail}`, retryAfter: undefined },
    );
  const valid = new Promise<boolean>((resolve) => {
    // engine.io-client passes localAddress to ws: a second loopback address is another client address.
    const socket = connectClient(nodes[0]!.url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: hs256() }, localAddress: '127.0.0.2' } as never);
    const done = (ok: boolean) => (socket.disconnect(), resolve(ok));
    socket.once('connect', () => done(true));
    socket.once('connect_error', () => done(false));
    setTimeout(() => done(false), ANSWER_MS).unref();
  });
  const parts = await Promise.all([
    pollingBurst(node(0).url, FORGED, 200, ANSWER_MS),
    websocketBurst(node(1).url, FORGED, 200, ANSWER_MS),
    Promise.all(Array.from({ length: 100 }, (_, i) => raw(i))),
  ]);
  const ms = performance.now() - started;
  const validRefused = (await valid) ? 0 : 1;
  const after = await Promise.all(nodes.map((n) => n.judged()));
  return { judged: after.map((a, i) => a - before[i]!), sent: 500, answers: parts.flat(), ms, validRefused };
}

/** Rounds, each in a window of its own: the next starts after the previous one's window has ended. */
async function rounds(nodes: BurstNode[], count: number): Promise<RoundResult[]> {
  const results: RoundResult[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    results.push(await round(nodes));
    await sleep(Math.max(0, started + DURATION_S * 1000 + 500 - performance.now()));
  }
  return results;
}

function report(r: Recorder, phase: string, results: RoundResult[], bound: { perWindow: number; note: string }): void {
  const answers = results.flatMap((x) => x.answers);
  const sent = results.reduce((n, x) => n + x.sent, 0);
  const limited = answers.filter((a) => a.kind === 'refused' && a.code === 'rate_limited');
  const noRetry = limited.filter((a) => a.kind === 'refused' && !(typeof a.retryAfter === 'number' && a.retryAfter > 0)).length;
  const other = answers.filter((a) => !(a.kind === 'refused' && (a.code === 'rate_limited' || a.code === 'invalid_token')));
  const perWindow = Math.max(...results.map((x) => x.judged.reduce((n, j) => n + j, 0)));
  r.figure(`${phase}: most judged in one window`, perWindow, 'handshakes', { op: '<=', limit: bound.perWindow }, `${bound.note}; ${results.length} windows of ${sent / results.length} handshakes sent at once`);
  r.figure(`${phase}: most judged in one window by one node`, Math.max(...results.flatMap((x) => x.judged)), 'handshakes', { op: '<=', limit: POINTS }, 'each node counts every handshake of its own');
  r.figure(`${phase}: rate_limited`, limited.length, `of ${sent}`, { op: '>=', limit: sent - results.length * bound.perWindow });
  r.figure(`${phase}: rate_limited without retryAfter`, noRetry, 'answers', { op: '==', limit: 0 });
  r.figure(`${phase}: unanswered or other answers`, sent - answers.length + other.length, 'handshakes', { op: '==', limit: 0 }, other.slice(0, 3).map((a) => (a.kind === 'refused' ? a.code : a.kind)).join(', ') || 'invalid_token or rate_limited only');
  r.figure(`${phase}: valid client (another address) refused`, results.reduce((n, x) => n + x.validRefused, 0), `of ${results.length}`, { op: '==', limit: 0 });
  r.figure(`${phase}: slowest round`, Math.max(...results.map((x) => x.ms)), 'ms', { op: '<=', limit: DURATION_S * 1000 }, 'a round within one window');
}

export async function burst(r: Recorder): Promise<void> {
  const nodes: BurstNode[] = [];
  const redis = await startRedis();
  try {
    const memory = await spawnNode({ points: POINTS, duration: DURATION_S });
    nodes.push(memory);
    report(r, 'memory', await rounds([memory], 4), { perWindow: POINTS, note: `address ${POINTS} per ${DURATION_S} s, one node` });
    await memory.close();
    nodes.length = 0;

    const shared = { points: POINTS, duration: DURATION_S, redisUrl: redis.url, keyPrefix: 'soak-burst', storeTimeout: STORE_TIMEOUT_MS };
    nodes.push(await spawnNode(shared), await spawnNode(shared));
    report(r, 'redis', await rounds(nodes, 4), { perWindow: POINTS, note: 'two nodes sharing one Redis' });

    redis.pause();
    let stalled: RoundResult[];
    try {
      stalled = await rounds(nodes, 3);
    } finally {
      redis.resume();
    }
    report(r, 'redis frozen', stalled, { perWindow: nodes.length * POINTS, note: `SIGSTOP; each node on its own memory counts after the ${STORE_TIMEOUT_MS} ms deadline` });

    await sleep(DURATION_S * 1000 + 500);
    report(r, 'redis resumed', await rounds(nodes, 2), { perWindow: POINTS, note: 'back on the shared counts' });
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await redis.stop();
  }
}
