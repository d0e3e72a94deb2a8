import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AUTH_ERROR_CODES, SockPass, actionFor, jwtAuth, jwtAuthenticateEvent, type FailureEvent } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { codeOf, once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256, unsigned } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

interface Unauthorized {
  message: string;
  data: { type: string; code: string; message: string; strategy?: string };
}

async function serve(options: { timeout?: number; eventName?: string } = {}) {
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
    .use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], ...options }));
  const failures: FailureEvent[] = [];
  auth.on('failure', (f) => failures.push(f));
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth', 'jwt-event']));
    auth.onAuthenticated(io, (socket) => {
      socket.emit('whoami', socket.data.auth);
      socket.on('whoami', (ack: (auth: unknown) => void) => ack(socket.data.auth));
    });
  });
  return { auth, failures };
}

/** Connects, sends `payload` in the authenticate event, and reports the answer. */
async function authenticate(client: ClientSocket, payload: unknown, eventName = 'authenticate') {
  expect(await outcome(client)).toEqual({ connected: true });
  const answer = new Promise<{ kind: 'authenticated' } | { kind: 'unauthorized'; body: Unauthorized }>((resolve) => {
    client.once('authenticated', () => resolve({ kind: 'authenticated' }));
    client.once('unauthorized', (body: Unauthorized) => resolve({ kind: 'unauthorized', body }));
  });
  client.emit(eventName, payload);
  return answer;
}

