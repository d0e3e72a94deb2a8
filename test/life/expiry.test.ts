import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, SockPass, jwtAuth, type AuthSuccess, type SockPassOptions, type Strategy } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';
import { eventually } from '../helpers/eventually.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A JWT whose `exp` is `seconds` whole seconds from now, and that instant in ms. */
function shortToken(seconds: number, sub = 'alice'): { token: string; exp: number } {
  const exp = Math.floor(Date.now() / 1000) + seconds;
  return { token: hs256({ sub, exp }), exp: exp * 1000 };
}

async function serveJwt(options: SockPassOptions<unknown> = {}) {
  const auth = new SockPass(options).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  return auth;
}

/** Records when a client got `auth:expired` and when it was disconnected, on the client's clock (the same clock). */
function watchEnd(client: ClientSocket) {
  const seen: { expired?: { at: number; payload: unknown }; disconnected?: { at: number; reason: string } } = {};
  client.on('auth:expired', (payload: unknown) => (seen.expired = { at: Date.now(), payload }));
  const ended = new Promise<void>((resolve) =>
    client.on('disconnect', (reason) => {
      seen.disconnected = { at: Date.now(), reason };
      resolve();
    }),
  );
  return { seen, ended };
}

function countTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('expiry', () => {
  it('gives a token admitted within clockTolerance past exp the deadline exp + clockTolerance, not an instant cut', async () => {
    const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], clockTolerance: 3 }));
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      auth.onAuthenticated(io, (socket) => socket.emit('expiresAt', socket.data.auth.expiresAt?.getTime()));
    });
    const exp = Math.floor(Date.now() / 1000) - 1;
    const client = server.client('/', { auth: { token: hs256({ exp }) } });
    const { seen, ended } = watchEnd(client);
    expect(await once(client, 'expiresAt')).toBe((exp + 3) * 1000);
    await ended;
    // Cut at exp + 3 s (about 2 s from now), not at once.
    expect(seen.disconnected!.at).toBeGreaterThanOrEqual((exp + 3) * 1000);
    expect(seen.disconnected!.at - (exp + 3) * 1000).toBeLessThan(1000);
  });

  it('tells auth:expired and disconnects within 1 s of the token exp, not before', async () => {
    await serveJwt();
    const { token, exp } = shortToken(2);
    const client = server!.client('/', { auth: { token } });
    const { seen, ended } = watchEnd(client);
    expect((await outcome(client)).connected).toBe(true);
    await ended;
    expect(seen.expired?.payload).toEqual({ code: 'token_expired', message: 'credential has expired', action: 'refresh' });
    expect(seen.expired!.at).toBeLessThanOrEqual(seen.disconnected!.at);
    expect(seen.disconnected!.reason).toBe('io server disconnect');
    const late = seen.disconnected!.at - exp;
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
  });

  it('leaves no timer behind for 1,000 sockets with expiry, whether the client leaves or the server cuts them', async () => {
    const auth = await serveJwt({ refreshBefore: 500 });
    const queuedDeadlines = () => auth.lifecycle.deadlines.size;
    const baseline = countTimeouts();
    const n = 1000;
    const long = hs256({ sub: 'alice' }, { expiresIn: 60 });
    const clients: ClientSocket[] = [];
    for (let i = 0; i < n; i += 100) {
      // Minted per batch: on a loaded machine connecting 1,000 sockets can take longer than a short token lives.
      const short = shortToken(15).token;
      const batch = Array.from({ length: 100 }, (_, j) => server!.client('/', { auth: { token: (i + j) % 2 === 0 ? long : short } }));
      clients.push(...batch);
      const results = await Promise.all(batch.map((c) => outcome(c, 20_000)));
      expect(results.filter((r) => !r.connected)).toEqual([]);
    }
    expect(server!.io.of('/').sockets.size).toBe(n);
    const during = countTimeouts();
    // Every socket has a deadline in the one shared queue, on top of the transports' own timers.
    expect(queuedDeadlines()).toBe(n);
    expect(during - baseline).toBeGreaterThanOrEqual(n);

    // Half leave on their own; the other half are cut by the server at their exp.
    const ends = clients.map((c) => new Promise<void>((resolve) => (c.connected ? c.once('disconnect', () => resolve()) : resolve())));
    clients.forEach((c, i) => i % 2 === 0 && c.disconnect());
    // A deadline that clears its own timer: a pending sleep would count as a leaked Timeout below.
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(ends),
      new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error('sockets still connected after 30 s')), 30_000))),
    ]).finally(() => clearTimeout(deadline));
    await eventually(() => expect(server!.io.of('/').sockets.size).toBe(0), { interval: 50 });
    // Let engine.io finish closing the transports, then no timer may remain above the baseline.
    await eventually(() => expect(countTimeouts()).toBeLessThanOrEqual(baseline), { interval: 50 });
    expect(queuedDeadlines()).toBe(0);
  }, 60_000);
});

