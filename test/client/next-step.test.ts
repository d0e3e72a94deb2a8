/**
 * `sockpass/client` follows the server's `action` field, not a list of codes
 * of its own: a refusal whose code alone would say "stop" is retried when the
 * server says `backoff`, and one whose code would be retried stops when the
 * server says `login`. Without the field (an older server) the shared table
 * decides. A real server's refusals carry the field.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Server } from 'socket.io';
import { io as connectClient } from 'socket.io-client';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nextStep, reconnectWithFreshToken, type ClientAuthError } from 'sockpass/client';
import { SockPass, jwtAuth, CLIENT_ACTIONS, AUTH_ERROR_CODES } from 'sockpass';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

const closers: Array<() => Promise<void>> = [];
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A bare Socket.IO server whose middleware refuses with exactly the `data` given, `times` times. */
async function refusing(data: Record<string, unknown>, times: number) {
  const http = createServer();
  const io = new Server(http);
  let refused = 0;
  io.use((_socket, next) => {
    if (refused >= times) return next();
    refused++;
    next(Object.assign(new Error(String(data.message)), { data }));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => io.close(() => r())));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, refused: () => refused };
}

describe('the client follows the server\'s action', () => {
  it('retries a code it would stop on when the server says backoff', async () => {
    const srv = await refusing({ type: 'UnauthorizedError', code: 'invalid_token', message: 'try later', action: 'backoff' }, 2);
    const socket = connectClient(srv.url, { autoConnect: false, reconnection: false, transports: ['websocket'], forceNew: true });
    closers.push(async () => void socket.disconnect());
    const stops: ClientAuthError[] = [];
    reconnectWithFreshToken(socket, { getToken: () => 't', delay: 20, onStop: (e) => stops.push(e) });
    socket.connect();
    await once(socket, 'connect', 5000);
    expect(srv.refused()).toBe(2);
    expect(stops).toEqual([]);
  });

  it('stops on a code it would retry when the server says login, and reports the action', async () => {
    const srv = await refusing({ type: 'UnauthorizedError', code: 'token_expired', message: 'log in again', action: 'login' }, 5);
    const socket = connectClient(srv.url, { autoConnect: false, reconnection: false, transports: ['websocket'], forceNew: true });
    closers.push(async () => void socket.disconnect());
    const stopped = new Promise<ClientAuthError>((resolve) => reconnectWithFreshToken(socket, { getToken: () => 't', delay: 20, onStop: resolve }));
    socket.connect();
    const error = await stopped;
    expect([error.code, error.action]).toEqual(['token_expired', 'login']);
    await sleep(200);
    expect(srv.refused()).toBe(1);
  });

  it('reads a refusal without the field by the shared table', () => {
    expect(nextStep({ data: { type: 'UnauthorizedError', code: 'rate_limited', message: '' } })).toBe('backoff');
    expect(nextStep({ data: { type: 'UnauthorizedError', code: 'origin_not_allowed', message: '' } })).toBe('stop');
    expect(nextStep({ code: 'session_too_old', message: '' })).toBe('login');
    expect(nextStep(new Error('xhr poll error'))).toBeUndefined();
  });

  it('every code has an action, and a real sockpass refusal carries it in err.data', async () => {
    for (const code of AUTH_ERROR_CODES) expect(['refresh', 'backoff', 'login', 'stop']).toContain(CLIENT_ACTIONS[code]);
    const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    const expired = server.client('/', { auth: { token: hs256({ exp: Math.floor(Date.now() / 1000) - 10 }) } });
    const r = await outcome(expired);
    expect(r.connected).toBe(false);
    expect(!r.connected && (r.error.data as { action?: string }).action).toBe('refresh');
    expect(nextStep(!r.connected && r.error)).toBe('refresh');
  });
});
