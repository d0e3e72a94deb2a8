import { afterEach, describe, expect, it } from 'vitest';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import fc from 'fast-check';
import {
  AuthError,
  SockPass,
  handshakeLimits,
  jwtAuth,
  jwtAuthenticateEvent,
  jwtHeader,
  jwtQuery,
  type AuthErrorCode,
  type HandshakeLimitsOptions,
  type Strategy,
} from 'sockpass';
import { reconnectWithFreshToken } from 'sockpass/client';
import { codeOf, outcome, sleep, startServer, type ClientOptions, type TestServer } from '../helpers/server.js';
import { SECRET, hs256, unsigned } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** jwt-auth, counting how often it actually ran: a limited handshake must never reach it. */
async function serve(limits: HandshakeLimitsOptions, withEvent = false) {
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const counted = { runs: 0 };
  const strategy: Strategy = {
    ...jwt,
    authenticate: (ctx) => {
      counted.runs++;
      return jwt.authenticate(ctx);
    },
  };
  const auth = new SockPass({ rateLimit: handshakeLimits(limits) }).use('jwt-auth', strategy);
  if (withEvent) auth.use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 5000 }));
  server = await startServer((io) => io.use(auth.middleware(withEvent ? ['jwt-auth', 'event'] : ['jwt-auth'])));
  return counted;
}

/** A second loopback source address: engine.io-client passes `localAddress` to ws (not in socket.io-client's types). */
const SECOND_ADDRESS = { localAddress: '127.0.0.2' } as ClientOptions;
const connect = (token: unknown, options: ClientOptions = {}) => server!.client('/', { auth: { token }, ...options });
const expired = (sub = 'alice') => hs256({ sub, exp: Math.floor(Date.now() / 1000) - 60 });

