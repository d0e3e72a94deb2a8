import { afterEach, describe, expect, it } from 'vitest';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { SockPass, jwtAuth, passportStrategy, type Strategy } from 'sockpass';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

function passportJwt(verify: (payload: { sub: string }, done: (err: unknown, user?: unknown, info?: unknown) => void) => void) {
  return new JwtStrategy(
    { jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: SECRET, algorithms: ['HS256'] },
    verify,
  );
}

async function serve(strategy: Strategy<unknown>, chain: string[] = ['passport-jwt'], extra?: (a: SockPass<unknown>) => void) {
  const auth = new SockPass<unknown>().use('passport-jwt', strategy);
  extra?.(auth);
  server = await startServer((io) => {
    io.use(auth.middleware(chain));
    auth.onAuthenticated(io, (socket) => socket.emit('seen', socket.data.auth));
  });
}

describe('passport adapter with passport-jwt JwtStrategy', () => {
  it('maps success to the user the verify callback gave', async () => {
    await serve(passportStrategy(passportJwt((payload, done) => done(null, { id: payload.sub, via: 'passport' }))));
    const client = server.client('/', { extraHeaders: { Authorization: `Bearer ${hs256()}` } });
    const seen = await once<{ user: { id: string; via: string }; strategy: string }>(client, 'seen');
    expect(seen.user).toEqual({ id: 'alice', via: 'passport' });
    expect(seen.strategy).toBe('passport-jwt');
  });

  it('maps "no auth token" to pass, so the chain moves on', async () => {
    await serve(
      passportStrategy(passportJwt((p, done) => done(null, { id: p.sub }))),
      ['passport-jwt', 'jwt-auth'],
      (a) => a.use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] })),
    );
    const client = server.client('/', { auth: { token: hs256({ sub: 'carol' }) } });
    const seen = await once<{ user: { sub: string }; strategy: string }>(client, 'seen');
    expect(seen.strategy).toBe('jwt-auth');
    expect(seen.user.sub).toBe('carol');
  });

  it('maps an expired token to token_expired and a bad signature to invalid_token', async () => {
    await serve(passportStrategy(passportJwt((p, done) => done(null, { id: p.sub }))));
    const expired = hs256({ exp: Math.floor(Date.now() / 1000) - 30 });
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: `Bearer ${expired}` } }))).toBe('token_expired');
    const forged = hs256({}, {}, 'not-the-secret-not-the-secret-not-the-secret');
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: `Bearer ${forged}` } }))).toBe('invalid_token');
  });

  it('maps verify-callback refusal (done(null, false)) to invalid_token and error to server_error', async () => {
    await serve(passportStrategy(passportJwt((p, done) => (p.sub === 'alice' ? done(null, false) : done(new Error('db down'))))));
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: `Bearer ${hs256()}` } }))).toBe('invalid_token');
    const client = server.client('/', { extraHeaders: { Authorization: `Bearer ${hs256({ sub: 'bob' })}` } });
    const err = await once<Error & { data: { code: string; message: string } }>(client, 'connect_error');
    expect(err.data.code).toBe('server_error');
    expect(err.data.message).not.toContain('db down');
  });

  it('times out a strategy that never calls back', async () => {
    const silent = { authenticate() {} };
    await serve(passportStrategy(silent, { timeout: 200 }));
    expect(await codeOf(server.client('/'))).toBe('server_error');
  });

  it('refuses to wrap something that is not a Passport strategy', () => {
    expect(() => passportStrategy({} as never)).toThrow(TypeError);
  });
});
