import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, type Strategy } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { codeOf, once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type User = { id: string };

/** Token in `auth.token`, or a session id in `auth.sid` (standing in for the cookie strategy). */
function setup(options: ConstructorParameters<typeof SockPass<User>>[0] = {}) {
  const sessionLike: Strategy<User> = {
    async authenticate(ctx) {
      const sid = ctx.auth.sid;
      const uid = ctx.auth.uid;
      if (typeof sid !== 'string' || typeof uid !== 'string') return { kind: 'pass' };
      return { kind: 'success', user: { id: uid }, session: sid };
    },
  };
  return new SockPass<User>(options)
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
    .use('session', sessionLike);
}

function ended(client: ClientSocket) {
  const notices: Array<{ code: string; message: string }> = [];
  client.on('auth:revoked', (n: { code: string; message: string }) => notices.push(n));
  const disconnected = new Promise<{ at: number; afterNotice: boolean }>((resolve) =>
    client.on('disconnect', () => resolve({ at: Date.now(), afterNotice: notices.length > 0 })),
  );
  return { notices, disconnected };
}

describe('revoke (one node)', () => {
  it('disconnects every socket of a user on every namespace, tells them why, and leaves other users alone', async () => {
    const auth = setup();
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'session']));
      io.of('/admin').use(auth.middleware('jwt-auth'));
    });
    const alice = [
      server.client('/', { auth: { token: hs256({ sub: 'alice' }) } }),
      server.client('/', { auth: { sid: 's-a', uid: 'alice' } }),
      server.client('/admin', { auth: { token: hs256({ sub: 'alice' }) } }),
    ];
    const bob = [server.client('/', { auth: { token: hs256({ sub: 'bob' }) } }), server.client('/admin', { auth: { token: hs256({ sub: 'bob' }) } })];
    await Promise.all([...alice, ...bob].map((c) => outcome(c)));
    const watches = alice.map(ended);
    const started = Date.now();
    await auth.revoke(server.io, { user: 'alice' }, 'account suspended');
    const ends = await Promise.all(watches.map((w) => w.disconnected));
    for (const [i, end] of ends.entries()) {
      expect(end.afterNotice).toBe(true);
      expect(watches[i]!.notices).toEqual([{ code: 'token_revoked', message: 'account suspended', action: 'login' }]);
      expect(end.at - started).toBeLessThan(1000);
    }
    await sleep(200);
    expect(bob.every((c) => c.connected)).toBe(true);
  });

  it('disconnects the sockets of one session only', async () => {
    const auth = setup();
    server = await startServer((io) => io.use(auth.middleware(['jwt-auth', 'session'])));
    const tab1 = server.client('/', { auth: { sid: 'one', uid: 'carol' } });
    const tab2 = server.client('/', { auth: { sid: 'one', uid: 'carol' } });
    const otherDevice = server.client('/', { auth: { sid: 'two', uid: 'carol' } });
    await Promise.all([tab1, tab2, otherDevice].map((c) => outcome(c)));
    const w1 = ended(tab1);
    const w2 = ended(tab2);
    await auth.revoke(server.io, { session: 'one' });
    await Promise.all([w1.disconnected, w2.disconnected]);
    expect(w1.notices[0]).toEqual({ code: 'token_revoked', message: 'credentials have been revoked', action: 'login' });
    await sleep(200);
    expect(otherDevice.connected).toBe(true);
  });

  it('uses the configured room names and user id function', async () => {
    const auth = setup({ userId: (u) => `u-${u.id}`, userRoom: (id) => `people/${id}` });
    let rooms: string[] = [];
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      auth.onAuthenticated(io, (socket) => queueMicrotask(() => (rooms = [...(socket as unknown as { rooms: Set<string> }).rooms])));
    });
    const client = server.client('/', { auth: { token: hs256({ sub: 'dan' }) } });
    await outcome(client);
    await sleep(50);
    expect(rooms).toContain('people/u-dan');
    const revoked = once(client, 'auth:revoked');
    await auth.revoke(server.io, { user: 'u-dan' });
    await revoked;
  });

  it('accepts a namespace as its target, resolves when nobody matches, and refuses a malformed target', async () => {
    const auth = setup();
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'erin' }) } });
    await outcome(client);
    await expect(auth.revoke(server.io, { user: 'nobody' })).resolves.toBeUndefined();
    await expect(auth.revoke(server.io, { user: '' })).rejects.toThrow(TypeError);
    await expect(auth.revoke(server.io, {} as { user: string })).rejects.toThrow(TypeError);
    const revoked = once(client, 'auth:revoked');
    await auth.revoke(server.io.of('/'), { user: 'erin' });
    await revoked;
  });
});

describe('revoke and the ids it matches', () => {
  it('matches a user whose userId is a number: the live socket is cut and the same credential refused', async () => {
    // As docs/lifecycle.md shows it: `userId: (u) => u.id`, with numeric ids from the database.
    type NumericUser = { id: number };
    const byHeader: Strategy<NumericUser> = {
      async authenticate(ctx) {
        return ctx.auth.uid === undefined ? { kind: 'pass' } : { kind: 'success', user: { id: Number(ctx.auth.uid) } };
      },
    };
    const auth = new SockPass<NumericUser>({ userId: (u) => u.id }).use('num', byHeader);
    server = await startServer((io) => io.use(auth.middleware('num')));
    const client = server.client('/', { auth: { uid: '42' }, reconnection: false });
    expect((await outcome(client)).connected).toBe(true);
    const end = ended(client);
    await auth.revoke(server.io, { user: 42 });
    await end.disconnected;
    expect(await codeOf(server.client('/', { auth: { uid: '42' }, reconnection: false }))).toBe('token_revoked');
  });

  it('keeps the token id in mode all, so revoke({ token }) cuts the socket and refuses the token', async () => {
    const auth = setup();
    server = await startServer((io) => io.use(auth.middleware(['session', 'jwt-auth'], { mode: 'all' })));
    const token = hs256({ sub: 'alice', jti: 'jti-all-1' }, { expiresIn: 60 });
    const credentials = { sid: 's-1', uid: 'alice', token };
    const client = server.client('/', { auth: credentials, reconnection: false });
    expect((await outcome(client)).connected).toBe(true);
    const end = ended(client);
    await auth.revoke(server.io, { token: 'jti-all-1' });
    await end.disconnected;
    expect(await codeOf(server.client('/', { auth: credentials, reconnection: false }))).toBe('token_revoked');
  });
});
