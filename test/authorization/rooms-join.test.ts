/**
 * Rooms by policy, on a real server with real clients: the app's
 * `socket.join`, a local `socketsJoin`, and the client's `auth:join` /
 * `auth:leave`, each refused and admitted; a broadcast to a refused room
 * reaches no refused socket (frames counted on the wire); an async predicate
 * delays the join and never admits before it answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, claimRooms, jwtAuth, type FailureEvent, type RoomPolicy } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import type { Server, Socket } from 'socket.io';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { rawSession } from '../helpers/raw-client.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type Claims = Record<string, unknown>;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const policy: RoomPolicy<Claims> = {
  lobby: true,
  'chat:*': claimRooms('rooms'),
  'chat:closed': false,
  admin: (a) => a.claims.role === 'admin',
};

/** A server with the policy on `/`; `onConnection` runs for each authenticated socket (the app's code). */
async function serve(rules: RoomPolicy<Claims> = policy, onConnection: (socket: Socket, io: Server) => void = () => {}) {
  const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const failures: FailureEvent[] = [];
  auth.on('failure', (f) => failures.push(f));
  const sockets = new Map<string, Socket>();
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-auth'));
    auth.rooms(io, rules);
    auth.onAuthenticated(io, (socket: Socket) => {
      sockets.set(String(socket.data.auth.claims.sub), socket);
      onConnection(socket, io);
    });
  });
  return { auth, failures, sockets, io: server.io };
}

async function connect(claims: Claims): Promise<ClientSocket> {
  const client = server!.client('/', { auth: { token: hs256(claims) } });
  expect(await outcome(client)).toEqual({ connected: true });
  return client;
}

/** Waits until `check()` holds, polling with a deadline. */
async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('the app\'s socket.join', () => {
  it('admits a room the policy allows and refuses one it does not: failure with the room, auth:forbidden to the client', async () => {
    const { failures, sockets } = await serve();
    const ann = await connect({ sub: 'ann', rooms: ['chat:*'] });
    const forbidden = once<Record<string, unknown>>(ann, 'auth:forbidden');
    const socket = sockets.get('ann')!;
    socket.join('chat:general');
    socket.join('admin');
    expect(socket.rooms.has('chat:general')).toBe(true);
    expect(socket.rooms.has('admin')).toBe(false);
    expect(await forbidden).toEqual({ room: 'admin', code: 'forbidden', message: 'not allowed in room admin', action: 'stop' });
    expect(failures).toEqual([expect.objectContaining({ code: 'forbidden', room: 'admin', namespace: '/' })]);
  });

  it('refuses a room no rule matches, and admits it with "*": true', async () => {
    const closed = await serve(policy);
    await connect({ sub: 'bob' });
    closed.sockets.get('bob')!.join('anything');
    expect(closed.sockets.get('bob')!.rooms.has('anything')).toBe(false);
    await server!.close();
    const open = await serve({ ...policy, '*': true });
    await connect({ sub: 'bob' });
    open.sockets.get('bob')!.join('anything');
    expect(open.sockets.get('bob')!.rooms.has('anything')).toBe(true);
  });

  it('takes the exact name first, then the longest prefix*, then *', async () => {
    const { sockets } = await serve({ '*': true, 'chat:*': false, 'chat:ops:*': true, 'chat:ops:x': false, 'chat:ops:y': true });
    await connect({ sub: 'ann' });
    const socket = sockets.get('ann')!;
    const verdicts: Record<string, boolean> = {};
    for (const room of ['other', 'chat:a', 'chat:ops:a', 'chat:ops:x', 'chat:ops:y', 'chat:op']) {
      socket.join(room);
      verdicts[room] = socket.rooms.has(room);
    }
    expect(verdicts).toEqual({ other: true, 'chat:a': false, 'chat:ops:a': true, 'chat:ops:x': false, 'chat:ops:y': true, 'chat:op': false });
  });

  it('refuses a malformed policy at setup, not per join', () => {
    const auth = new SockPass<Claims>();
    const fake = { on() {} } as never;
    expect(() => auth.rooms(fake, { 'a*b': true })).toThrow(/may only end with \*/);
    expect(() => auth.rooms(fake, { a: 'yes' as never })).toThrow(/must be a function or a boolean/);
  });

  it('socket.join([...]) admits exactly the allowed rooms', async () => {
    const { sockets } = await serve();
    await connect({ sub: 'ann', rooms: ['chat:a', 'chat:b'] });
    const socket = sockets.get('ann')!;
    socket.join(['lobby', 'chat:a', 'chat:c', 'admin', 'chat:b', 'chat:closed']);
    expect([...socket.rooms].sort()).toEqual([socket.id, 'chat:a', 'chat:b', 'lobby', 'user:ann'].sort());
  });

  it('never judges the socket\'s own id and user rooms: io.to(socket.id) and the user room still reach it', async () => {
    const { sockets } = await serve({ lobby: true });
    const ann = await connect({ sub: 'ann' });
    const socket = sockets.get('ann')!;
    expect(socket.rooms.has(socket.id)).toBe(true);
    expect(socket.rooms.has('user:ann')).toBe(true);
    const got = once(ann, 'direct');
    server!.io.to('user:ann').emit('direct', 1);
    expect(await got).toBe(1);
  });

  it('an anonymous-claims socket (no role) never passes a predicate; a throwing predicate refuses', async () => {
    const { sockets } = await serve({
      boom: () => {
        throw new Error('predicate bug');
      },
      rejects: async () => {
        throw new Error('async predicate bug');
      },
    });
    await connect({ sub: 'ann' });
    const socket = sockets.get('ann')!;
    socket.join('boom');
    await socket.join('rejects');
    expect(socket.rooms.has('boom')).toBe(false);
    expect(socket.rooms.has('rejects')).toBe(false);
  });

  it('an async predicate delays the join: not in the room before it answers, in it after', async () => {
    let answer: (ok: boolean) => void = () => {};
    const { sockets } = await serve({ slow: () => new Promise<boolean>((r) => (answer = r)) });
    const ann = await connect({ sub: 'ann' });
    const socket = sockets.get('ann')!;
    const seen: unknown[] = [];
    ann.on('news', (n) => seen.push(n));
    const joined = socket.join('slow');
    expect(socket.rooms.has('slow')).toBe(false);
    server!.io.to('slow').emit('news', 'before');
    await sleep(50);
    expect(socket.rooms.has('slow')).toBe(false);
    answer(true);
    await joined;
    expect(socket.rooms.has('slow')).toBe(true);
    server!.io.to('slow').emit('news', 'after');
    await until(() => seen.length > 0);
    expect(seen).toEqual(['after']);
  });
});

