/**
 * Where a room policy applies, and to whom: a dynamic parent namespace's
 * children, a named Namespace (and not its neighbours), and a socket still
 * waiting for its `authenticate` event, whose joins wait for its credential
 * and never pass a predicate before it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, claimRooms, jwtAuth, jwtAuthenticateEvent, anonymous } from 'sockpass';
import type { Socket } from 'socket.io';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type Claims = Record<string, unknown>;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('room policy targets', () => {
  it('a dynamic parent namespace: every child gets the policy', async () => {
    const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const sockets: Socket[] = [];
    server = await startServer((io) => {
      const parent = io.of(/^\/team-\w+$/);
      parent.use(auth.middleware('jwt-auth'));
      auth.rooms(parent, { 'chat:*': claimRooms('rooms') });
      auth.onAuthenticated(parent, (s: Socket) => {
        sockets.push(s);
        s.join(['chat:a', 'chat:b']);
      });
    });
    const client = server.client('/team-red', { auth: { token: hs256({ sub: 'ann', rooms: ['chat:a'] }) } });
    expect(await outcome(client)).toEqual({ connected: true });
    await until(() => sockets.length === 1);
    expect(sockets[0]!.nsp.name).toBe('/team-red');
    expect(sockets[0]!.rooms.has('chat:a')).toBe(true);
    expect(sockets[0]!.rooms.has('chat:b')).toBe(false);
  });

  it('a named Namespace only: the main namespace is left alone', async () => {
    const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const byNsp = new Map<string, Socket>();
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      io.of('/admin').use(auth.middleware('jwt-auth'));
      auth.rooms(io.of('/admin'), { ops: (a) => a.claims.role === 'admin' });
      for (const nsp of [io.of('/'), io.of('/admin')]) {
        auth.onAuthenticated(nsp, (s: Socket) => {
          s.join('ops');
          byNsp.set(s.nsp.name, s);
        });
      }
    });
    for (const nsp of ['/', '/admin']) await outcome(server.client(nsp, { auth: { token: hs256({ sub: 'ann' }) } }));
    await until(() => byNsp.size === 2);
    expect(byNsp.get('/')!.rooms.has('ops')).toBe(true);
    expect(byNsp.get('/admin')!.rooms.has('ops')).toBe(false);
  });
});

describe('sockets without a credential yet', () => {
  it('a socket waiting for its authenticate event joins nothing until it authenticated, then as its credential allows', async () => {
    const auth = new SockPass<Claims>().use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 5000 }));
    let socket: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware('event'));
      auth.rooms(io, { 'chat:*': claimRooms('rooms'), lobby: true });
      // The app's own connection listener runs while the socket is still in quarantine.
      io.on('connection', (s) => {
        socket = s;
        s.join(['chat:a', 'chat:b', 'lobby']);
      });
    });
    const client = server.client('/');
    await outcome(client);
    await until(() => socket !== undefined);
    expect([...socket!.rooms]).toEqual([]);
    const authenticated = once(client, 'authenticated');
    client.emit('authenticate', { token: hs256({ sub: 'ann', rooms: ['chat:a'] }) });
    await authenticated;
    await until(() => socket!.rooms.has('chat:a'));
    expect([...socket!.rooms].sort()).toEqual([socket!.id, 'chat:a', 'lobby', 'user:ann'].sort());
  });

  it('an anonymous socket never passes a predicate, even one that says yes to everyone', async () => {
    const auth = new SockPass<Claims>().use('anonymous', anonymous());
    let socket: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware('anonymous'));
      auth.rooms(io, { members: () => true, lobby: true });
      auth.onAuthenticated(io, (s: Socket) => {
        socket = s;
        s.join(['members', 'lobby']);
      });
    });
    await outcome(server.client('/'));
    await until(() => socket !== undefined);
    expect(socket!.rooms.has('lobby')).toBe(true);
    expect(socket!.rooms.has('members')).toBe(false);
  });
});