/**
 * A cookie-like strategy on an in-memory store, standing in for the session
 * strategy: it returns `session`, `expiresAt` and `revalidate()`, and counts
 * store reads.
 */
function sessionStore() {
  const sessions = new Map<string, { user: { id: string }; expiresAt: Date }>();
  let reads = 0;
  const load = async (sid: string): Promise<AuthSuccess<{ id: string }> | { kind: 'fail'; error: AuthError }> => {
    reads++;
    const s = sessions.get(sid);
    if (s === undefined) return { kind: 'fail', error: new AuthError('session_not_found', 'session not found') };
    return { kind: 'success', user: s.user, session: sid, expiresAt: s.expiresAt, revalidate: () => load(sid) };
  };
  const strategy: Strategy<{ id: string }> = {
    async authenticate(ctx) {
      const sid = ctx.auth.sid;
      if (typeof sid !== 'string') return { kind: 'pass' };
      return load(sid);
    },
  };
  return { sessions, strategy, reads: () => reads };
}

describe('session expiry and revalidation', () => {
  it('disconnects a session socket at the session expiry', async () => {
    const store = sessionStore();
    const auth = new SockPass<{ id: string }>().use('session', store.strategy);
    server = await startServer((io) => io.use(auth.middleware('session')));
    const expiresAt = new Date(Date.now() + 1500);
    store.sessions.set('s1', { user: { id: 'u1' }, expiresAt });
    const client = server.client('/', { auth: { sid: 's1' } });
    const { seen, ended } = watchEnd(client);
    await ended;
    expect(seen.expired?.payload).toMatchObject({ code: 'token_expired' });
    const late = seen.disconnected!.at - expiresAt.getTime();
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1000);
  });

  it('reads the store once per socket per interval, and cuts a socket whose session was destroyed', async () => {
    const store = sessionStore();
    const interval = 250;
    const auth = new SockPass<{ id: string }>({ revalidateInterval: interval }).use('session', store.strategy);
    server = await startServer((io) => io.use(auth.middleware('session')));
    const far = new Date(Date.now() + 60_000);
    const n = 10;
    for (let i = 0; i < n; i++) store.sessions.set(`s${i}`, { user: { id: `u${i}` }, expiresAt: far });
    const clients = Array.from({ length: n }, (_, i) => server!.client('/', { auth: { sid: `s${i}` } }));
    await Promise.all(clients.map((c) => outcome(c)));
    const readsAtStart = store.reads();
    const started = Date.now();
    await sleep(1500);
    const perSocket = (store.reads() - readsAtStart) / n;
    const elapsed = Date.now() - started;
    // At most one read per interval per socket (plus the one in flight), and at least a few.
    expect(perSocket).toBeLessThanOrEqual(elapsed / interval + 1);
    expect(perSocket).toBeGreaterThanOrEqual(3);

    const victim = clients[3]!;
    const revoked = once<{ code: string }>(victim, 'auth:revoked', 5000);
    const gone = once(victim, 'disconnect', 5000);
    const destroyedAt = Date.now();
    store.sessions.delete('s3');
    expect(await revoked).toEqual({ code: 'session_not_found', message: 'session not found', action: 'login' });
    await gone;
    expect(Date.now() - destroyedAt).toBeLessThan(interval + 500);
    expect(clients.filter((c) => c.connected)).toHaveLength(n - 1);

    // A disconnected socket is read no more.
    clients.forEach((c) => c.disconnect());
    await eventually(() => server!.io.of('/').sockets.size === 0, { timeout: 1000 }).catch(() => {});
    const readsAfter = store.reads();
    await sleep(interval * 3);
    expect(store.reads()).toBe(readsAfter);
  });

  it('moves the deadline when revalidation returns a later expiry (rolling session)', async () => {
    const store = sessionStore();
    const auth = new SockPass<{ id: string }>({ revalidateInterval: 200 }).use('session', store.strategy);
    server = await startServer((io) => io.use(auth.middleware('session')));
    store.sessions.set('roll', { user: { id: 'u' }, expiresAt: new Date(Date.now() + 1000) });
    const client = server.client('/', { auth: { sid: 'roll' } });
    const { seen, ended } = watchEnd(client);
    await outcome(client);
    // Keep rolling for 2 s, twice the original lifetime.
    const roll = setInterval(() => store.sessions.set('roll', { user: { id: 'u' }, expiresAt: new Date(Date.now() + 1000) }), 100);
    await sleep(2000);
    clearInterval(roll);
    expect(client.connected).toBe(true);
    const last = store.sessions.get('roll')!.expiresAt.getTime();
    await ended;
    expect(seen.expired?.payload).toMatchObject({ code: 'token_expired' });
    // Cut at the last expiry the store reported, or one revalidation later if it had not been read yet.
    expect(seen.disconnected!.at - last).toBeLessThan(1000);
  });

  it('tells auth:expired, with the code, when revalidation finds the session expired', async () => {
    let expired = false;
    const strategy: Strategy<{ id: string }> = {
      async authenticate() {
        return {
          kind: 'success',
          user: { id: 'u' },
          session: 'sid',
          revalidate: async () =>
            expired
              ? { kind: 'fail', error: new AuthError('session_expired', 'the session has expired') }
              : { kind: 'success', user: { id: 'u' } },
        };
      },
    };
    const auth = new SockPass<{ id: string }>({ revalidateInterval: 100 }).use('s', strategy);
    server = await startServer((io) => io.use(auth.middleware('s')));
    const client = server.client();
    await outcome(client);
    const told = once<{ code: string }>(client, 'auth:expired');
    expired = true;
    expect(await told).toEqual({ code: 'session_expired', message: 'the session has expired', action: 'login' });
  });

  it('keeps a socket through a store outage at revalidation, and cuts it once the store says the session is gone', async () => {
    let answer: 'ok' | 'down' | 'gone' = 'ok';
    let reads = 0;
    const strategy: Strategy<{ id: string }> = {
      async authenticate() {
        return {
          kind: 'success',
          user: { id: 'u' },
          session: 'sid',
          revalidate: async () => {
            reads++;
            if (answer === 'down') return { kind: 'fail', error: new AuthError('store_unavailable', 'store did not answer') };
            if (answer === 'gone') return { kind: 'fail', error: new AuthError('session_not_found', 'session not found') };
            return { kind: 'success', user: { id: 'u' } };
          },
        };
      },
    };
    const auth = new SockPass<{ id: string }>({ revalidateInterval: 100 }).use('s', strategy);
    server = await startServer((io) => io.use(auth.middleware('s')));
    const client = server.client();
    await outcome(client);
    answer = 'down';
    const readsBefore = reads;
    await sleep(600);
    expect(client.connected).toBe(true);
    // still checked every interval while the store is down
    expect(reads - readsBefore).toBeGreaterThanOrEqual(3);
    const revoked = once<{ code: string }>(client, 'auth:revoked');
    answer = 'gone';
    expect((await revoked).code).toBe('session_not_found');
  });

  it('treats a revalidate() that throws as a refusal with server_error', async () => {
    let fail = false;
    const strategy: Strategy<{ id: string }> = {
      async authenticate() {
        return {
          kind: 'success',
          user: { id: 'u' },
          revalidate: async () => {
            if (fail) throw new Error('db connection string postgres://secret@db');
            return { kind: 'success', user: { id: 'u' } };
          },
        };
      },
    };
    const auth = new SockPass<{ id: string }>({ revalidateInterval: 100 }).use('s', strategy);
    server = await startServer((io) => io.use(auth.middleware('s')));
    const client = server.client();
    await outcome(client);
    const revoked = once<{ code: string; message: string }>(client, 'auth:revoked');
    fail = true;
    const notice = await revoked;
    expect(notice.code).toBe('server_error');
    expect(notice.message).not.toContain('secret');
  });
});

