/**
 * Recovery across nodes with @socket.io/redis-streams-adapter: a session one
 * node stored is restored by another, in the Socket constructor, before any
 * middleware. Node B has never run the middleware (no handshake reached it):
 * `auth.attach(io)` at startup puts sockpass's judgment on its restore step,
 * so a revoked, expired or quarantined session is not restored on B, and the
 * client gets no missed packet; a valid one is, with its missed packets.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, redisLedger } from 'sockpass';
import type { Claims } from 'sockpass';
import { closeClient, startRedis, type RedisServer } from '../helpers/redis.js';
import { outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let redis: RedisServer;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).reverse().map((close) => close()));
});
afterAll(async () => {
  await redis?.stop();
});

async function startNode(skipMiddlewares: boolean): Promise<{ auth: SockPass<Claims>; server: TestServer }> {
  const client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
  const ledger = redisLedger({ client, onError: () => undefined });
  await ledger.ready();
  const auth = new SockPass({ ledger }).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const server = await startServer(
    (io) => {
      io.adapter(createAdapter(client));
      auth.attach(io);
      io.use(auth.middleware('jwt'));
    },
    { connectionStateRecovery: { maxDisconnectionDuration: 30_000, skipMiddlewares } },
  );
  closers.push(
    () => closeClient(client),
    () => ledger.close(),
    () => server.close(),
  );
  return { auth, server };
}

/** The session id and last offset a client would present to recover (what socket.io-client keeps). */
function session(client: ClientSocket): { pid: string; offset: string; sid: string } {
  const c = client as unknown as { _pid: string; _lastOffset: string; id: string };
  return { pid: c._pid, offset: c._lastOffset, sid: c.id };
}

/** A client on node B presenting node A's session, as socket.io-client does after a failover. Counts every `news` on the wire. */
function resume(node: TestServer, token: string, saved: { pid: string; offset: string }) {
  const client = node.client('/', { auth: { token, pid: saved.pid, offset: saved.offset } });
  const got: string[] = [];
  client.io.on('open', () =>
    client.io.engine.on('packet', (p: { data?: unknown }) => typeof p.data === 'string' && p.data.includes('"news"') && got.push(p.data)),
  );
  return { client, got };
}

for (const skipMiddlewares of [true, false]) {
  describe(`recovery across nodes on redis-streams, skipMiddlewares: ${skipMiddlewares}`, () => {
    it('restores a valid session on node B with its missed packets, and not a revoked one', async () => {
      const a = await startNode(skipMiddlewares);
      const b = await startNode(skipMiddlewares);
      const alice = hs256({ sub: 'alice' });
      const bob = hs256({ sub: 'bob' });
      const onA = [a.server.client('/', { auth: { token: alice } }), a.server.client('/', { auth: { token: bob } })];
      await Promise.all(onA.map((c) => outcome(c)));
      const offsets = onA.map((c) => new Promise((r) => c.once('offset', r)));
      a.server.io.emit('offset', 1);
      await Promise.all(offsets);
      await sleep(50);
      const saved = onA.map(session);
      onA.forEach((c) => c.io.engine.close());
      await sleep(200);
      await a.auth.revoke(a.server.io, { user: 'alice' });
      for (let n = 1; n <= 3; n++) a.server.io.emit('news', n);
      await sleep(200);

      const bobBack = resume(b.server, bob, saved[1]!);
      expect(await outcome(bobBack.client)).toEqual({ connected: true });
      // Restored (the client-side `recovered` flag needs the client's own pid, which a hand-made failover client lacks).
      await sleep(100);
      expect(bobBack.got).toHaveLength(3);
      expect((await b.server.io.fetchSockets()).map((s) => s.id)).toContain(saved[1]!.sid);

      const aliceBack = resume(b.server, alice, saved[0]!);
      const result = await outcome(aliceBack.client);
      expect(result.connected ? 'connected' : result.error.data?.code).toBe('token_revoked');
      await sleep(100);
      expect(aliceBack.got).toEqual([]);
    });

    it('does not restore on node B a session whose token expired meanwhile', async () => {
      const a = await startNode(skipMiddlewares);
      const b = await startNode(skipMiddlewares);
      const exp = Math.floor(Date.now() / 1000) + 2;
      const token = hs256({ sub: 'carol', exp });
      const onA = a.server.client('/', { auth: { token } });
      await outcome(onA);
      const offset = new Promise((r) => onA.once('offset', r));
      a.server.io.emit('offset', 1);
      await offset;
      await sleep(50);
      const saved = session(onA);
      onA.io.engine.close();
      for (let n = 1; n <= 3; n++) a.server.io.emit('news', n);
      await sleep(exp * 1000 - Date.now() + 200);
      const back = resume(b.server, token, saved);
      const result = await outcome(back.client);
      expect(result.connected ? 'connected' : result.error.data?.code).toBe('token_expired');
      await sleep(100);
      expect(back.got).toEqual([]);
    });
  });
}
