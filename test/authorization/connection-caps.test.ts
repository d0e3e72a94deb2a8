/**
 * Connection caps per user in one process (the memory counter): a real
 * Socket.IO server and real clients. `refuse` turns the socket past the cap
 * away at the handshake with `too_many_connections`; `replace-oldest` admits it
 * and cuts the user's oldest socket with `auth:replaced` / `connection_replaced`;
 * a disconnect gives the count back; other users and anonymous sockets are not
 * affected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, anonymous, jwtAuth, jwtAuthenticateEvent, memoryConnectionCounter, REFUSED_EVENT, REPLACED_EVENT, type SockPassOptions } from 'sockpass';
import { codeOf, once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/eventually.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type User = { id: string };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: SockPassOptions<User>, setup?: (auth: SockPass<User>, io: TestServer['io']) => void): Promise<{ auth: SockPass<User>; server: TestServer }> {
  const auth = new SockPass<User>(options)
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
    .use('anonymous', anonymous());
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth', 'anonymous']));
    io.of('/chat').use(auth.middleware('jwt-auth'));
    setup?.(auth, io);
  });
  return { auth, server };
}

const as = (sub: string, nsp = '/') => server!.client(nsp, { auth: { token: hs256({ sub }) } });

describe('connections: { perUser: 2, onExceed: "refuse" }', () => {
  it('refuses the third socket of a user with too_many_connections, before any room, and admits it again once one left', async () => {
    const failures: string[] = [];
    const store = memoryConnectionCounter();
    const { auth } = await start({ connections: { perUser: 2, onExceed: 'refuse', store } });
    auth.on('failure', (f) => failures.push(f.code));
    const first = as('alice');
    const second = as('alice');
    // Both outcomes watched at once: a client that connects before its listener is attached would be missed.
    expect(await Promise.all([codeOf(first), codeOf(second)])).toEqual(['connected', 'connected']);
    const third = as('alice');
    const refused = await outcome(third);
    expect(refused.connected).toBe(false);
    if (!refused.connected) {
      expect(refused.error.data).toMatchObject({ type: 'UnauthorizedError', code: 'too_many_connections' });
      expect(refused.error.data?.message).not.toContain('ey');
    }
    expect(failures).toEqual(['too_many_connections']);
    // The refused socket never reached the user's room: a broadcast there reaches two sockets.
    expect((await server!.io.in('user:alice').fetchSockets()).length).toBe(2);
    // Another namespace of the same registry counts too (the cap is per user, not per namespace).
    expect(await codeOf(as('alice', '/chat'))).toBe('too_many_connections');
    // Other users and anonymous sockets are not capped by alice's count.
    expect(await codeOf(as('bob'))).toBe('connected');
    expect(await codeOf(server!.client('/'))).toBe('connected');
    expect(await codeOf(server!.client('/'))).toBe('connected');
    expect(await codeOf(server!.client('/'))).toBe('connected');

    first.disconnect();
    await eventually(() => store.size === 2);
    expect(await codeOf(as('alice'))).toBe('connected');
    expect(store.size).toBe(3);
  });

  it('gives the count back for a socket a later middleware refused (it never connected)', async () => {
    const store = memoryConnectionCounter();
    let refuseNext = true;
    await start({ connections: { perUser: 1, store } }, (_auth, io) => {
      io.use((_socket, next) => (refuseNext ? next(new Error('later middleware says no')) : next()));
    });
    const refused = await outcome(as('carol'));
    expect(refused.connected).toBe(false);
    // Counted while pending (at most PENDING_MS), then given back; the client here gave up at once.
    expect(store.size).toBe(1);
    refuseNext = false;
    await eventually(() => store.size === 0, { timeout: 15_000 });
    expect(await codeOf(as('carol'))).toBe('connected');
  }, 30_000);

  it('leaves nothing counted once every socket is gone', async () => {
    const store = memoryConnectionCounter();
    await start({ connections: { perUser: 3, store } });
    const clients = [as('dave'), as('dave'), as('erin')];
    expect(await Promise.all(clients.map((c) => codeOf(c)))).toEqual(['connected', 'connected', 'connected']);
    expect(store.size).toBe(3);
    for (const c of clients) c.disconnect();
    await eventually(() => store.size === 0);
  });
});

describe('connections: { perUser: 2, onExceed: "replace-oldest" }', () => {
  it('admits the third socket and cuts the oldest with auth:replaced / connection_replaced first', async () => {
    const store = memoryConnectionCounter();
    await start({ connections: { perUser: 2, onExceed: 'replace-oldest', store } });
    const oldest = as('alice');
    expect(await codeOf(oldest)).toBe('connected');
    const middle = as('alice');
    expect(await codeOf(middle)).toBe('connected');
    const notices: unknown[] = [];
    oldest.on(REPLACED_EVENT, (n: unknown) => notices.push(n));
    const cut = once<string>(oldest, 'disconnect');
    const newest = as('alice');
    expect(await codeOf(newest)).toBe('connected');
    expect(await cut).toBe('io server disconnect');
    expect(notices).toEqual([{ code: 'connection_replaced', message: expect.any(String), action: 'stop' }]);
    await sleep(100);
    expect(middle.connected).toBe(true);
    expect(newest.connected).toBe(true);
    expect(store.size).toBe(2);
    expect((await server!.io.in('user:alice').fetchSockets()).length).toBe(2);

    // Next in line is the middle one.
    const cutMiddle = once<string>(middle, 'disconnect');
    const fourth = as('alice');
    expect(await codeOf(fourth)).toBe('connected');
    await cutMiddle;
    expect(newest.connected).toBe(true);
  });

  it('replaces across namespaces of the same registry', async () => {
    await start({ connections: { perUser: 1, onExceed: 'replace-oldest' } });
    const onChat: ClientSocket = as('frank', '/chat');
    expect(await codeOf(onChat)).toBe('connected');
    const notice = once<{ code: string }>(onChat, REPLACED_EVENT);
    expect(await codeOf(as('frank'))).toBe('connected');
    expect((await notice).code).toBe('connection_replaced');
  });
});

describe('a socket whose user is known only after connecting (authenticate event)', () => {
  it('is counted too: past the cap it is refused with unauthorized / too_many_connections before any authenticated, and no onAuthenticated handler runs for it', async () => {
    const store = memoryConnectionCounter();
    const seen: string[] = [];
    const auth = new SockPass<User>({ connections: { perUser: 1, store } })
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
      .use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }));
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'jwt-event']));
      auth.onAuthenticated(io, (socket) => seen.push(socket.id));
    });
    const first = server.client('/');
    expect(await codeOf(first)).toBe('connected');
    first.emit('authenticate', { token: hs256({ sub: 'gus' }) });
    await eventually(() => store.size === 1 && seen.length === 1);

    const second = server.client('/');
    expect(await codeOf(second)).toBe('connected');
    // The cap is asked before the client is told it authenticated: it never hears `authenticated`.
    const heard: string[] = [];
    second.onAny((event: string) => heard.push(event));
    const refused = once<{ data: { code: string } }>(second, 'unauthorized');
    const cut = once<string>(second, 'disconnect');
    second.emit('authenticate', { token: hs256({ sub: 'gus' }) });
    expect((await refused).data.code).toBe('too_many_connections');
    expect(await cut).toBe('io server disconnect');
    expect(heard).toEqual(['unauthorized']);
    expect(seen).toHaveLength(1);
    expect(store.size).toBe(1);
    // A handshake socket of the same user is refused while the in-band one holds the place.
    expect(await codeOf(as('gus'))).toBe('too_many_connections');
    first.disconnect();
    await eventually(() => store.size === 0);
  });
});

describe('an anonymous socket that upgrades in-band (auth:refresh)', () => {
  it('is counted when it names a user; past the cap the upgrade is refused with too_many_connections and the socket cut', async () => {
    const store = memoryConnectionCounter();
    const auth = new SockPass<User>({ connections: { perUser: 2, store } })
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
      .use('anonymous', anonymous({ upgrade: 'jwt-auth' }));
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'anonymous']));
    });
    expect(await codeOf(as('ivan'))).toBe('connected');
    const upgraded = server.client('/');
    expect(await codeOf(upgraded)).toBe('connected');
    expect(store.size).toBe(1);
    const ok = (await upgraded.timeout(5000).emitWithAck('auth:refresh', { token: hs256({ sub: 'ivan' }) })) as { expiresAt?: string };
    expect(typeof ok.expiresAt).toBe('string');
    expect(store.size).toBe(2);

    const third = server.client('/');
    expect(await codeOf(third)).toBe('connected');
    const cut = once<string>(third, 'disconnect');
    const reply = (await third.timeout(5000).emitWithAck('auth:refresh', { token: hs256({ sub: 'ivan' }) })) as { error?: { code: string } };
    expect(reply.error?.code).toBe('too_many_connections');
    expect(await cut).toBe('io server disconnect');
    expect(store.size).toBe(2);
    upgraded.disconnect();
    await eventually(() => store.size === 1);
  });
});

describe('a recovered socket (connectionStateRecovery)', () => {
  it('is counted again once restored, and cut with auth:refused when another socket took its place during the drop', async () => {
    const store = memoryConnectionCounter();
    const auth = new SockPass<User>({ connections: { perUser: 1, store } }).use(
      'jwt-auth',
      jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }),
    );
    server = await startServer(
      (io) => {
        io.use(auth.middleware('jwt-auth'));
      },
      { connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: true } },
    );
    const reconnecting = { reconnection: true, randomizationFactor: 0, auth: { token: hs256({ sub: 'hana' }) } };
    const client = server.client('/', reconnecting);
    expect(await codeOf(client)).toBe('connected');
    // Socket.IO recovers only from the offset of a broadcast the client received.
    const got = once(client, 'offset');
    server.io.emit('offset', 1);
    await got;

    // A blip: counted again once recovered.
    client.io.opts.reconnectionDelay = 50;
    client.io.opts.reconnectionDelayMax = 50;
    let back = once(client, 'connect', 10_000);
    client.io.engine.close();
    await back;
    expect(client.recovered).toBe(true);
    expect(store.size).toBe(1);
    expect(await codeOf(as('hana'))).toBe('too_many_connections');

    // A longer drop, during which another socket of the user takes the place.
    const got2 = once(client, 'offset');
    server.io.emit('offset', 2);
    await got2;
    client.io.opts.reconnectionDelay = 1500;
    client.io.opts.reconnectionDelayMax = 1500;
    back = once(client, 'connect', 10_000);
    client.io.engine.close();
    await eventually(() => store.size === 0);
    const other = as('hana');
    expect(await codeOf(other)).toBe('connected');
    const refused = once<{ code: string }>(client, REFUSED_EVENT, 10_000);
    await back;
    expect((await refused).code).toBe('too_many_connections');
    await eventually(() => !client.connected);
    expect(other.connected).toBe(true);
    expect(store.size).toBe(1);
    client.disconnect();
  });
});

describe('connections option validation', () => {
  it('throws at construction on a bad perUser or onExceed', () => {
    expect(() => new SockPass({ connections: { perUser: 0 } })).toThrow(/perUser/);
    expect(() => new SockPass({ connections: { perUser: 1.5 } })).toThrow(/perUser/);
    expect(() => new SockPass({ connections: { perUser: 2, onExceed: 'drop' as never } })).toThrow(/onExceed/);
  });
});
