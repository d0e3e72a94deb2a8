/**
 * The client side of the soak: real socket.io-client sockets (one Manager
 * each, websocket transport, no automatic reconnection unless asked), the
 * outcome of a handshake or of an `authenticate` round trip as one string,
 * a real `/login` over HTTP for session cookies, and a bounded pool that runs
 * jobs a few at a time. Every wait here has a deadline: a hang is an outcome.
 *
 * @module
 */
import { get as httpGet } from 'node:http';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { SOAK_ORIGIN } from './pieces.js';

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

export function connect(url: string, nsp: string, options: ClientOptions = {}): Socket {
  return io(url + nsp, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
    ...options,
  });
}

/** `'connected'`, the refusal's AuthError code, `'untyped: …'` for a connect_error without one, or `'hang'`. */
export function handshakeOutcome(socket: Socket, ms = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const done = (value: string) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      socket.off('disconnect', onClose);
      resolve(value);
    };
    // A transport closed before the CONNECT answer (e.g. over maxHttpBufferSize) ends in `disconnect`, not connect_error.
    const onClose = (reason: string) => done(`closed: ${reason}`);
    const onConnect = () => done('connected');
    const onError = (err: Error & { data?: { code?: unknown } }) => {
      const code = err.data?.code;
      if (typeof code === 'string') return done(code);
      // socket.io-client reports a transport that closed before the CONNECT answer as "websocket error"/"timeout".
      done(`closed: ${err.message}`);
    };
    const timer = setTimeout(() => done('hang'), ms);
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
    socket.once('disconnect', onClose);
  });
}

/**
 * The `authenticate` round trip: connects, emits `payload` under `eventName`,
 * and resolves with `'authenticated'`, the `unauthorized` code, or what ended
 * the socket first.
 */
export function eventOutcome(socket: Socket, payload: unknown, ms = 10_000, eventName = 'authenticate'): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => done('hang'), ms);
    socket.once('connect', () => {
      try {
        socket.emit(eventName, payload);
      } catch (err) {
        done(`client could not send: ${(err as Error).message}`);
      }
    });
    socket.once('connect_error', (err: Error & { data?: { code?: unknown } }) => {
      done(typeof err.data?.code === 'string' ? err.data.code : `closed: ${err.message}`);
    });
    socket.once('authenticated', () => done('authenticated'));
    socket.once('unauthorized', (body: { data?: { code?: unknown } }) => {
      done(typeof body?.data?.code === 'string' ? body.data.code : 'untyped: unauthorized without a code');
    });
    socket.once('disconnect', (reason: string) => done(`closed: ${reason}`));
  });
}

/** Emits `echo` and waits for the ack: proves the socket is authenticated and its handler reachable. */
export function echo(socket: Socket, ms = 10_000): Promise<boolean> {
  return socket
    .timeout(ms)
    .emitWithAck('echo', 1)
    .then(
      (v) => v === 1,
      () => false,
    );
}

/** Waits until the socket disconnects, or `ms` passes. */
export function disconnected(socket: Socket, ms: number): Promise<string> {
  if (!socket.connected && !socket.active) return Promise.resolve('already');
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), ms);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/**
 * One GET without keep-alive: a pooled connection left open would show up
 * as a handle on the server and spoil the handle counts.
 */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, headers: { ...headers, connection: 'close' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cookies: res.headers['set-cookie'] ?? [] }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Logs `user` in through the server's express `/login` and returns the `connect.sid=…` cookie. */
export async function login(url: string, user: string): Promise<string> {
  const res = await get(`${url}/login?user=${encodeURIComponent(user)}`);
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
  const cookie = res.cookies.find((c) => c.startsWith('connect.sid='));
  if (cookie === undefined) throw new Error('login set no session cookie');
  return cookie.split(';', 1)[0]!;
}

/** Logs the session out (and destroys it), so its cookie becomes a replay. */
export async function logout(url: string, cookie: string): Promise<void> {
  const res = await get(`${url}/logout`, { cookie });
  if (res.status !== 200) throw new Error(`logout answered ${res.status}`);
}

/** Options for a browser-like cookie handshake from the allowed Origin. */
export function cookieOptions(cookie: string, origin = SOAK_ORIGIN): ClientOptions {
  return { extraHeaders: { cookie, origin } };
}

/** Runs `job(i)` for i in [0, count), at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` passes; returns whether it did. */
export async function until(check: () => Promise<boolean> | boolean, ms: number, every = 100): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(every);
  }
}
