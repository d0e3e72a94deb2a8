/**
 * Connection-state recovery is judged before any packet is replayed: Socket.IO
 * writes a restored session's missed packets in the Socket constructor, before
 * any middleware, so sockpass judges the session where the adapter restores it.
 * A quarantined, expired or revoked session is not restored: the client gets a
 * fresh socket that goes through the chain, and no missed broadcast.
 * Each case runs with `skipMiddlewares` true and false.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, memoryLedger, type Strategy } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { once, outcome, sleep, startServer, type ConnectError, type TestServer } from '../helpers/server.js';
import { okOrQuarantine } from '../helpers/quarantine-strategy.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const reconnecting = { reconnection: true, randomizationFactor: 0 };

async function serve(skipMiddlewares: boolean, strategy: Strategy<unknown> = jwtAuth({ secret: SECRET, algorithms: ['HS256'] }), options = {}) {
  const auth = new SockPass(options).use('s', strategy);
  const recovered: string[] = [];
  server = await startServer(
    (io) => {
      io.use(auth.middleware('s'));
      io.on('connection', (socket) => {
        if (socket.recovered) recovered.push(socket.id);
      });
    },
    { connectionStateRecovery: { maxDisconnectionDuration: 30_000, skipMiddlewares } },
  );
  return { auth, recovered };
}

/**
 * Collects every `news` broadcast that reaches the client: the events its
 * socket handles, and every raw packet on the wire that carries one (a client
 * buffers, then drops, events written before its CONNECT; a hostile client
 * reads the wire).
 */
function news(client: ClientSocket, wire = true): number[] {
  const got: number[] = [];
  client.on('news', (n: number) => got.push(n));
  const tap = () =>
    client.io.engine.on('packet', (p: { data?: unknown }) => {
      if (typeof p.data === 'string' && p.data.includes('"news"') && !client.connected) got.push(-1);
    });
  if (!wire) return got;
  if (client.io.engine !== undefined) tap();
  client.io.on('open', tap);
  return got;
}

/** A broadcast offset, so that the drop that follows is recoverable. */
async function broadcastOnce(client: ClientSocket): Promise<string> {
  const got = new Promise<string>((resolve) => client.once('offset', (_n: number, off: string) => resolve(off)));
  server!.io.emit('offset', 1);
  return got;
}

/** Drops the client's transport; it comes back after `away` ms. Resolves with how it came back. */
async function awayAndBack(client: ClientSocket, away: number, meanwhile: () => Promise<void>) {
  client.io.reconnectionDelay(away);
  client.io.reconnectionDelayMax(away);
  const back = new Promise<'connected' | string>((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('connect_error', (err: ConnectError) => resolve(err.data?.code ?? err.message));
  });
  client.io.engine.close();
  await sleep(50);
  await meanwhile();
  for (let n = 1; n <= 3; n++) server!.io.emit('news', n);
  return back;
}

for (const skipMiddlewares of [true, false]) {
  describe(`recovery with skipMiddlewares: ${skipMiddlewares}`, () => {
    it('gives a client whose token expired while it was away no missed packet', async () => {
      const { recovered } = await serve(skipMiddlewares);
      const exp = Math.floor(Date.now() / 1000) + 2;
      const client = server!.client('/', { ...reconnecting, auth: { token: hs256({ exp }) } });
      await outcome(client);
      const got = news(client);
      await broadcastOnce(client);
      const back = await awayAndBack(client, exp * 1000 - Date.now() + 500, async () => {});
      expect(back).toBe('token_expired');
      await sleep(100);
      expect(got).toEqual([]);
      expect(recovered).toEqual([]);
      expect(client.connected).toBe(false);
    });

    it('gives a client whose user was revoked while it was away no missed packet, and refuses it', async () => {
      const { auth, recovered } = await serve(skipMiddlewares);
      const client = server!.client('/', { ...reconnecting, auth: { token: hs256({ sub: 'alice' }) } });
      const bob = server!.client('/', { ...reconnecting, auth: { token: hs256({ sub: 'bob' }) } });
      await Promise.all([outcome(client), outcome(bob)]);
      const got = news(client);
      await broadcastOnce(client);
      const back = await awayAndBack(client, 300, () => auth.revoke(server!.io, { user: 'alice' }));
      expect(back).toBe('token_revoked');
      await sleep(100);
      expect(got).toEqual([]);
      expect(recovered).toEqual([]);
      // A client nobody revoked still recovers, with its missed packets.
      const bobGot = news(bob, false);
      await broadcastOnce(bob);
      expect(await awayAndBack(bob, 100, async () => {})).toBe('connected');
      await sleep(100);
      expect(bob.recovered).toBe(true);
      expect(bobGot).toEqual([1, 2, 3]);
    });

    it('blocks recovery with a revocation older than 10 minutes', async () => {
      const ledger = memoryLedger();
      const { recovered } = await serve(skipMiddlewares, undefined, { ledger });
      const iat = Math.floor(Date.now() / 1000) - 20 * 60;
      const client = server!.client('/', { ...reconnecting, auth: { token: hs256({ sub: 'alice', iat, exp: iat + 2 * 3600 }) } });
      await outcome(client);
      const got = news(client);
      await broadcastOnce(client);
      const back = await awayAndBack(client, 200, async () => {
        const at = Date.now() - 11 * 60_000;
        await ledger.record({ kind: 'user', id: 'alice', at, until: Date.now() + 3600_000 });
      });
      expect(back).toBe('token_revoked');
      await sleep(100);
      expect(got).toEqual([]);
      expect(recovered).toEqual([]);
    });

    it('gives a quarantined socket that reconnects with its pid and any offset no broadcast', async () => {
      // `auth: { ok: true }` is admitted; sockets without it wait in quarantine for an `authenticate` event.
      const mixed = okOrQuarantine();
      const { recovered } = await serve(skipMiddlewares, mixed);
      const victim = server!.client('/');
      const connectPacket = new Promise<string>((resolve) =>
        victim.io.on('open', () =>
          victim.io.engine.on('packet', (p: { data?: unknown }) => typeof p.data === 'string' && p.data.startsWith('0') && resolve(p.data)),
        ),
      );
      await outcome(victim);
      const pid = (JSON.parse((await connectPacket).slice(1)) as { pid: string }).pid;
      const observer = server!.client('/', { auth: { ok: true } });
      await outcome(observer);
      const offset = await broadcastOnce(observer);
      victim.io.engine.close();
      await sleep(100);
      for (let n = 1; n <= 3; n++) server!.io.emit('news', n);
      // Again and again, with the pid and a real or made-up offset: never a broadcast, never recovered.
      for (const off of [offset, offset, 'made-up']) {
        const attacker = server!.client('/', { auth: { pid, offset: off } });
        const got = news(attacker);
        await outcome(attacker);
        await sleep(100);
        expect(attacker.recovered).toBe(false);
        expect(got).toEqual([]);
        attacker.disconnect();
      }
      expect(recovered).toEqual([]);
    });
  });
}
