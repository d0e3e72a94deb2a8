/**
 * The client driver: real socket.io-client websocket clients, in a process of
 * their own so that what the clients cost does not land on the server's
 * clock. It opens handshakes with bounded concurrency and times each one
 * (to `connect`, or to `authenticated` for the event strategy), sends events
 * with acks over the open sockets, and logs users in over HTTP to collect
 * real signed session cookies.
 *
 * Run by bench/run.ts as `node --import tsx bench/clients.ts`.
 *
 * @module
 */
import { io, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { serve, type ClientReply, type ClientRequest, type EventJob, type HandshakeJob } from './protocol.js';
import { BENCH_ORIGIN, ECHO_EVENT, type Credential } from './scenarios.js';

const HANDSHAKE_TIMEOUT_MS = 20_000;
/**
 * The storm's bound on one reconnection attempt. socket.io-client's `timeout` bounds only the Engine.IO open;
 * it then waits for the CONNECT reply without a bound, so a reconnecting client is not cut at 21 s as the
 * fill's handshakes are (a node busy with thousands of handshakes at once answers them all late together).
 */
const RECONNECT_BOUND_MS = 120_000;
const EVENT_TIMEOUT_MS = 60_000;

/** A socket this driver opened, with what it needs to open it again elsewhere (the cluster phase's failover). */
interface Opened {
  socket: Socket;
  url: string;
  credential: Credential;
  value: string;
  localAddress?: string;
}

let open: Opened[] = [];

/** The failover armed by `arm-failover`: settles once every armed socket was re-admitted or refused. */
let failover:
  | { armed: number; settled: number; outcomes: Record<string, number>; admittedAt: number[]; admittedUsers: string[]; done: Promise<void>; finish: () => void }
  | undefined;

/** Failures a reconnecting client retries (no answer in time, a dropped connection), unlike a refusal's code. */
const TRANSIENT = new Set(['timed out', 'timeout', 'websocket error']);
const MAX_RETRIES = 5;

/** The `sub` a bench token names (decoded, not verified). */
const subjectOf = (token: string): string => String((JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub?: unknown }).sub);

function optionsFor(credential: Credential, value: string, localAddress?: string): Partial<ManagerOptions & SocketOptions> {
  // `localAddress` is not in the client's types but engine.io-client hands it to `ws` in Node.
  const base = { transports: ['websocket'], reconnection: false, forceNew: true, timeout: HANDSHAKE_TIMEOUT_MS, localAddress };
  switch (credential) {
    case 'auth':
      return { ...base, auth: { token: value } };
    case 'auth-bearer':
      return { ...base, auth: { token: `Bearer ${value}` } };
    case 'query':
      return { ...base, query: { token: value } };
    case 'header':
      return { ...base, extraHeaders: { Authorization: `Bearer ${value}` } };
    case 'event':
      return base;
    case 'cookie':
      return { ...base, extraHeaders: { Cookie: value, Origin: BENCH_ORIGIN } };
  }
}

/** Opens one socket and resolves with its handshake latency in ms, or with the reason it failed. */
function handshake(url: string, credential: Credential, value: string, localAddress?: string, boundMs = HANDSHAKE_TIMEOUT_MS + 1000): Promise<number | string> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = io(url, optionsFor(credential, value, localAddress));
    open.push({ socket, url, credential, value, localAddress });
    const timer = setTimeout(() => {
      socket.disconnect(); // never admitted late, behind the caller's back
      resolve('timed out');
    }, boundMs);
    const done = (outcome: number | string) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => done(err.data?.code ?? err.message));
    if (credential === 'event') {
      socket.once('connect', () => socket.emit('authenticate', { token: value }));
      socket.once('authenticated', () => done(performance.now() - started));
      socket.once('unauthorized', (err: { data?: { code?: string } }) => done(err?.data?.code ?? 'unauthorized'));
    } else {
      socket.once('connect', () => done(performance.now() - started));
    }
  });
}

async function runHandshakes(job: HandshakeJob): Promise<ClientReply> {
  const latenciesMs: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < job.credentials.length) {
      const value = job.credentials[next++]!;
      const outcome = await handshake(job.url, job.credential, value, job.localAddress);
      if (typeof outcome === 'number') latenciesMs.push(outcome);
      else {
        failures++;
        firstError ??= outcome;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.credentials.length) }, worker));
  return { type: 'handshakes', wallMs: performance.now() - started, latenciesMs, failures, firstError };
}

