/**
 * Room judgments and the recovery gate across two nodes on
 * @socket.io/redis-adapter's sharded adapter (`createShardedAdapter`, Redis 7
 * sharded pub/sub, default `dynamic` mode: a broadcast to one public room
 * travels on that room's own channel), beside the classic adapter, on one
 * real redis-server (test/helpers/two-nodes.ts).
 *
 * - `socketsJoin` sent from node A (by socket id and by user room) reaches
 *   node B's sockets through the adapter and is judged by B's room policy; an
 *   `auth:join` on B is judged there too. A broadcast from A then reaches the
 *   admitted sockets and, counted on the wire, no refused one.
 * - Neither adapter persists sessions ("Connection state recovery: NO" in its
 *   README), so with `connectionStateRecovery` configured a dropped socket is
 *   not recovered: it presents its old session id, gets `recovered: false`,
 *   and goes through the handshake again. A user revoked meanwhile on the
 *   other node is refused (`token_revoked`); a valid one is admitted again
 *   with only the rooms B's policy allows now, and no packet it missed.
 */
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimRooms } from 'sockpass';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { codeOf, once, outcome } from '../helpers/server.js';
import { closeNodes, countPackets, startNode, type AdapterKind, type Node } from '../helpers/two-nodes.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await closeNodes();
});
afterAll(async () => {
  await redis?.stop();
});

async function twoNodes(kind: AdapterKind): Promise<[Node, Node]> {
  const setup = (io: Node['io'], auth: Node['auth']) => auth.rooms(io, { 'chat:*': claimRooms('rooms') });
  return [await startNode(redis.url, kind, { setup }), await startNode(redis.url, kind, { setup })];
}

async function connected(client: ClientSocket): Promise<ClientSocket> {
  expect(await outcome(client)).toEqual({ connected: true });
  return client;
}

/**
 * From node A: probes `room` until every admitted client has one (the sharded adapter subscribes to a
 * room's channel only once a socket of B entered it), then 5 numbered packets, then one to everybody.
 * Returns once each client has the one to everybody: whatever A sent to `room` before it has arrived.
 */
async function broadcastFromA(a: Node, room: string, admitted: ClientSocket[], everyone: ClientSocket[]): Promise<void> {
  const probes = admitted.map((c) => new Promise((resolve) => c.once(`probe:${room}`, resolve)));
  let settled = false;
  void Promise.all(probes).then(() => (settled = true));
  await eventually(() => {
    if (!settled) a.io.to(room).emit(`probe:${room}`);
    return settled;
  }, { timeout: 5_000, interval: 50 });
  for (let i = 0; i < 5; i++) a.io.to(room).emit('msg', room, i);
  const all = everyone.map((c) => once(c, `all:${room}`));
  a.io.emit(`all:${room}`);
  await Promise.all(all);
}

