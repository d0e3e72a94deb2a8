import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, SockPass, jwtAuth, type Strategy } from 'sockpass';
import { answerRefresh, isRecoverable, reconnectWithFreshToken, refreshToken, type ClientAuthError } from 'sockpass/client';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
const sockets: ClientSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
  server = undefined;
});

const secondsFromNow = (s: number) => Math.floor(Date.now() / 1000) + s;

/** A server counting handshakes; `gate` lets a test refuse the next handshakes with a chosen code. */
async function serve(options: ConstructorParameters<typeof SockPass>[0] = {}) {
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const gate: { code?: AuthError['code'] } = {};
  const tokens: string[] = [];
  const gated: Strategy<unknown> = {
    authenticateCredential: jwt.authenticateCredential!,
    async authenticate(ctx) {
      tokens.push(String(ctx.auth.token));
      if (gate.code !== undefined) return { kind: 'fail', error: new AuthError(gate.code, 'refused by the test') };
      return jwt.authenticate(ctx);
    },
  };
  const auth = new SockPass(options).use('jwt-auth', gated);
  server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  return { auth, gate, tokens };
}

function client(options: Parameters<typeof connect>[1] = {}): ClientSocket {
  const socket = connect(server!.url, { transports: ['websocket'], forceNew: true, reconnection: false, autoConnect: false, ...options });
  sockets.push(socket);
  return socket;
}

/** A getToken() that mints a new token each call and remembers them. */
function tokenSource(lifetime = 60, sub = 'alice') {
  const issued: string[] = [];
  const getToken = async () => {
    const token = hs256({ sub, exp: secondsFromNow(lifetime), n: issued.length });
    issued.push(token);
    return token;
  };
  return { issued, getToken };
}

describe('client: answerRefresh / refreshToken', () => {
  it('answers the server\'s auth:refresh notices from getToken(), keeping the same socket', async () => {
    await serve({ refreshBefore: 800 });
    const source = tokenSource(2);
    const socket = client({ auth: { token: await source.getToken() } });
    const errors: ClientAuthError[] = [];
    answerRefresh(socket, { getToken: source.getToken, onError: (e) => errors.push(e) });
    socket.connect();
    await outcome(socket);
    const id = socket.id;
    let disconnected = false;
    socket.on('disconnect', () => (disconnected = true));
    await sleep(3500); // past the first token's exp and through two more renewals
    expect(disconnected).toBe(false);
    expect(socket.id).toBe(id);
    expect(source.issued.length).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
  });

  it('refreshToken resolves with the new expiry and rejects with the server\'s code', async () => {
    await serve();
    const socket = client({ auth: { token: hs256({ sub: 'alice' }) } });
    socket.connect();
    await outcome(socket);
    const exp = secondsFromNow(120);
    expect((await refreshToken(socket, hs256({ sub: 'alice', exp })))?.getTime()).toBe(exp * 1000);
    const refusal = await refreshToken(socket, hs256({ sub: 'bob' })).catch((e: ClientAuthError) => e);
    expect((refusal as ClientAuthError).code).toBe('user_mismatch');
  });

  it('reports a getToken() that throws through onError', async () => {
    await serve({ refreshBefore: 1500 });
    const socket = client({ auth: { token: hs256({ exp: secondsFromNow(2) }) } });
    const failed = new Promise<ClientAuthError>((resolve) =>
      answerRefresh(socket, {
        getToken: () => {
          throw new Error('offline');
        },
        onError: resolve,
      }),
    );
    socket.connect();
    expect((await failed).code).toBe('credentials_required');
  });
});