describe('socketsJoin on this node', () => {
  it('joins only the sockets the policy admits', async () => {
    const { sockets, io } = await serve();
    await connect({ sub: 'ann', role: 'admin' });
    await connect({ sub: 'bob' });
    io.in(['user:ann', 'user:bob']).socketsJoin('admin');
    expect(sockets.get('ann')!.rooms.has('admin')).toBe(true);
    expect(sockets.get('bob')!.rooms.has('admin')).toBe(false);
  });
});

describe('a broadcast to a refused room', () => {
  it('reaches no refused socket: no frame of it on the refused client\'s wire', async () => {
    const { io } = await serve(policy, (socket) => {
      socket.on('enter', (room: string, ack: () => void) => {
        socket.join(room);
        ack();
      });
    });
    const admin = await rawSession(server!.url, { authText: JSON.stringify({ token: hs256({ sub: 'ann', role: 'admin' }) }) });
    const other = await rawSession(server!.url, { authText: JSON.stringify({ token: hs256({ sub: 'bob' }) }) });
    try {
      for (const raw of [admin, other]) raw.send('421["enter","admin"]');
      await until(() => admin.frames.some((f) => f.startsWith('431')) && other.frames.some((f) => f.startsWith('431')));
      for (let i = 0; i < 20; i++) io.to('admin').emit('secret', i);
      io.emit('public', 'end');
      await until(() => admin.frames.some((f) => f.includes('"public"')) && other.frames.some((f) => f.includes('"public"')));
      expect(admin.frames.filter((f) => f.includes('"secret"')).length).toBe(20);
      expect(other.frames.filter((f) => f.includes('"secret"')).length).toBe(0);
      expect(other.frames.some((f) => f.includes('"auth:forbidden"') && f.includes('"admin"'))).toBe(true);
    } finally {
      admin.close();
      other.close();
    }
  });
});

