import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, jwtQuery } from 'sockpass';
import {
  ClientAuthError,
  authErrorCode,
  authenticateWithEvent,
  connectWithToken,
  isUnauthorizedError,
  placeToken,
} from 'sockpass/client';
import { once, outcome, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
const sockets: ClientSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
});

/** connectWithToken with the test defaults (websocket, no reconnection); closed after each test. */
function connect(options: Parameters<typeof connectWithToken>[1]) {
  const socket = connectWithToken(server.url, { transports: ['websocket'], reconnection: false, ...options });
  sockets.push(socket);
  return socket;
}

const verify = { secret: SECRET, algorithms: ['HS256'] as const };

async function serveHandshake() {
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth({ ...verify, algorithms: ['HS256'] }))
    .use('jwt-auth-custom', jwtAuth({ ...verify, algorithms: ['HS256'], field: 'jwt' }))
    .use('jwt-query', jwtQuery({ ...verify, algorithms: ['HS256'], warnUrlLogging: false }))
    .use('jwt-query-custom', jwtQuery({ ...verify, algorithms: ['HS256'], parameter: 'access_token', warnUrlLogging: false }))
    .use('jwt-header', jwtHeader({ ...verify, algorithms: ['HS256'] }));
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth', 'jwt-auth-custom', 'jwt-query', 'jwt-query-custom', 'jwt-header']));
    auth.onAuthenticated<import('socket.io').Socket>(io, (socket) => {
      socket.emit('seen', {
        strategy: socket.data.auth.strategy,
        sub: (socket.data.auth.user as { sub: string }).sub,
        auth: socket.handshake.auth,
        query: { lang: socket.handshake.query.lang },
        header: socket.handshake.headers['x-app'],
      });
    });
  });
}

async function serveEvent(timeout = 10_000) {
  const auth = new SockPass().use('jwt-event', jwtAuthenticateEvent({ ...verify, algorithms: ['HS256'], timeout }));
  server = await startServer((io) => io.use(auth.middleware('jwt-event')));
}

describe('connectWithToken', () => {
  it.each([
    ['auth', undefined, 'jwt-auth'],
    ['auth', 'jwt', 'jwt-auth-custom'],
    ['query', undefined, 'jwt-query'],
    ['query', 'access_token', 'jwt-query-custom'],
    ['header', undefined, 'jwt-header'],
  ] as const)('puts the token where %s (name %s) is read: %s', async (via, name, strategy) => {
    await serveHandshake();
    const socket = connect({ token: hs256({ sub: 'bob' }), via, name });
    const seen = await once<{ strategy: string; sub: string }>(socket, 'seen');
    expect(seen).toMatchObject({ strategy, sub: 'bob' });
  });

  it('keeps what the app already put in auth, query and headers', async () => {
    await serveHandshake();
    const viaAuth = connect({ token: hs256(), auth: { room: 'x' }, query: { lang: 'fr' }, extraHeaders: { 'x-app': 'demo' } });
    const seen = await once<{ auth: Record<string, string>; query: { lang: string }; header: string }>(viaAuth, 'seen');
    expect(seen.auth.room).toBe('x');
    expect(seen.query.lang).toBe('fr');
    expect(seen.header).toBe('demo');
    const viaQuery = connect({ token: hs256(), via: 'query', query: 'lang=de' as never });
    expect((await once<{ query: { lang: string } }>(viaQuery, 'seen')).query.lang).toBe('de');
  });

  it('wraps an auth callback, so a reconnection reads the app payload again', async () => {
    const options = placeToken({ auth: (cb: (d: object) => void) => cb({ room: 'y' }) }, 'T', 'auth');
    const data = await new Promise((resolve) => (options.auth as (cb: (d: object) => void) => void)(resolve));
    expect(data).toEqual({ room: 'y', token: 'T' });
  });

  it('surfaces the refusal code of a bad token through authErrorCode', async () => {
    await serveHandshake();
    const socket = connect({ token: hs256({ exp: Math.floor(Date.now() / 1000) - 10 }) });
    const result = await outcome(socket);
    expect(result.connected).toBe(false);
    const error = (result as { error: Error }).error;
    expect(isUnauthorizedError(error)).toBe(true);
    expect(authErrorCode(error)).toBe('token_expired');
  });

  it('refuses an empty token and an unknown placement before connecting', () => {
    expect(() => connectWithToken('http://127.0.0.1:1', { token: '' })).toThrow(TypeError);
    expect(() => placeToken({}, 't', 'cookie' as never)).toThrow(/placement/);
  });
});

describe('authenticateWithEvent', () => {
  it('resolves once the server answers authenticated, called before or after connect', async () => {
    await serveEvent();
    const early = server.client();
    await authenticateWithEvent(early, hs256());
    const late = server.client();
    await outcome(late);
    await authenticateWithEvent(late, hs256());
    for (const s of [early, late]) {
      expect(s.listeners('authenticated')).toHaveLength(0);
      expect(s.listeners('unauthorized')).toHaveLength(0);
      expect(s.listeners('connect')).toHaveLength(0);
      expect(s.listeners('disconnect')).toHaveLength(0);
    }
  });

  it('rejects with the server code on a bad token', async () => {
    await serveEvent();
    const socket = server.client();
    const disconnected = once<string>(socket, 'disconnect');
    const error = await authenticateWithEvent(socket, hs256({}, {}, 'some-other-secret-some-other-secret')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientAuthError);
    expect(authErrorCode(error)).toBe('invalid_token');
    expect((error as ClientAuthError).message).not.toContain('eyJ');
    expect(await disconnected).toBe('io server disconnect');
  });

  it('rejects with authentication_timeout when no answer comes, leaving no listener behind', async () => {
    // A server that ignores the event entirely.
    server = await startServer();
    const socket = server.client();
    const started = Date.now();
    const error = await authenticateWithEvent(socket, hs256(), { timeout: 300 }).catch((e: unknown) => e);
    expect(authErrorCode(error)).toBe('authentication_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(socket.listeners('authenticated')).toHaveLength(0);
    expect(socket.listeners('disconnect')).toHaveLength(0);
  });

  it('rejects with the handshake code when the socket is refused before it connects', async () => {
    const auth = new SockPass().use('jwt-auth', jwtAuth({ ...verify, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    const error = await authenticateWithEvent(server.client(), hs256()).catch((e: unknown) => e);
    expect(authErrorCode(error)).toBe('credentials_required');
  });

  it('rejects with disconnected when the socket closes first', async () => {
    server = await startServer((io) => io.on('connection', (s) => s.on('authenticate', () => s.disconnect())));
    const error = await authenticateWithEvent(server.client(), hs256()).catch((e: unknown) => e);
    expect(authErrorCode(error)).toBe('disconnected');
  });
});

describe('authErrorCode', () => {
  it('reads refusals only, never a network error', () => {
    expect(authErrorCode({ message: 'x', data: { type: 'UnauthorizedError', code: 'token_expired', message: 'x' } })).toBe('token_expired');
    expect(authErrorCode(new ClientAuthError('authentication_timeout', 'late'))).toBe('authentication_timeout');
    expect(authErrorCode(Object.assign(new Error('xhr poll error'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(authErrorCode({ data: { code: 'invalid_token' } })).toBeUndefined();
    expect(authErrorCode(null)).toBeUndefined();
    expect(authErrorCode('invalid_token')).toBeUndefined();
  });
});
