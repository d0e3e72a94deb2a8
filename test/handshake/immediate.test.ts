import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io';
import { AuthError, SockPass, jwtAuth, type Strategy } from '../../src/index.js';
import { isThenable } from '../../src/immediate.js';
import { createJwtVerifier } from '../../strategies/jwt/verifier.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

const options = { secret: SECRET, algorithms: ['HS256' as const] };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server whose middleware records whether sockpass called next() before it returned. */
async function serverWith(strategy: Strategy, seen: boolean[] = []): Promise<TestServer> {
  const auth = new SockPass().use('jwt', strategy);
  const middleware = auth.middleware('jwt');
  server = await startServer((io) => {
    io.use((socket: Socket, next) => {
      let returned = false;
      middleware(socket, (err) => {
        seen.push(!returned);
        next(err);
      });
      returned = true;
    });
    auth.onAuthenticated(io, (socket) => socket.on('whoami', (ack: (u: unknown) => void) => ack(socket.data.auth.user)));
  });
  return server;
}

describe('the synchronous fast path of jwt-auth', () => {
  it('admits a handshake within the middleware call, with no promise in between', async () => {
    const seen: boolean[] = [];
    const s = await serverWith(jwtAuth(options), seen);
    expect(await codeOf(s.client('/', { auth: { token: hs256() } }))).toBe('connected');
    expect(await codeOf(s.client('/', { auth: { token: hs256({}, {}, 'another-secret-that-is-long-enough!') } }))).toBe('invalid_token');
    expect(seen).toEqual([true, true]);
  });

  it('still waits for an async isRevoked and user(), and applies them', async () => {
    const seen: boolean[] = [];
    const s = await serverWith(
      jwtAuth({
        ...options,
        isRevoked: async (claims) => claims.jti === 'gone',
        user: async (claims) => ({ id: `u-${String(claims.sub)}` }),
      }),
      seen,
    );
    expect(await codeOf(s.client('/', { auth: { token: hs256({ jti: 'gone' }) } }))).toBe('token_revoked');
    const client = s.client('/', { auth: { token: hs256({ jti: 'kept' }) } });
    expect(await codeOf(client)).toBe('connected');
    expect(await client.timeout(2000).emitWithAck('whoami')).toEqual({ id: 'u-alice' });
    expect(seen).toEqual([false, false]);
  });

  it('uses the authenticate an app put in place of a built-in one', async () => {
    const builtIn = jwtAuth(options);
    const refuseAll: Strategy['authenticate'] = async () => ({ kind: 'fail', error: new AuthError('forbidden', 'closed for maintenance') });
    const spread = await serverWith({ ...builtIn, authenticate: refuseAll });
    expect(await codeOf(spread.client('/', { auth: { token: hs256() } }))).toBe('forbidden');
    await spread.close();

    const derived = await serverWith(Object.assign(Object.create(builtIn) as Strategy, { authenticate: refuseAll }));
    expect(await codeOf(derived.client('/', { auth: { token: hs256() } }))).toBe('forbidden');
  });

  it('refuses with server_error when a hook throws synchronously, and keeps serving', async () => {
    const s = await serverWith(
      jwtAuth({
        ...options,
        isRevoked: (claims) => {
          if (claims.jti === 'boom') throw new Error('deny list is down');
          return false;
        },
      }),
    );
    expect(await codeOf(s.client('/', { auth: { token: hs256({ jti: 'boom' }) } }))).toBe('server_error');
    const client = s.client('/', { auth: { token: hs256({ jti: 'fine' }) } });
    expect(await codeOf(client)).toBe('connected');
    expect(await client.timeout(2000).emitWithAck('whoami')).toMatchObject({ sub: 'alice', jti: 'fine' });
  });
});

describe('verifyNow', () => {
  it('answers without a promise for a static key and sync hooks, and never throws', () => {
    const plain = createJwtVerifier(options);
    const ok = plain.verifyNow(hs256());
    expect(isThenable(ok)).toBe(false);
    expect(ok).toMatchObject({ kind: 'success', user: { sub: 'alice' } });
    for (const bad of [42, '', 'x'.repeat(10_000), 'not.a.jwt', hs256({ exp: 1 })]) {
      const r = plain.verifyNow(bad);
      expect(isThenable(r)).toBe(false);
      expect(r).toMatchObject({ kind: 'fail' });
    }
    const throwing = createJwtVerifier({
      ...options,
      user: () => {
        throw new Error('user store is down');
      },
    });
    expect(throwing.verifyNow(hs256())).toMatchObject({ kind: 'fail', error: { code: 'server_error' } });
  });

  it('returns a promise when a key resolver has to be asked', async () => {
    const resolved = createJwtVerifier({ ...options, secret: async () => SECRET });
    const r = resolved.verifyNow(hs256());
    expect(isThenable(r)).toBe(true);
    expect(await r).toMatchObject({ kind: 'success' });
  });

  it('gives verify() the same answers as verifyNow()', async () => {
    const v = createJwtVerifier({ ...options, isRevoked: (c) => c.jti === 'gone' });
    for (const token of [hs256(), hs256({ jti: 'gone' }), 'garbage', hs256({ exp: 1 })]) {
      expect(await v.verify(token)).toEqual(await v.verifyNow(token));
    }
  });
});
