import fc from 'fast-check';
import jsonwebtoken from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_ERROR_CODES, SockPass, jwtAuth, type JwtAuthOptions, type SockPassOptions } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';
import { eventually } from '../helpers/eventually.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Reply = { expiresAt: string | null } | { error: { code: string; message: string } };

const secondsFromNow = (s: number) => Math.floor(Date.now() / 1000) + s;

async function serve(options: SockPassOptions<unknown> = {}, jwt: Partial<JwtAuthOptions> = {}) {
  const auth = new SockPass(options).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], ...jwt }));
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-auth'));
    auth.onAuthenticated(io, (socket) => {
      socket.on('whoami', (ack: (a: unknown) => void) => ack(socket.data.auth));
    });
  });
  return auth;
}

function refresh(client: ClientSocket, payload: unknown): Promise<Reply> {
  return client.timeout(5000).emitWithAck('auth:refresh', payload) as Promise<Reply>;
}

/** Resolves with the refusal a client saw: the ack, the `auth:refused` notice, and the disconnect reason. */
async function refusal(client: ClientSocket, payload: unknown) {
  const refused = once<{ code: string; message: string }>(client, 'auth:refused');
  const disconnected = once<string>(client, 'disconnect');
  const reply = await refresh(client, payload);
  return { reply, notice: await refused, reason: await disconnected };
}