describe('handshake rate limits', () => {
  it('limits 1,000 bad handshakes from one address without running the strategy, while another address connects', async () => {
    const counted = await serve({ address: { points: 5, duration: 60 } });
    const bad = fc.sample(fc.string({ maxLength: 100 }), 1000);
    const codes: Record<string, number> = {};
    for (let i = 0; i < bad.length; i += 50) {
      const batch = bad.slice(i, i + 50).map((t) => codeOf(connect(t, { timeout: 20_000 }), 25_000));
      for (const code of await Promise.all(batch)) codes[code] = (codes[code] ?? 0) + 1;
    }
    expect(codes.rate_limited).toBeGreaterThanOrEqual(995 - 50); // the first batch may race past the count
    expect(codes.connected).toBeUndefined();
    expect(counted.runs).toBeLessThanOrEqual(55);

    expect(await codeOf(connect(hs256(), SECOND_ADDRESS))).toBe('connected');
    // The limited address is refused even with a valid token, and told how long to wait.
    const refused = await outcome(connect(hs256()));
    expect(refused.connected).toBe(false);
    const data = refused.connected ? undefined : refused.error.data;
    expect(data?.code).toBe('rate_limited');
    expect(data?.retryAfter).toBeGreaterThan(0);
    expect(data?.retryAfter).toBeLessThanOrEqual(60_000);
  }, 120_000);

  it('stops running strategies exactly at the limit, and admits again after the window', async () => {
    const counted = await serve({ address: { points: 3, duration: 1 } });
    for (let i = 0; i < 3; i++) expect(await codeOf(connect('bad'))).toBe('invalid_token');
    expect(await codeOf(connect('bad'))).toBe('rate_limited');
    expect(await codeOf(connect(hs256()))).toBe('rate_limited');
    expect(counted.runs).toBe(3);
    await sleep(1100);
    expect(await codeOf(connect(hs256()))).toBe('connected');
  });

  it('never spends points on handshakes that succeed', async () => {
    await serve({ address: { points: 2, duration: 60 } });
    for (let i = 0; i < 10; i++) expect(await codeOf(connect(hs256()))).toBe('connected');
  });

  it('reads the address from the trusted proxy header, and ignores that header otherwise', async () => {
    await serve({ address: { points: 2, duration: 60 }, trustedProxyHeader: 'X-Forwarded-For' });
    const via = (addr: string) => ({ extraHeaders: { 'x-forwarded-for': `6.6.6.6, ${addr}` } });
    for (let i = 0; i < 2; i++) expect(await codeOf(connect('bad', via('10.0.0.1')))).toBe('invalid_token');
    expect(await codeOf(connect(hs256(), via('10.0.0.1')))).toBe('rate_limited');
    expect(await codeOf(connect(hs256(), via('10.0.0.2')))).toBe('connected');
    // Spoofing the first entry changes nothing: the proxy's own entry is the last one.
    expect(await codeOf(connect(hs256(), { extraHeaders: { 'x-forwarded-for': '10.0.0.2, 10.0.0.1' } }))).toBe('rate_limited');
    await server!.close();

    await serve({ address: { points: 2, duration: 60 } });
    for (let i = 0; i < 2; i++) expect(await codeOf(connect('bad', via(`10.0.1.${i}`)))).toBe('invalid_token');
    expect(await codeOf(connect(hs256(), via('10.0.9.9')))).toBe('rate_limited');
  });

  it('counts only signature-verified refusals against a subject, so forged tokens cannot lock a victim out', async () => {
    await serve({ address: false, subject: { points: 3, duration: 60 } });
    const forged = hs256({ sub: 'victim' }, {}, 'not-the-server-secret-at-all-no-no');
    for (let i = 0; i < 20; i++) expect(await codeOf(connect(forged))).toBe('invalid_token');
    expect(await codeOf(connect(hs256({ sub: 'victim' })))).toBe('connected');

    // Real but expired tokens of one subject do count, from any address.
    for (let i = 0; i < 3; i++) expect(await codeOf(connect(expired('bob')))).toBe('token_expired');
    expect(await codeOf(connect(hs256({ sub: 'bob' }), SECOND_ADDRESS))).toBe('rate_limited');
    expect(await codeOf(connect(hs256({ sub: 'carol' })))).toBe('connected');
  });

  it('charges only the subject of the token that verified: a forged auth.token beside the attacker\'s own expired token locks no victim out', async () => {
    const limits = handshakeLimits({ address: false, subject: { points: 3, duration: 60 } });
    const header = jwtHeader({ secret: SECRET, algorithms: ['HS256'] });
    const query = jwtQuery({ secret: SECRET, algorithms: ['HS256'] });
    const auth = new SockPass({ rateLimit: limits }).use('jwt-header', header).use('jwt-query', query);
    server = await startServer((io) => {
      io.of('/header').use(auth.middleware('jwt-header'));
      io.of('/query').use(auth.middleware('jwt-query'));
    });
    const decoy = { token: unsigned({ sub: 'victim' }) };
    const bearer = (token: string) => ({ extraHeaders: { authorization: `Bearer ${token}` } });
    const header3 = () => server!.client('/header', { auth: decoy, ...bearer(expired('mallory')) });
    expect(await codeOf(header3())).toBe('token_expired');
    expect(await codeOf(server.client('/query', { auth: decoy, query: { token: expired('mallory') } }))).toBe('token_expired');
    expect(await codeOf(header3())).toBe('token_expired');
    expect(await codeOf(server.client('/header', bearer(hs256({ sub: 'victim' }))))).toBe('connected');
    expect(await codeOf(server.client('/query', { query: { token: hs256({ sub: 'victim' }) } }))).toBe('connected');
    // The refusals were charged where they belong, to the verified subject; the decoy does not hide it.
    expect(await codeOf(header3())).toBe('rate_limited');
    expect(await codeOf(server.client('/query', { query: { token: expired('mallory') } }))).toBe('rate_limited');
  });

  it('applies blockDuration: over the limit, refused for blockDuration seconds, past the end of the window', async () => {
    const counted = await serve({ address: { points: 3, duration: 2, blockDuration: 30 } });
    for (let i = 0; i < 3; i++) expect(await codeOf(connect('bad'))).toBe('invalid_token');
    const refused = await outcome(connect('bad'));
    const retryAfter = refused.connected ? undefined : refused.error.data?.retryAfter;
    expect(refused.connected ? 'connected' : refused.error.data?.code).toBe('rate_limited');
    expect(retryAfter).toBeGreaterThan(25_000);
    expect(retryAfter).toBeLessThanOrEqual(30_000);
    await sleep(3000);
    expect(await codeOf(connect('bad'))).toBe('rate_limited');
    expect(await codeOf(connect(hs256()))).toBe('rate_limited');
    expect(counted.runs).toBe(3);
  });

  it('does not charge server-side failures (key, store, server errors) to the client address', async () => {
    // A strategy that refuses with the code the client names: a server that cannot judge, not a client that failed.
    const refusing: Strategy = {
      async authenticate(ctx) {
        const code = ctx.auth.code as AuthErrorCode | undefined;
        if (code === undefined) return { kind: 'pass' };
        if (code === 'server_error') throw new Error('database is down');
        return { kind: 'fail', error: new AuthError(code, 'cannot judge now') };
      },
    };
    const resolverDown = jwtAuth({ secret: async () => Promise.reject(new Error('identity provider is down')), algorithms: ['HS256'] });
    const auth = new SockPass({ rateLimit: handshakeLimits({ address: { points: 2, duration: 60 } }) })
      .use('refusing', refusing)
      .use('jwt-auth', resolverDown);
    server = await startServer((io) => {
      io.use(auth.middleware('refusing'));
      io.of('/jwks').use(auth.middleware('jwt-auth'));
    });
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(server.client('/', { auth: { code: 'store_unavailable' } }))).toBe('store_unavailable');
      expect(await codeOf(server.client('/', { auth: { code: 'key_unavailable' } }))).toBe('key_unavailable');
      expect(await codeOf(server.client('/', { auth: { code: 'server_error' } }))).toBe('server_error');
      expect(await codeOf(server.client('/jwks', { auth: { token: hs256() } }))).toBe('key_unavailable');
    }
    // The address still has both of its points for refusals of its own.
    expect(await codeOf(server.client('/', { auth: { code: 'invalid_token' } }))).toBe('invalid_token');
    expect(await codeOf(server.client('/', { auth: { code: 'invalid_token' } }))).toBe('invalid_token');
    expect(await codeOf(server.client('/', { auth: { code: 'invalid_token' } }))).toBe('rate_limited');
  });

  it('limits sockets waiting for an in-band credential per address', async () => {
    await serve({ address: false, pending: { points: 3, duration: 60 } }, true);
    const waiting: ClientSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = server!.client('/');
      expect(await codeOf(socket)).toBe('connected');
      waiting.push(socket);
    }
    expect(await codeOf(server!.client('/'))).toBe('rate_limited');
    expect(await codeOf(server!.client('/', SECOND_ADDRESS))).toBe('connected');
    // A handshake credential never waits, so it is not counted.
    expect(await codeOf(connect(hs256()))).toBe('connected');
  });

  it('rejects a malformed rule at startup', () => {
    expect(() => handshakeLimits({ address: { points: 0, duration: 60 } })).toThrow(TypeError);
    expect(() => handshakeLimits({ pending: { points: 1, duration: 0.5 } })).toThrow(TypeError);
  });
});

describe('client: reconnectWithFreshToken on rate_limited', () => {
  it('waits retryAfter before reconnecting instead of hammering', async () => {
    await serve({ address: { points: 1, duration: 2 } });
    expect(await codeOf(connect('bad'))).toBe('invalid_token');
    const socket = connectClient(server!.url, { transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false });
    const refusals: string[] = [];
    socket.on('connect_error', (err: { data?: { code: string } }) => refusals.push(err.data?.code ?? '?'));
    reconnectWithFreshToken(socket, { getToken: () => hs256(), delay: 50 });
    const started = Date.now();
    socket.connect();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    expect(refusals).toEqual(['rate_limited']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    socket.disconnect();
  });
});