describe('auth:join and auth:leave', () => {
  it('admits with { ok: true, room } and refuses with { error: { code: forbidden } } and auth:forbidden', async () => {
    const { failures, sockets } = await serve();
    const ann = await connect({ sub: 'ann', rooms: ['chat:*'] });
    expect(await ann.timeout(3000).emitWithAck('auth:join', { room: 'chat:x' })).toEqual({ ok: true, room: 'chat:x' });
    expect(sockets.get('ann')!.rooms.has('chat:x')).toBe(true);
    const forbidden = once<{ room: string }>(ann, 'auth:forbidden');
    expect(await ann.timeout(3000).emitWithAck('auth:join', { room: 'admin' })).toEqual({
      error: { code: 'forbidden', message: 'not allowed in this room', action: 'stop' },
    });
    expect((await forbidden).room).toBe('admin');
    expect(sockets.get('ann')!.rooms.has('admin')).toBe(false);
    expect(failures.map((f) => [f.code, f.room])).toEqual([['forbidden', 'admin']]);
    expect(await ann.timeout(3000).emitWithAck('auth:leave', { room: 'chat:x' })).toEqual({ ok: true, room: 'chat:x' });
    expect(sockets.get('ann')!.rooms.has('chat:x')).toBe(false);
  });

  it('never lets a client into another user\'s or socket\'s room, even with "*": true, nor out of its own', async () => {
    const { sockets } = await serve({ '*': true });
    const ann = await connect({ sub: 'ann' });
    await connect({ sub: 'bob' });
    const bob = sockets.get('bob')!;
    for (const room of ['user:bob', 'session:s1', bob.id, 'AAAAAAAAAAAAAAAAAAAA']) {
      const reply = (await ann.timeout(3000).emitWithAck('auth:join', { room })) as { error?: { code: string } };
      expect(reply.error?.code, room).toBe('forbidden');
      expect(sockets.get('ann')!.rooms.has(room)).toBe(false);
    }
    for (const room of ['user:ann', ann.id!]) {
      const reply = (await ann.timeout(3000).emitWithAck('auth:leave', { room })) as { error?: { code: string } };
      expect(reply.error?.code, room).toBe('forbidden');
      expect(sockets.get('ann')!.rooms.has(room)).toBe(true);
    }
    expect(await ann.timeout(3000).emitWithAck('auth:join', { room: 'free' })).toEqual({ ok: true, room: 'free' });
  });

  it('holds a client to 8 joins waiting on an async predicate: the rest are rate_limited, not more predicate calls', async () => {
    let calls = 0;
    const release: Array<(ok: boolean) => void> = [];
    await serve({
      'slow:*': () => {
        calls++;
        return new Promise<boolean>((r) => release.push(r));
      },
    });
    const ann = await connect({ sub: 'ann' });
    const replies = Array.from({ length: 10 }, (_, i) => ann.timeout(5000).emitWithAck('auth:join', { room: `slow:${i}` }));
    await until(() => calls === 8);
    await sleep(100);
    expect(calls).toBe(8);
    for (const r of release) r(true);
    const answers = (await Promise.all(replies)) as Array<{ ok?: true; error?: { code: string; action: string } }>;
    expect(answers.filter((a) => a.ok).length).toBe(8);
    expect(answers.filter((a) => a.error?.code === 'rate_limited' && a.error.action === 'backoff').length).toBe(2);
  });

  it('refuses a malformed request with credentials_bad_format', async () => {
    await serve({ '*': true });
    const ann = await connect({ sub: 'ann' });
    for (const payload of [{}, { room: 7 }, { room: '' }, { room: 'x'.repeat(300) }, 'lobby']) {
      const reply = (await ann.timeout(3000).emitWithAck('auth:join', payload)) as { error?: { code: string } };
      expect(reply.error?.code).toBe('credentials_bad_format');
    }
  });

  it('a namespace without a room policy is unchanged: joins pass, auth:join is not answered', async () => {
    const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    let joined: Socket | undefined;
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      auth.rooms(io.of('/guarded'), { lobby: true });
      auth.onAuthenticated(io, (socket: Socket) => {
        socket.join('anything');
        joined = socket;
      });
    });
    const client = server.client('/', { auth: { token: hs256({ sub: 'ann' }) } });
    await outcome(client);
    await until(() => joined !== undefined);
    expect(joined!.rooms.has('anything')).toBe(true);
    await expect(client.timeout(300).emitWithAck('auth:join', { room: 'lobby' })).rejects.toThrow();
  });
});