describe('in-band refresh', () => {
  it('keeps the socket across three refreshes and delivers every message sent meanwhile', async () => {
    await serve({ refreshBefore: 800 });
    let seq = 0;
    const ticker = setInterval(() => server!.io.emit('tick', seq++), 25);
    try {
      const client = server!.client('/', { auth: { token: hs256({ exp: secondsFromNow(2) }) } });
      const notices: string[] = [];
      const replies: Reply[] = [];
      let disconnected = false;
      client.on('disconnect', () => (disconnected = true));
      client.on('auth:refresh', async (notice: { expiresAt: string }) => {
        notices.push(notice.expiresAt);
        replies.push(await refresh(client, { token: hs256({ exp: secondsFromNow(2) }) }));
      });
      const ticks: number[] = [];
      client.on('tick', (n: number) => ticks.push(n));
      expect((await outcome(client)).connected).toBe(true);
      const id = client.id;
      await eventually(() => replies.length >= 3, { timeout: 10_000 }).catch(() => {});
      expect(replies).toHaveLength(3);
      const first = ticks[0]!;
      await sleep(300);
      const seen = ticks.slice();
      expect(disconnected).toBe(false);
      expect(client.connected).toBe(true);
      expect(client.id).toBe(id);
      for (const r of replies) expect(r).toHaveProperty('expiresAt');
      // Each refresh moved the expiry forward, and the server asked before each one.
      const exps = replies.map((r) => new Date((r as { expiresAt: string }).expiresAt).getTime());
      expect(exps[1]!).toBeGreaterThan(exps[0]!);
      expect(exps[2]!).toBeGreaterThan(exps[1]!);
      expect(notices.length).toBeGreaterThanOrEqual(3);
      // Every message, in order, no gap, from the first received to the last.
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => first + i));
      expect(seen.length).toBeGreaterThan(3 * 20);
      const me = (await client.timeout(5000).emitWithAck('whoami')) as { expiresAt: string };
      expect(me.expiresAt).toBe((replies[2] as { expiresAt: string }).expiresAt);
    } finally {
      clearInterval(ticker);
    }
  });

  it('does not ask in a loop when refreshBefore is longer than the tokens live', async () => {
    await serve({ refreshBefore: 60_000 });
    const client = server!.client('/', { auth: { token: hs256({ exp: secondsFromNow(3) }) } });
    let notices = 0;
    client.on('auth:refresh', () => {
      notices++;
      void refresh(client, { token: hs256({ exp: secondsFromNow(3) }) });
    });
    await outcome(client);
    await sleep(2500);
    // Asked at half the remaining life each time: a handful of times, not once per round trip.
    expect(notices).toBeGreaterThanOrEqual(1);
    expect(notices).toBeLessThanOrEqual(6);
    expect(client.connected).toBe(true);
  });

  it('takes an unasked refresh early and moves the expiry', async () => {
    await serve();
    const client = server!.client('/', { auth: { token: hs256({ exp: secondsFromNow(2) }) } });
    await outcome(client);
    const reply = await refresh(client, { token: hs256({ exp: secondsFromNow(60) }) });
    expect(new Date((reply as { expiresAt: string }).expiresAt).getTime()).toBeGreaterThan(Date.now() + 50_000);
    await sleep(2500);
    expect(client.connected).toBe(true);
  });

  it('also takes the token as a bare string and with a Bearer prefix', async () => {
    await serve();
    const client = server!.client('/', { auth: { token: hs256() } });
    await outcome(client);
    expect(await refresh(client, hs256())).toHaveProperty('expiresAt');
    expect(await refresh(client, { token: `Bearer ${hs256()}` })).toHaveProperty('expiresAt');
    expect(client.connected).toBe(true);
  });

  it('refuses a refresh for another user with user_mismatch and disconnects', async () => {
    await serve();
    const client = server!.client('/', { auth: { token: hs256({ sub: 'alice' }) } });
    await outcome(client);
    const { reply, notice, reason } = await refusal(client, { token: hs256({ sub: 'mallory' }) });
    expect(reply).toEqual({ error: { code: 'user_mismatch', message: 'the new credential names another user', action: 'stop' } });
    expect(notice.code).toBe('user_mismatch');
    expect(reason).toBe('io server disconnect');
  });

  it.each([
    ['a wrongly signed token', { token: hs256({}, {}, 'another-secret-entirely-different!!') }, 'invalid_token'],
    ['an expired token', { token: hs256({ exp: secondsFromNow(-10) }) }, 'token_expired'],
    ['a number', { token: 42 }, 'credentials_bad_format'],
    ['no token field', { nope: true }, 'credentials_bad_format'],
    ['null', null, 'credentials_bad_format'],
  ])('refuses %s with its code and disconnects', async (_label, payload, code) => {
    await serve();
    const client = server!.client('/', { auth: { token: hs256() } });
    await outcome(client);
    const { reply, notice } = await refusal(client, payload);
    expect((reply as { error: { code: string } }).error.code).toBe(code);
    expect(notice.code).toBe(code);
  });

  it('checks isRevoked at refresh', async () => {
    await serve({}, { isRevoked: (claims) => claims.jti === 'revoked' });
    const client = server!.client('/', { auth: { token: hs256({ jti: 'ok' }) } });
    await outcome(client);
    const { reply } = await refusal(client, { token: hs256({ jti: 'revoked' }) });
    expect(reply).toEqual({ error: { code: 'token_revoked', message: 'token has been revoked', action: 'login' } });
  });

  it('bounds a refresh whose key resolver hangs by refreshTimeout', async () => {
    let calls = 0;
    await serve(
      { refreshTimeout: 300 },
      { secret: () => (++calls === 1 ? SECRET : new Promise<string>(() => {})) },
    );
    const client = server!.client('/', { auth: { token: hs256() } });
    await outcome(client);
    const started = Date.now();
    const { reply } = await refusal(client, { token: hs256() });
    expect((reply as { error: { code: string } }).error.code).toBe('server_error');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('still cuts a socket that never answers auth:refresh, at its exp', async () => {
    await serve({ refreshBefore: 1000 });
    const exp = secondsFromNow(2) * 1000;
    const client = server!.client('/', { auth: { token: hs256({ exp: exp / 1000 }) } });
    const asked = once<{ expiresAt: string }>(client, 'auth:refresh', 5000);
    const expired = once(client, 'auth:expired', 5000);
    await outcome(client);
    expect(new Date((await asked).expiresAt).getTime()).toBe(exp);
    await expired;
    expect(Date.now() - exp).toBeLessThan(1000);
  });

  it('answers a second refresh sent while one is verifying without cutting the socket', async () => {
    let release: (() => void) | undefined;
    let calls = 0;
    await serve({}, {
      secret: async () => {
        if (++calls === 2) await new Promise<void>((r) => (release = r));
        return SECRET;
      },
    });
    const client = server!.client('/', { auth: { token: hs256() } });
    await outcome(client);
    const first = refresh(client, { token: hs256() });
    await eventually(() => release !== undefined, { timeout: 1000, interval: 10 }).catch(() => {});
    const second = await refresh(client, { token: hs256() });
    expect(second).toEqual({ error: { code: 'credentials_bad_format', message: 'a refresh is already in progress', action: 'stop' } });
    release!();
    expect(await first).toHaveProperty('expiresAt');
    expect(client.connected).toBe(true);
  });

  it('refuses generated hostile refresh payloads with a typed code, and keeps serving others', async () => {
    await serve();
    const bystander = server!.client('/', { auth: { token: hs256({ sub: 'bystander' }) } });
    await outcome(bystander);
    const payloads = fc.oneof(
      fc.anything(),
      fc.record({ token: fc.anything() }),
      fc.record({ token: fc.string({ maxLength: 20_000 }) }),
      fc.string().map((garbage) => ({ token: `${hs256().split('.').slice(0, 2).join('.')}.${garbage}` })),
      fc.constantFrom({ token: hs256({ sub: 'mallory' }) }, { token: '' }, { token: 'Bearer ' }, { __proto__: { token: hs256() } }),
    );
    await fc.assert(
      fc.asyncProperty(payloads, async (payload) => {
        const client = server!.client('/', { auth: { token: hs256() } });
        await outcome(client);
        const gone = once(client, 'disconnect', 5000);
        const reply = await refresh(client, payload);
        expect(reply).toHaveProperty('error');
        const { code, message } = (reply as { error: { code: string; message: string } }).error;
        expect(AUTH_ERROR_CODES).toContain(code);
        expect(typeof message).toBe('string');
        await gone;
      }),
      { numRuns: 60 },
    );
    expect(await bystander.timeout(5000).emitWithAck('whoami')).toHaveProperty('user.sub', 'bystander');
  }, 60_000);
});

/** Issue 13: an in-band refresh to a token without `exp` must not turn an expiring socket into one that never expires. */
describe('a refresh to a token without exp', () => {
  const noExp = () => jsonwebtoken.sign({ sub: 'alice' }, SECRET, { algorithm: 'HS256' });
  const expiringAt = (exp: number) => jsonwebtoken.sign({ sub: 'alice', exp }, SECRET, { algorithm: 'HS256' });

  it('keeps the deadline the socket had, and the socket is still cut at it', async () => {
    await serve();
    const exp = secondsFromNow(2);
    const client = server!.client('/', { auth: { token: expiringAt(exp) } });
    await outcome(client);
    const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: noExp() })) as { expiresAt: string | null };
    expect(reply.expiresAt).toBe(new Date(exp * 1000).toISOString());
    expect((await once<{ code: string }>(client, 'auth:expired', 5000)).code).toBe('token_expired');
  });

  it('removes the expiry only with allowRefreshToRemoveExpiry', async () => {
    await serve({ allowRefreshToRemoveExpiry: true });
    const client = server!.client('/', { auth: { token: expiringAt(secondsFromNow(60)) } });
    await outcome(client);
    const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: noExp() })) as { expiresAt: string | null };
    expect(reply.expiresAt).toBeNull();
  });
});