describe('client: reconnectWithFreshToken', () => {
  it('tells recoverable codes from terminal ones', () => {
    for (const code of ['token_expired', 'store_unavailable', 'authentication_timeout', 'key_unavailable']) expect(isRecoverable(code)).toBe(true);
    for (const code of ['invalid_token', 'forbidden', 'origin_not_allowed', 'user_mismatch', 'token_revoked', 'credentials_required', undefined]) {
      expect(isRecoverable(code)).toBe(false);
    }
  });

  it('after auth:expired, reconnects with a fresh token from getToken()', async () => {
    await serve();
    // The first token lives a second or two; the next one a minute.
    const issued: string[] = [];
    const getToken = () => {
      const token = hs256({ sub: 'alice', exp: secondsFromNow(issued.length === 0 ? 2 : 60) });
      issued.push(token);
      return token;
    };
    const socket = client();
    const stops: ClientAuthError[] = [];
    reconnectWithFreshToken(socket, { getToken, onStop: (e) => stops.push(e) });
    socket.connect();
    await outcome(socket);
    const firstId = socket.id;
    const expired = once(socket, 'auth:expired', 5000);
    await expired;
    await once(socket, 'connect', 5000);
    expect(socket.id).not.toBe(firstId);
    expect(socket.connected).toBe(true);
    expect(issued).toHaveLength(2); // the first connect and the reconnect both asked
    expect(stops).toEqual([]);
  });

  it('retries a recoverable handshake refusal with a fresh token, then connects', async () => {
    const { gate, tokens } = await serve();
    const source = tokenSource();
    gate.code = 'store_unavailable';
    const socket = client();
    reconnectWithFreshToken(socket, { getToken: source.getToken, delay: 50 });
    socket.on('connect_error', () => {
      if (tokens.length >= 2) gate.code = undefined; // the store is back after two refusals
    });
    socket.connect();
    await once(socket, 'connect', 5000);
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(new Set(tokens).size).toBe(tokens.length); // a new token each time
  });

  it('stops and reports on a terminal refusal, without retrying', async () => {
    const { gate, tokens } = await serve();
    gate.code = 'invalid_token';
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) => reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 20, onStop: resolve }));
    socket.connect();
    expect((await stopped).code).toBe('invalid_token');
    await sleep(300);
    expect(tokens).toHaveLength(1);
    expect(socket.connected).toBe(false);
  });

  it('gives up after maxAttempts recoverable refusals in a row', async () => {
    const { gate, tokens } = await serve();
    gate.code = 'store_unavailable';
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) =>
      reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 10, maxAttempts: 3, onStop: resolve }),
    );
    socket.connect();
    const error = await stopped;
    expect(error.code).toBe('store_unavailable');
    expect(tokens).toHaveLength(4); // the first try and three retries
  });

  it('stops on auth:revoked and does not reconnect', async () => {
    const { auth, tokens } = await serve();
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) => reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 20, onStop: resolve }));
    socket.connect();
    await outcome(socket);
    await auth.revoke(server!.io, { user: 'alice' }, 'banned');
    const error = await stopped;
    expect(error.code).toBe('token_revoked');
    expect(error.message).toBe('banned');
    await sleep(300);
    expect(socket.connected).toBe(false);
    expect(tokens).toHaveLength(1);
  });

  it('stops on auth:replaced with connection_replaced, and does not reconnect to replace the newer socket in turn', async () => {
    const { tokens } = await serve({ connections: { perUser: 1, onExceed: 'replace-oldest' } });
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) => reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 20, onStop: resolve }));
    socket.connect();
    await outcome(socket);
    const newer = client({ auth: { token: hs256({ sub: 'alice' }) } });
    newer.connect();
    expect((await outcome(newer)).connected).toBe(true);
    expect((await stopped).code).toBe('connection_replaced');
    await sleep(300);
    expect(socket.connected).toBe(false);
    expect(newer.connected).toBe(true);
    expect(tokens).toHaveLength(2);
  });

  it('stops on a refused refresh (another user) with its code', async () => {
    await serve();
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) => reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, onStop: resolve }));
    socket.connect();
    await outcome(socket);
    await refreshToken(socket, hs256({ sub: 'mallory' })).catch(() => {});
    expect((await stopped).code).toBe('user_mismatch');
  });

  it('counts a connection cut at once as a failed attempt, and stops with onStop after maxAttempts', async () => {
    // Admits, then cuts at once: a token that expires as it arrives (inside clockTolerance, say).
    let connects = 0;
    const auth = new SockPass().use('instant', {
      async authenticate() {
        return { kind: 'success', user: { id: 'alice' }, expiresAt: new Date(Date.now() + 30) };
      },
    });
    server = await startServer((io) => {
      io.use(auth.middleware('instant'));
      io.on('connection', () => connects++);
    });
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) =>
      reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 10, maxAttempts: 3, stableAfter: 500, onStop: resolve }),
    );
    socket.connect();
    const error = await Promise.race([stopped, sleep(4000).then(() => undefined)]);
    expect(error?.code).toBe('token_expired');
    await sleep(200);
    expect(connects).toBe(4); // the first connection and three retries
  });

  it('stops with code unknown on a refusal from a middleware that is not sockpass (a plain Error)', async () => {
    server = await startServer((io) => io.use((_socket, next) => next(new Error('not today'))));
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) =>
      reconnectWithFreshToken(socket, { getToken: tokenSource().getToken, delay: 10, onStop: resolve }),
    );
    socket.connect();
    const error = await Promise.race([stopped, sleep(3000).then(() => undefined)]);
    expect(error).toMatchObject({ code: 'unknown', message: 'not today' });
  });
});