/**
 * An expiry that is not a time (an Invalid Date from a custom strategy, or
 * the passport adapter's `expiresAt` option) fails closed: it is an expired
 * credential. Before, the expiry timer re-armed every millisecond forever
 * (`now >= NaN` is never true), and a refresh to one threw a RangeError after
 * swapping the credential (an unhandled rejection; the ack never came).
 */
describe('an Invalid Date expiry', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  /** A custom strategy: `good` expires in a minute, anything else gets an Invalid Date. */
  const custom: Strategy<{ id: string }> = {
    async authenticate(ctx) {
      return this.authenticateCredential!(ctx.auth.token);
    },
    async authenticateCredential(token) {
      const expiresAt = token === 'good' ? new Date(Date.now() + 60_000) : new Date(Number.NaN);
      return { kind: 'success', user: { id: 'alice' }, expiresAt };
    },
  };

  async function serveCustom(): Promise<TestServer> {
    const auth = new SockPass<{ id: string }>().use('custom', custom);
    return (server = await startServer((io) => io.use(auth.middleware('custom'))));
  }

  it('gets the socket told auth:expired and disconnected at once', async () => {
    const client = (await serveCustom()).client('/', { auth: { token: 'bad' } });
    const expired = once<{ code: string }>(client, 'auth:expired', 5000);
    const gone = once(client, 'disconnect', 5000);
    expect((await expired).code).toBe('token_expired');
    await gone;
  });

  it('refuses a refresh to it, answers the ack, and rejects nothing unhandled', async () => {
    const client = (await serveCustom()).client('/', { auth: { token: 'good' } });
    await once(client, 'connect');
    const reply = await client.timeout(5000).emitWithAck('auth:refresh', { token: 'bad' });
    expect(reply).toEqual({ error: { code: 'server_error', message: expect.any(String), action: 'stop' } });
    await sleep(50);
    expect(unhandled).toEqual([]);
  });
});
