/**
 * Mode `any`, Passport's fallthrough: strategies run in order, a failure
 * moves on to the next one, the first success wins; when none succeeds the
 * most specific answer is reported (a failure over a missing credential,
 * and among failures the first in chain order).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, type Claims, type Strategy } from 'sockpass';

/** The chains mix token strategies (their claims) with test strategies that name a user by a string. */
type User = Claims | string;
import { codeOf, once, outcome, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256, rs256, rsa } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

const expired = () => hs256({ sub: 'alice' }, { expiresIn: -60 });

function registry() {
  return new SockPass<User>()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
    .use('jwt-header', jwtHeader({ secret: rsa.publicKey, algorithms: ['RS256'] }));
}

async function serve(auth: SockPass<User>, chain: string[], mode: 'any' | 'first') {
  server = await startServer((io) => {
    io.use(auth.middleware(chain, { mode }));
    auth.onAuthenticated(io, (s) => s.emit('seen', s.data.auth.strategy));
  });
  return server;
}

describe("mode 'any'", () => {
  it('moves past a failing strategy to one that succeeds, where mode first refuses', async () => {
    const both = { auth: { token: expired() }, extraHeaders: { Authorization: `Bearer ${rs256({ sub: 'alice' })}` } };
    await serve(registry(), ['jwt-auth', 'jwt-header'], 'any');
    expect(await once(server.client('/', both), 'seen')).toBe('jwt-header');
    await server.close();
    await serve(registry(), ['jwt-auth', 'jwt-header'], 'first');
    expect(await codeOf(server.client('/', both))).toBe('token_expired');
  });

  it('lets the first success win: later strategies are not run', async () => {
    let ran = 0;
    const counting: Strategy<User> = {
      async authenticate() {
        ran++;
        return { kind: 'success', user: 'late' };
      },
    };
    await serve(registry().use('counting', counting), ['jwt-auth', 'counting'], 'any');
    expect(await once(server.client('/', { auth: { token: hs256({ sub: 'alice' }) } }), 'seen')).toBe('jwt-auth');
    expect(ran).toBe(0);
  });

  it('when all fail, reports the first failure in chain order', async () => {
    await serve(registry(), ['jwt-auth', 'jwt-header'], 'any');
    const client = server.client('/', { auth: { token: expired() }, extraHeaders: { Authorization: 'Bearer forged.token.here' } });
    expect(await codeOf(client)).toBe('token_expired');
  });

  it('a failure beats a missing credential, wherever it is in the chain', async () => {
    await serve(registry(), ['jwt-auth', 'jwt-header'], 'any');
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: 'Bearer forged.token.here' } }))).toBe('invalid_token');
  });

  it('no credential anywhere is credentials_required', async () => {
    await serve(registry(), ['jwt-auth', 'jwt-header'], 'any');
    expect(await codeOf(server.client('/'))).toBe('credentials_required');
  });

  it('a thrown strategy is a failure like any other: the next one still admits', async () => {
    const broken: Strategy<User> = {
      async authenticate() {
        throw new Error('boom');
      },
    };
    await serve(registry().use('broken', broken), ['broken', 'jwt-auth'], 'any');
    expect(await once(server.client('/', { auth: { token: hs256({ sub: 'alice' }) } }), 'seen')).toBe('jwt-auth');
  });

  it('an in-band strategy waits only when no strategy failed', async () => {
    const auth = registry().use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 5000 }));
    await serve(auth, ['jwt-auth', 'event'], 'any');
    const waiting = server.client('/');
    expect((await outcome(waiting)).connected).toBe(true);
    const authenticated = once(waiting, 'authenticated');
    waiting.emit('authenticate', { token: hs256({ sub: 'alice' }) });
    await authenticated;
    expect(await codeOf(server.client('/', { auth: { token: expired() } }))).toBe('token_expired');
  });
});
