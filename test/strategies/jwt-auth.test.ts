import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, forgeHs256, hs256, rs256, rsa, signRawPayload, unsigned } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

async function serve(options: Partial<Parameters<typeof jwtAuth>[0]> = {}) {
  const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], ...options }));
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth']));
    auth.onAuthenticated(io, (socket) => {
      socket.emit('whoami', socket.data.auth);
    });
  });
  return auth;
}

describe('jwt-auth (handshake auth payload)', () => {
  it('admits a valid token and sets socket.data.auth', async () => {
    await serve();
    const client = server.client('/', { auth: { token: hs256({ role: 'admin' }) } });
    const me = await once<{ user: { sub: string }; strategy: string; claims: { role: string }; expiresAt: string }>(client, 'whoami');
    expect(me.user.sub).toBe('alice');
    expect(me.strategy).toBe('jwt-auth');
    expect(me.claims.role).toBe('admin');
    expect(new Date(me.expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('accepts a "Bearer " prefix', async () => {
    await serve();
    expect(await codeOf(server.client('/', { auth: { token: `Bearer ${hs256()}` } }))).toBe('connected');
  });

  it.each([
    ['missing', {}, 'credentials_required'],
    ['badly signed', { token: hs256({}, {}, 'another-secret-entirely-different!!') }, 'invalid_token'],
    ['expired', { token: hs256({ exp: Math.floor(Date.now() / 1000) - 10 }) }, 'token_expired'],
    ['not yet valid', { token: hs256({}, { notBefore: 3600 }) }, 'token_not_active'],
    ['a number', { token: 123 }, 'credentials_bad_format'],
    ['an array', { token: [hs256()] }, 'credentials_bad_format'],
    ['alg none', { token: unsigned() }, 'invalid_token'],
    ['garbage', { token: 'not.a.jwt' }, 'invalid_token'],
  ])('refuses a %s token with its code', async (_label, auth, code) => {
    await serve();
    const client = server.client('/', { auth });
    const result = await codeOf(client);
    expect(result).toBe(code);
  });

  it('tells wrong audience and wrong issuer apart', async () => {
    await serve({ audience: 'chat', issuer: 'https://issuer.example' });
    const good = { audience: 'chat', issuer: 'https://issuer.example' };
    expect(await codeOf(server.client('/', { auth: { token: hs256({}, good) } }))).toBe('connected');
    expect(await codeOf(server.client('/', { auth: { token: hs256({}, { ...good, audience: 'other' }) } }))).toBe('invalid_audience');
    expect(await codeOf(server.client('/', { auth: { token: hs256({}, { ...good, issuer: 'evil' }) } }))).toBe('invalid_issuer');
  });

  it('refuses a signed payload that is a JSON array, not an object of claims, with invalid_token', async () => {
    await serve();
    expect(await codeOf(server.client('/', { auth: { token: signRawPayload('[1,2]') } }))).toBe('invalid_token');
    expect(await codeOf(server.client('/', { auth: { token: signRawPayload(JSON.stringify({ sub: 'alice' })) } }))).toBe('connected');
  });

  it('refuses an oversized token before verifying it', async () => {
    await serve({ maxTokenBytes: 1024 });
    const big = hs256({ pad: 'x'.repeat(2000) });
    const client = server.client('/', { auth: { token: big } });
    const r = await codeOf(client);
    expect(r).toBe('token_too_large');
  });

  it('refuses an HS256 token signed with the RS256 public key when only RS256 is allowed', async () => {
    const auth = new SockPass().use('rs', jwtAuth({ secret: rsa.publicKey, algorithms: ['RS256'] }));
    server = await startServer((io) => io.use(auth.middleware('rs')));
    expect(await codeOf(server.client('/', { auth: { token: rs256() } }))).toBe('connected');
    const confused = forgeHs256({}, rsa.publicKey);
    expect(await codeOf(server.client('/', { auth: { token: confused } }))).toBe('invalid_token');
  });

  it('sends err.data with type, code, message and strategy, and never the token', async () => {
    await serve();
    const token = hs256({}, {}, 'wrong-secret-wrong-secret-wrong-secret');
    const client = server.client('/', { auth: { token } });
    const err = await once<Error & { data: Record<string, string> }>(client, 'connect_error');
    expect(err.data).toEqual({ type: 'UnauthorizedError', code: 'invalid_token', message: err.message, action: 'login', strategy: 'jwt-auth' });
    expect(JSON.stringify(err.data)).not.toContain(token.split('.')[2]);
  });
});

/**
 * A correctly signed `exp` beyond what a Date can hold (`1e300`, or `1e999`,
 * which JSON reads as Infinity) is refused as `invalid_token` everywhere a
 * token is judged: before, it passed as "not expired", became an Invalid Date
 * expiry, and an in-band refresh with it threw after the credential was
 * swapped (an unhandled rejection, no ack).
 */
describe('jwt: an exp beyond the range of a Date', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  // Signed over the raw payload text: jsonwebtoken's sign() refuses such an `exp`, an issuer's own code may not.
  const OUT_OF_RANGE = [
    ['1e300', signRawPayload('{"sub":"alice","exp":1e300}')],
    ['1e999 (Infinity)', signRawPayload('{"sub":"alice","exp":1e999}')],
    ['9e15', signRawPayload('{"sub":"alice","exp":9000000000000000}')],
  ] as const;

  async function serveBoth(): Promise<void> {
    const hs = { secret: SECRET, algorithms: ['HS256' as const] };
    const auth = new SockPass()
      .use('jwt-auth', jwtAuth(hs))
      .use('event', jwtAuthenticateEvent({ ...hs, timeout: 5000 }));
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth']));
      io.of('/event').use(auth.middleware(['event']));
    });
  }

  it.each(OUT_OF_RANGE)('is refused at the handshake with invalid_token (exp %s)', async (_label, token) => {
    await serveBoth();
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('invalid_token');
  });

  it.each(OUT_OF_RANGE)('is refused in the authenticate event with invalid_token (exp %s)', async (_label, token) => {
    await serveBoth();
    const client = server.client('/event');
    await once(client, 'connect');
    client.emit('authenticate', { token });
    const told = await once<{ data: { code: string } }>(client, 'unauthorized');
    expect(told.data.code).toBe('invalid_token');
  });

  it.each(OUT_OF_RANGE)('is refused as an in-band refresh, the ack answers, nothing rejects unhandled (exp %s)', async (_label, token) => {
    await serveBoth();
    const client = server.client('/', { auth: { token: hs256() } });
    await once(client, 'connect');
    const reply = await client.timeout(5000).emitWithAck('auth:refresh', { token });
    expect(reply).toEqual({ error: { code: 'invalid_token', message: expect.any(String), action: 'login' } });
    await sleep(50);
    expect(unhandled).toEqual([]);
  });

  it('still accepts an exp far in the future but within range', async () => {
    await serveBoth();
    const token = signRawPayload(`{"sub":"alice","exp":${Math.floor(Date.now() / 1000) + 10 * 365 * 86400}}`);
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('connected');
  });
});
