/**
 * Membership follows the credential: after a refresh, an anonymous upgrade
 * or a revalidation every room the socket is in is judged again, and a room
 * no longer allowed is left (the client told `auth:left`) before the refresh
 * is even answered, so its broadcasts stop at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, anonymous, claimRooms, jwtAuth, type Strategy } from 'sockpass';
import type { Socket } from 'socket.io';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { rawSession } from '../helpers/raw-client.js';
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

describe('after a refresh', () => {
  it('a token without the capability leaves the room before the refresh is answered, and its broadcasts stop', async () => {
    const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    let socket: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      auth.rooms(io, { 'chat:*': claimRooms('rooms') });
      auth.onAuthenticated(io, (s: Socket) => {
        socket = s;
        s.join(['chat:a', 'chat:b']);
      });
    });
    const raw = await rawSession(server.url, { authText: JSON.stringify({ token: hs256({ sub: 'ann', rooms: ['chat:*'] }) }) });
    try {
      await until(() => socket?.rooms.has('chat:a') === true);
      server.io.to('chat:a').emit('msg', 'before');
      await until(() => raw.frames.some((f) => f.includes('"before"')));

      // The new token keeps chat:b only.
      raw.send(`421["auth:refresh",${JSON.stringify({ token: hs256({ sub: 'ann', rooms: ['chat:b'] }) })}]`);
      await until(() => raw.frames.some((f) => f.startsWith('431')));
      const leftAt = raw.frames.findIndex((f) => f.includes('"auth:left"'));
      const ackAt = raw.frames.findIndex((f) => f.startsWith('431'));
      expect(leftAt).toBeGreaterThanOrEqual(0);
      expect(leftAt).toBeLessThan(ackAt);
      expect(JSON.parse(raw.frames[leftAt]!.slice(2))).toEqual(['auth:left', { room: 'chat:a', code: 'forbidden', action: 'stop' }]);
      expect(socket!.rooms.has('chat:a')).toBe(false);
      expect(socket!.rooms.has('chat:b')).toBe(true);

      for (let i = 0; i < 10; i++) server.io.to('chat:a').emit('msg', `after-${i}`);
      server.io.to('chat:b').emit('msg', 'still-b');
      await until(() => raw.frames.some((f) => f.includes('"still-b"')));
      expect(raw.frames.filter((f) => f.includes('"after-')).length).toBe(0);
    } finally {
      raw.close();
    }
  });
});

describe('after an anonymous upgrade and a revalidation', () => {
  it('an upgraded socket may then join member rooms it was refused as anonymous', async () => {
    const auth = new SockPass<Claims>()
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
      .use('anonymous', anonymous({ upgrade: 'jwt-auth' }));
    let socket: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'anonymous']));
      auth.rooms(io, { lobby: true, 'chat:*': claimRooms('rooms') });
      auth.onAuthenticated(io, (s: Socket) => {
        socket = s;
      });
    });
    const client = server.client('/');
    await outcome(client);
    await until(() => socket !== undefined);
    expect(await client.timeout(3000).emitWithAck('auth:join', { room: 'lobby' })).toEqual({ ok: true, room: 'lobby' });
    expect(((await client.timeout(3000).emitWithAck('auth:join', { room: 'chat:a' })) as { error: { code: string } }).error.code).toBe('forbidden');
    await client.timeout(3000).emitWithAck('auth:refresh', { token: hs256({ sub: 'ann', rooms: ['chat:a'] }) });
    expect(await client.timeout(3000).emitWithAck('auth:join', { room: 'chat:a' })).toEqual({ ok: true, room: 'chat:a' });
    expect([...socket!.rooms].sort()).toEqual([socket!.id, 'chat:a', 'lobby', 'user:ann'].sort());
  });

  it('a revalidation that finds the membership gone takes the socket out of the room', async () => {
    const members = new Set(['ann']);
    const session: Strategy<{ id: string }> = {
      async authenticate(ctx) {
        const uid = ctx.auth.uid;
        if (typeof uid !== 'string') return { kind: 'pass' };
        return { kind: 'success', user: { id: uid }, session: `s-${uid}`, revalidate: async () => ({ kind: 'success', user: { id: uid } }) };
      },
    };
    const auth = new SockPass<{ id: string }>({ revalidateInterval: 100 }).use('session', session);
    let socket: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware('session'));
      auth.rooms(io, { 'team:*': (a) => members.has(a.user.id) });
      auth.onAuthenticated(io, (s: Socket) => {
        socket = s;
        s.join('team:red');
      });
    });
    const client = server.client('/', { auth: { uid: 'ann' } });
    await outcome(client);
    await until(() => socket?.rooms.has('team:red') === true);
    const left = once(client, 'auth:left');
    members.delete('ann');
    expect(await left).toEqual({ room: 'team:red', code: 'forbidden', action: 'stop' });
    expect(socket!.rooms.has('team:red')).toBe(false);
    expect(socket!.rooms.has('session:s-ann')).toBe(true);
    expect(client.connected).toBe(true);
  });
});