describe('jwt-authenticate-event', () => {
  it('admits a socket after { token } arrives and sets socket.data.auth', async () => {
    await serve();
    const client = server.client();
    const whoami = once<{ user: { sub: string }; strategy: string; expiresAt: string }>(client, 'whoami');
    expect(await authenticate(client, { token: hs256({ role: 'admin' }) })).toEqual({ kind: 'authenticated' });
    const me = await whoami;
    expect(me.user.sub).toBe('alice');
    expect(me.strategy).toBe('jwt-event');
    expect(new Date(me.expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('accepts a bare string token and a "Bearer " prefix', async () => {
    await serve();
    expect(await authenticate(server.client(), hs256())).toEqual({ kind: 'authenticated' });
    expect(await authenticate(server.client(), { token: `Bearer ${hs256()}` })).toEqual({ kind: 'authenticated' });
  });

  it('listens on a custom event name', async () => {
    await serve({ eventName: 'login' });
    expect(await authenticate(server.client(), { token: hs256() }, 'login')).toEqual({ kind: 'authenticated' });
  });

  it.each([
    ['nothing', 'credentials_required', undefined],
    ['an empty object', 'credentials_required', {}],
    ['a numeric token', 'credentials_bad_format', { token: 42 }],
    ['an array', 'credentials_bad_format', [hs256()]],
    ['a badly signed token', 'invalid_token', { token: hs256({}, {}, 'another-secret-entirely-different!!') }],
    ['an expired token', 'token_expired', { token: hs256({ exp: Math.floor(Date.now() / 1000) - 10 }) }],
    ['an alg:none token', 'invalid_token', { token: unsigned() }],
  ])('answers %s with unauthorized (%s) and disconnects at once', async (_label, code, payload) => {
    const { failures } = await serve();
    const client = server.client();
    const disconnected = once<string>(client, 'disconnect');
    const answer = await authenticate(client, payload);
    const refusedAt = Date.now();
    expect(answer.kind).toBe('unauthorized');
    const body = (answer as { body: Unauthorized }).body;
    expect(body).toEqual({ message: body.data.message, data: { type: 'UnauthorizedError', code, message: body.message, action: actionFor(code), strategy: 'jwt-event' } });
    // The server ends the namespace itself, without waiting on any acknowledgement from the client.
    expect(await disconnected).toBe('io server disconnect');
    expect(Date.now() - refusedAt).toBeLessThan(1000);
    expect(failures.map((f) => f.code)).toEqual([code]);
    if (typeof (payload as { token?: unknown })?.token === 'string') {
      expect(JSON.stringify(body)).not.toContain((payload as { token: string }).token.split('.')[1]);
    }
  });

  it('refuses any malformed payload with a typed code (property)', async () => {
    await serve();
    const payload = fc.oneof(
      fc.anything(),
      fc.record({ token: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())) }),
      fc.string().map((s) => `${s}.${s}.${s}`),
    );
    await fc.assert(
      fc.asyncProperty(payload, async (p) => {
        const client = server.client();
        const answer = await authenticate(client, p);
        client.disconnect();
        return answer.kind === 'unauthorized' && AUTH_ERROR_CODES.includes(answer.body.data.code as never);
      }),
      { numRuns: 30 },
    );
  });

  it('disconnects a socket that sends no token within the timeout, with authentication_timeout', async () => {
    const { failures } = await serve({ timeout: 400 });
    // Measured where the timeout runs: from the server's `connection` to the server's `disconnect`.
    const lifetime = new Promise<number>((resolve) =>
      server.io.on('connection', (s) => {
        const at = performance.now();
        s.on('disconnect', () => resolve(performance.now() - at));
      }),
    );
    const client = server.client();
    const unauthorized = once<Unauthorized>(client, 'unauthorized', 5000);
    const disconnected = once<string>(client, 'disconnect', 5000);
    expect(await outcome(client)).toEqual({ connected: true });
    // Other events do not keep it alive.
    const chatter = setInterval(() => client.emit('ping-me', 1), 50);
    try {
      const body = await unauthorized;
      expect(body.data.code).toBe('authentication_timeout');
      expect(await disconnected).toBe('io server disconnect');
    } finally {
      clearInterval(chatter);
    }
    const elapsed = await lifetime;
    expect(elapsed).toBeGreaterThanOrEqual(395);
    expect(elapsed).toBeLessThan(400 + 1000);
    expect(failures.map((f) => f.code)).toEqual(['authentication_timeout']);
  });

  it('keeps an authenticated socket past the timeout', async () => {
    await serve({ timeout: 300 });
    const client = server.client();
    expect(await authenticate(client, { token: hs256() })).toEqual({ kind: 'authenticated' });
    await sleep(600);
    expect(client.connected).toBe(true);
    expect(await client.timeout(2000).emitWithAck('whoami')).toMatchObject({ user: { sub: 'alice' } });
  });

  it('takes the handshake token first and falls back to the event in one chain', async () => {
    await serve();
    const handshake = server.client('/', { auth: { token: hs256() } });
    const seen = await once<{ strategy: string }>(handshake, 'whoami');
    expect(seen.strategy).toBe('jwt-auth');
    // A bad handshake token is refused at the handshake: the event is a fallback for a missing token, not a second chance.
    expect(await codeOf(server.client('/', { auth: { token: 'garbage' } }))).toBe('invalid_token');
    const event = server.client();
    const whoami = once<{ strategy: string }>(event, 'whoami');
    expect(await authenticate(event, { token: hs256() })).toEqual({ kind: 'authenticated' });
    expect((await whoami).strategy).toBe('jwt-event');
  });

  it('runs onAuthenticated only after the authenticate round trip', async () => {
    const auth = new SockPass().use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    const order: string[] = [];
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-event'));
      io.on('connection', (socket) => order.push(`connection:${socket.data.auth === undefined ? 'anonymous' : 'auth'}`));
      auth.onAuthenticated(io, (socket) => order.push(`authenticated:${(socket.data.auth.user as { sub: string }).sub}`));
    });
    const client = server.client();
    expect(await outcome(client)).toEqual({ connected: true });
    await sleep(200);
    expect(order).toEqual(['connection:anonymous']);
    client.emit('authenticate', { token: hs256() });
    await once(client, 'authenticated');
    await sleep(50);
    expect(order).toEqual(['connection:anonymous', 'authenticated:alice']);
  });

  it('treats a second authenticate as a re-authentication that moves claims and expiry', async () => {
    await serve();
    const client = server.client();
    expect(await authenticate(client, { token: hs256({ role: 'user' }, { expiresIn: 60 }) })).toEqual({ kind: 'authenticated' });
    const before = (await client.timeout(2000).emitWithAck('whoami')) as { claims: { role: string }; expiresAt: string };
    client.emit('authenticate', { token: hs256({ role: 'admin' }, { expiresIn: 3600 }) });
    await once(client, 'authenticated');
    const after = (await client.timeout(2000).emitWithAck('whoami')) as { claims: { role: string }; expiresAt: string };
    expect(before.claims.role).toBe('user');
    expect(after.claims.role).toBe('admin');
    expect(new Date(after.expiresAt).getTime() - new Date(before.expiresAt).getTime()).toBeGreaterThan(3000_000);
    expect(client.connected).toBe(true);
  });

  it('refuses a re-authentication as another user with user_mismatch and disconnects', async () => {
    await serve();
    const client = server.client();
    expect(await authenticate(client, { token: hs256({ sub: 'alice' }) })).toEqual({ kind: 'authenticated' });
    const unauthorized = once<Unauthorized>(client, 'unauthorized');
    const disconnected = once<string>(client, 'disconnect');
    client.emit('authenticate', { token: hs256({ sub: 'mallory' }) });
    expect((await unauthorized).data.code).toBe('user_mismatch');
    expect(await disconnected).toBe('io server disconnect');
  });

  it('refuses a bad token at re-authentication and disconnects', async () => {
    await serve();
    const client = server.client();
    expect(await authenticate(client, { token: hs256() })).toEqual({ kind: 'authenticated' });
    const unauthorized = once<Unauthorized>(client, 'unauthorized');
    const disconnected = once<string>(client, 'disconnect');
    client.emit('authenticate', { token: hs256({ exp: Math.floor(Date.now() / 1000) - 5 }) });
    expect((await unauthorized).data.code).toBe('token_expired');
    expect(await disconnected).toBe('io server disconnect');
  });

  it('checks its options at construction', () => {
    const base = { secret: SECRET, algorithms: ['HS256'] as const };
    expect(() => jwtAuthenticateEvent({ ...base, algorithms: [] })).toThrow(/algorithms/);
    expect(() => jwtAuthenticateEvent({ ...base, timeout: 0 })).toThrow(/timeout/);
    expect(() => jwtAuthenticateEvent({ ...base, timeout: 1.5 })).toThrow(/timeout/);
    expect(() => jwtAuthenticateEvent({ ...base, eventName: 'disconnect' })).toThrow(/authentication event/);
    expect(() => jwtAuthenticateEvent({ ...base, eventName: '' })).toThrow(/authentication event/);
    const strategy = jwtAuthenticateEvent({ ...base, timeout: 1234, eventName: 'login' });
    expect(strategy.inBand).toEqual({ eventName: 'login', timeout: 1234 });
    expect(jwtAuthenticateEvent(base).inBand).toEqual({ eventName: 'authenticate', timeout: 15_000 });
  });

  it('cannot take part in mode all', () => {
    const auth = new SockPass()
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
      .use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    expect(() => auth.middleware(['jwt-auth', 'jwt-event'], { mode: 'all' })).toThrow(/mode "all"/);
  });
});