for (const kind of ['classic', 'sharded'] as const) {
  describe(`rooms across two nodes, ${kind} Redis adapter`, () => {
    it("socketsJoin from node A (by socket id and by user room) is judged by node B's policy; a broadcast from A reaches no refused socket", async () => {
      const [a, b] = await twoNodes(kind);
      const ann = await connected(b.client({ sub: 'ann', rooms: ['chat:*'] }));
      const bob = await connected(b.client({ sub: 'bob' }));
      const annMsgs = countPackets(ann, 'msg');
      const bobMsgs = countPackets(bob, 'msg');
      const forbidden: unknown[] = [];
      bob.on('auth:forbidden', (n) => forbidden.push(n));
      const annSid = b.sockets.get('ann')!.id;
      const bobSid = b.sockets.get('bob')!.id;

      a.io.in(bobSid).socketsJoin('chat:red');
      a.io.in('user:ann').socketsJoin('chat:red');
      a.io.in(annSid).socketsJoin('chat:blue');
      a.io.in('user:bob').socketsJoin('chat:blue');
      await eventually(() => {
        const rooms = b.sockets.get('ann')!.rooms;
        return rooms.has('chat:red') && rooms.has('chat:blue') && forbidden.length === 2;
      });
      expect(b.sockets.get('bob')!.rooms.has('chat:red')).toBe(false);
      expect(b.sockets.get('bob')!.rooms.has('chat:blue')).toBe(false);
      expect(forbidden).toEqual(
        expect.arrayContaining([
          { room: 'chat:red', code: 'forbidden', message: 'not allowed in room chat:red', action: 'stop' },
          { room: 'chat:blue', code: 'forbidden', message: 'not allowed in room chat:blue', action: 'stop' },
        ]),
      );
      expect(b.failures.map((f) => [f.code, f.room]).sort()).toEqual([
        ['forbidden', 'chat:blue'],
        ['forbidden', 'chat:red'],
      ]);
      expect(a.failures).toEqual([]);
      // What the rooms hold across both nodes, as node A sees it.
      expect((await a.io.in('chat:red').fetchSockets()).map((s) => s.data.auth.claims.sub)).toEqual(['ann']);
      expect((await a.io.in('chat:blue').fetchSockets()).map((s) => s.data.auth.claims.sub)).toEqual(['ann']);

      await broadcastFromA(a, 'chat:red', [ann], [ann, bob]);
      await broadcastFromA(a, 'chat:blue', [ann], [ann, bob]);
      expect(annMsgs.count).toBe(10);
      expect(bobMsgs.count).toBe(0);
    });

    it('auth:join on node B is judged there; a broadcast from node A reaches the admitted socket only', async () => {
      const [a, b] = await twoNodes(kind);
      const ann = await connected(b.client({ sub: 'ann', rooms: ['chat:green'] }));
      const bob = await connected(b.client({ sub: 'bob', rooms: ['chat:other'] }));
      const annMsgs = countPackets(ann, 'msg');
      const bobMsgs = countPackets(bob, 'msg');
      expect(await ann.timeout(3_000).emitWithAck('auth:join', { room: 'chat:green' })).toEqual({ ok: true, room: 'chat:green' });
      expect(await bob.timeout(3_000).emitWithAck('auth:join', { room: 'chat:green' })).toMatchObject({ error: { code: 'forbidden' } });
      expect(b.sockets.get('bob')!.rooms.has('chat:green')).toBe(false);
      expect((await a.io.in('chat:green').fetchSockets()).map((s) => s.data.auth.claims.sub)).toEqual(['ann']);

      await broadcastFromA(a, 'chat:green', [ann], [ann, bob]);
      expect(annMsgs.count).toBe(5);
      expect(bobMsgs.count).toBe(0);
    });

    it('with connectionStateRecovery configured, a dropped socket is not recovered: a new handshake judges it (revoked on node A → refused on B; valid → only the rooms allowed now)', async () => {
      // B's policy for chat:red, changed while the sockets are away: bob loses it.
      const members = new Set(['alice', 'bob']);
      const presented: Array<{ who: unknown; pid: unknown; offset: unknown }> = [];
      const options = {
        // Every handshake, before sockpass's middleware: what the client presented to recover.
        beforeAuth: (io: Node['io']) =>
          io.use((s, next) => {
            const { who, pid, offset } = s.handshake.auth as Record<string, unknown>;
            presented.push({ who, pid, offset });
            next();
          }),
        setup: (io: Node['io'], auth: Node['auth']) => {
          auth.rooms(io, { 'chat:red': (x) => members.has(String(x.claims.sub)), 'chat:*': claimRooms('rooms') });
          auth.onAuthenticated(io, (s) => void s.join(['chat:red', 'chat:blue']));
        },
        server: { connectionStateRecovery: { maxDisconnectionDuration: 30_000, skipMiddlewares: true } },
        // This test's own ledger: the other adapter's run revoked alice too.
        ledgerPrefix: `${kind}:revoked:`,
      };
      const a = await startNode(redis.url, kind, options);
      const b = await startNode(redis.url, kind, options);
      const alice = await connected(b.client({ sub: 'alice', rooms: ['chat:blue'] }, {}, { who: 'alice' }));
      const bob = await connected(b.client({ sub: 'bob', rooms: ['chat:blue'] }, {}, { who: 'bob' }));
      await eventually(() => ['alice', 'bob'].every((u) => b.sockets.get(u)?.rooms.has('chat:red') && b.sockets.get(u)?.rooms.has('chat:blue')));
      const bobFirstSid = bob.id;
      const bobMsgs = countPackets(bob, 'msg');
      // socket.io-client keeps the last string argument of a packet as its offset, and presents it with
      // its session id (pid) when it reconnects: this packet from node B gives both clients one. (With
      // recovery configured, the sharded adapter appends its publish's offset to every broadcast: '' on
      // the publishing node, null on the others, so a packet from node A would leave the client none, and
      // Socket.IO would not even ask the adapter.)
      const noted = [alice, bob].map((c) => once(c, 'note'));
      b.io.emit('note', 'offset-1');
      await Promise.all(noted);
      const offset = kind === 'sharded' ? '' : 'offset-1';

      // Dropped without reconnection (reconnection: false), so the revoke lands while they are away;
      // connect() below is what the client's reconnection does (Manager.open, then CONNECT with pid + offset).
      const gone = [alice, bob].map((c) => once(c, 'disconnect'));
      for (const c of [alice, bob]) c.io.engine.close();
      await Promise.all(gone);
      await eventually(() => b.io.of('/').sockets.size === 0);
      members.delete('bob');
      await a.auth.revoke(a.io, { user: 'alice' });
      await eventually(() => b.ledger.isRevoked({ user: 'alice', issuedAt: Date.now() - 60_000 }) !== undefined);
      a.io.to('chat:red').emit('msg', 'chat:red', 'missed');
      a.io.to('chat:blue').emit('msg', 'chat:blue', 'missed');

      presented.length = 0;
      alice.connect();
      expect(await codeOf(alice)).toBe('token_revoked');
      bob.connect();
      expect(await outcome(bob)).toEqual({ connected: true });
      // Both asked to recover (a pid and an offset: Socket.IO asks the adapter's restoreSession); neither
      // adapter can restore a session, so both went through the handshake.
      expect(presented).toEqual([
        { who: 'alice', pid: expect.any(String), offset },
        { who: 'bob', pid: expect.any(String), offset },
      ]);
      expect(bob.recovered).toBe(false);
      expect(bob.id).not.toBe(bobFirstSid);
      const again = b.sockets.get('bob')!;
      expect(again.id).toBe(bob.id);
      expect(again.rooms.has('chat:blue')).toBe(true);
      expect(again.rooms.has('chat:red')).toBe(false);
      expect(b.failures.map((f) => [f.code, f.room])).toEqual(expect.arrayContaining([['token_revoked', undefined], ['forbidden', 'chat:red']]));

      await broadcastFromA(a, 'chat:red', [], [bob]);
      await broadcastFromA(a, 'chat:blue', [bob], [bob]);
      // No packet missed while away, nothing of chat:red, the 5 of chat:blue.
      expect(bobMsgs.data.filter((d) => d.includes('missed'))).toEqual([]);
      expect(bobMsgs.data.filter((d) => d.includes('chat:red'))).toEqual([]);
      expect(bobMsgs.data.filter((d) => d.includes('chat:blue'))).toHaveLength(5);
    });
  });
}
