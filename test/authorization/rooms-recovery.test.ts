/**
 * Connection-state recovery restores a session's rooms in Socket.IO's Socket
 * constructor, not through `join()`: sockpass judges them where the session
 * is restored. An allowed room comes back with its missed packets; a room the
 * policy no longer allows does not, no missed packet is replayed (none
 * addressed to it can slip through), and the client is told `auth:left`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import type { Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

type Claims = Record<string, unknown>;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const recovery = { connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: true } };

async function serve(members: Set<string>) {
  const auth = new SockPass<Claims>().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const sockets: Socket[] = [];
  let judged = 0;
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-auth'));
    auth.rooms(io, {
      'team:*': (a) => {
        judged++;
        return members.has(String(a.claims.sub));
      },
    });
    auth.onAuthenticated(io, (s: Socket) => {
      sockets.push(s);
      if (!s.recovered) s.join('team:red');
    });
  }, recovery);
  return { sockets, judged: () => judged };
}

/** Drops the transport, sends `missed` to the room while the client is away, and waits until it is back. */
async function dropAndRecover(client: ClientSocket, whileAway: () => void): Promise<void> {
  const offset = once(client, 'offset');
  server!.io.emit('offset', 1);
  await offset;
  client.io.opts.reconnectionDelay = 200;
  client.io.opts.reconnectionDelayMax = 200;
  const away = once(client, 'disconnect');
  const back = once(client, 'connect', 10_000);
  client.io.engine.close();
  await away;
  whileAway();
  await back;
}

describe('recovery restores only allowed rooms', () => {
  it('an allowed room comes back, with the packet it missed', async () => {
    const { sockets } = await serve(new Set(['ann']));
    const client = server!.client('/', { reconnection: true, randomizationFactor: 0, auth: { token: hs256({ sub: 'ann' }) } });
    await outcome(client);
    const got: unknown[] = [];
    client.on('team', (m) => got.push(m));
    await dropAndRecover(client, () => server!.io.to('team:red').emit('team', 'missed'));
    expect(client.recovered).toBe(true);
    expect(sockets.at(-1)!.rooms.has('team:red')).toBe(true);
    for (let t = 0; t < 100 && got.length === 0; t++) await sleep(10);
    expect(got).toEqual(['missed']);
  });

  it('a room no longer allowed is not restored, its missed packet is not replayed, and the client is told auth:left', async () => {
    const members = new Set(['ann']);
    const { sockets } = await serve(members);
    const client = server!.client('/', { reconnection: true, randomizationFactor: 0, auth: { token: hs256({ sub: 'ann' }) } });
    await outcome(client);
    const got: unknown[] = [];
    client.on('team', (m) => got.push(m));
    const left = once(client, 'auth:left', 10_000);
    await dropAndRecover(client, () => {
      members.delete('ann');
      server!.io.to('team:red').emit('team', 'secret');
    });
    expect(client.recovered).toBe(true);
    expect(await left).toEqual({ room: 'team:red', code: 'forbidden', action: 'stop' });
    const restored = sockets.at(-1)!;
    expect(restored.rooms.has('team:red')).toBe(false);
    expect(restored.rooms.has('user:ann')).toBe(true);
    server!.io.to('team:red').emit('team', 'after');
    server!.io.emit('team', 'everyone');
    for (let t = 0; t < 100 && !got.includes('everyone'); t++) await sleep(10);
    expect(got).toEqual(['everyone']);
  });
});