/** Each open socket sends `perSocket` acked events, keeping at most `window` unanswered. */
async function runEvents(job: EventJob): Promise<ClientReply> {
  const sockets = open.map((o) => o.socket).filter((s) => s.connected);
  let events = 0;
  let failures = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const drive = (socket: Socket) =>
    new Promise<void>((resolve) => {
      let sent = 0;
      let answered = 0;
      const timer = setTimeout(() => {
        failures += job.perSocket - answered;
        firstError ??= 'event acks timed out';
        resolve();
      }, EVENT_TIMEOUT_MS);
      const send = () => {
        const n = sent++;
        socket.emit(ECHO_EVENT, n, (echo: unknown) => {
          answered++;
          if (echo === n) events++;
          else {
            failures++;
            firstError ??= `unexpected ack ${JSON.stringify(echo)}`;
          }
          if (sent < job.perSocket) send();
          else if (answered === job.perSocket) {
            clearTimeout(timer);
            resolve();
          }
        });
      };
      for (let i = 0; i < Math.min(job.window, job.perSocket); i++) send();
    });
  await Promise.all(sockets.map(drive));
  return { type: 'events', wallMs: performance.now() - started, events, failures, firstError };
}

/**
 * Arms every socket opened to `from` to reconnect to one of `to` (in turn)
 * once that node is gone: a connected socket when it loses its connection,
 * one already cut (revoked, expired) when the first connected one does, so
 * a revoked or expired client tries to come back in the same storm. Each
 * waits 500–1500 ms first, as socket.io-client's first reconnection attempt
 * does, and tries again with its backoff when the attempt timed out.
 */
function armFailover(from: string, to: readonly string[]): void {
  const armed = open.filter((o) => o.url === from);
  let finish = () => {};
  const done = new Promise<void>((r) => (finish = r));
  const state = { armed: armed.length, settled: 0, outcomes: {} as Record<string, number>, admittedAt: [] as number[], admittedUsers: [] as string[], done, finish };
  failover = state;
  if (armed.length === 0) finish();
  const retry = (o: Opened, i: number, attempt = 0) => {
    // socket.io-client's defaults: 1 s doubling up to 5 s, ±50 %.
    const delay = Math.min(1000 * 2 ** attempt, 5000) * (0.5 + Math.random());
    setTimeout(() => {
      void handshake(to[i % to.length]!, o.credential, o.value, o.localAddress, RECONNECT_BOUND_MS).then((outcome) => {
        // A node too busy to answer in time is tried again, as the client would; a refusal is final.
        if (typeof outcome === 'string' && TRANSIENT.has(outcome) && attempt < MAX_RETRIES) return retry(o, i, attempt + 1);
        const key = typeof outcome === 'number' ? 'connected' : outcome;
        state.outcomes[key] = (state.outcomes[key] ?? 0) + 1;
        if (typeof outcome === 'number') {
          state.admittedAt.push(Date.now());
          state.admittedUsers.push(subjectOf(o.value));
        }
        if (++state.settled === state.armed) finish();
      });
    }, delay);
  };
  const cutBefore = armed.map((o, i) => [o, i] as const).filter(([o]) => !o.socket.connected);
  let stormStarted = false;
  armed.forEach((o, i) => {
    if (!o.socket.connected) return;
    o.socket.once('disconnect', () => {
      if (!stormStarted) {
        stormStarted = true;
        for (const [cut, j] of cutBefore) retry(cut, j);
      }
      retry(o, i);
    });
  });
}

/** Logs users in through the session scenario's real `/login` route; returns `name=value` of each signed cookie. */
async function login(url: string, count: number): Promise<string[]> {
  const cookies: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${url}/login?user=${i}`, { signal: AbortSignal.timeout(10_000) });
      const cookie = res.headers.getSetCookie()[0]?.split(';', 1)[0];
      await res.arrayBuffer();
      if (!res.ok || cookie === undefined) throw new Error(`bench: /login answered ${res.status} without a cookie`);
      cookies[i] = cookie;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return cookies;
}

serve<ClientRequest, ClientReply>(async (req) => {
  switch (req.type) {
    case 'handshakes':
      return runHandshakes(req);
    case 'events':
      return runEvents(req);
    case 'login':
      return { type: 'login', cookies: await login(req.url, req.count) };
    case 'disconnect-all': {
      for (const { socket } of open) socket.disconnect();
      open = [];
      return { type: 'ok' };
    }
    case 'arm-failover':
      armFailover(req.from, req.to);
      return { type: 'ok' };
    case 'failover-wait': {
      const state = failover;
      if (state === undefined) throw new Error('failover-wait without arm-failover');
      await Promise.race([state.done, new Promise((r) => setTimeout(r, req.ms))]);
      return { type: 'failover', armed: state.armed, outcomes: state.outcomes, admittedAt: state.admittedAt, admittedUsers: state.admittedUsers };
    }
    case 'close':
      for (const { socket } of open) socket.disconnect();
      setImmediate(() => process.exit(0));
      return { type: 'ok' };
  }
});
