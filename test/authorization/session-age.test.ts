/**
 * `maxSessionAge`: a client that refreshes its token over and over is still
 * cut at `admittedAt + maxSessionAge` (measured on the server, ±100 ms), with
 * `session_too_old` and the action `login`, distinct from `token_expired`;
 * no refresh acknowledges a deadline past the cap, and none is taken after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import type { Socket } from 'socket.io';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import jwt from 'jsonwebtoken';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const MAX_AGE = 1500;

async function serve() {
  const auth = new SockPass({ maxSessionAge: MAX_AGE }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const seen: { admittedAt?: number; cutAt?: number } = {};
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-auth'));
    auth.onAuthenticated(io, (s: Socket) => {
      seen.admittedAt = (s.data.auth.admittedAt as Date).getTime();
      s.on('disconnect', () => (seen.cutAt = Date.now()));
    });
  });
  return seen;
}

/** The longest this process's event loop ran late on a 10 ms timer: how late any timer may fire, whoever set it. */
function watchLoopLag(): { max: number; stop(): void } {
  const lag = { max: 0, stop: () => clearInterval(timer) };
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    lag.max = Math.max(lag.max, now - last - 10);
    last = now;
  }, 10);
  return lag;
}

describe('maxSessionAge', () => {
  it('cuts a refreshing client at the cap with session_too_old; no refresh moves its deadline past it', async () => {
    const seen = await serve();
    const client = server!.client('/', { auth: { token: hs256({ sub: 'ann' }, { expiresIn: 60 }) } });
    expect(await outcome(client)).toEqual({ connected: true });
    const expired = once<Record<string, unknown>>(client, 'auth:expired', 5000);
    const replies: Array<{ expiresAt?: string | null; error?: unknown }> = [];
    const lag = watchLoopLag();
    const refresher = setInterval(() => {
      if (!client.connected) return;
      client.emit('auth:refresh', { token: hs256({ sub: 'ann' }, { expiresIn: 60 }) }, (reply: { expiresAt?: string | null }) => replies.push(reply));
    }, 150);
    try {
      expect(await expired).toEqual({ code: 'session_too_old', message: expect.any(String), action: 'login' });
      for (let t = 0; t < 100 && seen.cutAt === undefined; t++) await sleep(10);
    } finally {
      clearInterval(refresher);
      lag.stop();
    }
    const cap = seen.admittedAt! + MAX_AGE;
    // Never early; late by at most 100 ms beyond what the loaded test machine's event loop itself lagged.
    expect(seen.cutAt!).toBeGreaterThanOrEqual(cap - 5);
    expect(seen.cutAt! - cap).toBeLessThanOrEqual(100 + lag.max);
    expect(replies.length).toBeGreaterThanOrEqual(3);
    for (const reply of replies) {
      expect(reply.error).toBeUndefined();
      // Every refresh was acknowledged with the session's end, not the token's 60 s.
      expect(new Date(reply.expiresAt!).getTime()).toBe(cap);
    }
    // After the cut no refresh is taken: the socket is gone.
    expect(client.connected).toBe(false);
    await expect(client.timeout(300).emitWithAck('auth:refresh', { token: hs256({ sub: 'ann' }) })).rejects.toThrow();
  });

  it('cuts a credential without expiry at the cap too: the session\'s end is a deadline of its own', async () => {
    const seen = await serve();
    const token = jwt.sign({ sub: 'ann' }, SECRET, { algorithm: 'HS256' });
    const client = server!.client('/', { auth: { token } });
    expect(await outcome(client)).toEqual({ connected: true });
    const lag = watchLoopLag();
    try {
      expect(await once(client, 'auth:expired', 5000)).toEqual({ code: 'session_too_old', message: expect.any(String), action: 'login' });
      for (let t = 0; t < 100 && seen.cutAt === undefined; t++) await sleep(10);
    } finally {
      lag.stop();
    }
    const cap = seen.admittedAt! + MAX_AGE;
    expect(seen.cutAt!).toBeGreaterThanOrEqual(cap - 5);
    expect(seen.cutAt! - cap).toBeLessThanOrEqual(100 + lag.max);
  });

  it('a recovered socket keeps its deadline: the cap counts from the first admission, not the recovery', async () => {
    const auth = new SockPass({ maxSessionAge: 2500 }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const admitted: number[] = [];
    let cutAt: number | undefined;
    server = await startServer(
      (io) => {
        io.use(auth.middleware('jwt-auth'));
        auth.onAuthenticated(io, (s: Socket) => {
          admitted.push((s.data.auth.admittedAt as Date).getTime());
          s.on('disconnect', (reason) => reason === 'server namespace disconnect' && (cutAt = Date.now()));
        });
      },
      { connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: true } },
    );
    const client = server.client('/', { reconnection: true, randomizationFactor: 0, reconnectionDelay: 100, reconnectionDelayMax: 100, auth: { token: hs256({ sub: 'ann' }) } });
    await outcome(client);
    const offset = once(client, 'offset');
    server.io.emit('offset', 1);
    await offset;
    await sleep(300);
    const back = once(client, 'connect', 10_000);
    client.io.engine.close();
    await back;
    expect(client.recovered).toBe(true);
    const expired = await once<{ code: string }>(client, 'auth:expired', 5000);
    expect(expired.code).toBe('session_too_old');
    for (let t = 0; t < 100 && cutAt === undefined; t++) await sleep(10);
    expect(admitted).toHaveLength(2);
    expect(admitted[1]).toBe(admitted[0]);
    expect(cutAt! - (admitted[0]! + 2500)).toBeGreaterThanOrEqual(-5);
    expect(cutAt! - (admitted[0]! + 2500)).toBeLessThan(500);
  });

  it('is session_too_old in the error code list, with the action login', async () => {
    const { AUTH_ERROR_CODES, actionFor } = await import('sockpass');
    expect(AUTH_ERROR_CODES).toContain('session_too_old');
    expect(actionFor('session_too_old')).toBe('login');
    expect(actionFor('token_expired')).toBe('refresh');
  });
});
