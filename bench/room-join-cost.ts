/**
 * What a `socket.join` costs through a room policy (`auth.rooms`) against
 * the same join on a namespace with none: real Socket.IO servers on
 * loopback, real socket.io-client sockets authenticated by `jwt-auth`, and
 * the server's CPU time over many joins and leaves of rooms the policy
 * admits (an exact rule, a `prefix*` rule with a predicate, and
 * `claimRooms`). A join is a few microseconds either way, far below what the
 * end-to-end bench resolves, so it is measured here, in process.
 *
 * Run: `npx tsx bench/room-join-cost.ts` (≈15 s). Medians of 7 rounds, µs per join + leave.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { SockPass, claimRooms, jwtAuth, type Claims } from '../src/index.js';

const SECRET = 'room-join-cost-secret';
const SOCKETS = 200;
const ROOMS = ['lobby', 'chat:1', 'chat:2', 'org:42', 'team:7'];
const JOINS_PER_ROUND = 40_000;
const ROUNDS = 7;

async function serverWith(policy: boolean) {
  const http = createServer();
  const io = new Server(http);
  const auth = new SockPass<Claims>().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  io.use(auth.middleware('jwt'));
  if (policy) {
    auth.rooms(io, {
      lobby: true,
      'chat:*': claimRooms('rooms'),
      'org:*': (a, room) => a.claims.org === room.slice(4),
      'team:*': (a) => a.claims.role === 'member',
    });
  }
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients: ClientSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const token = jwt.sign({ sub: `u${i}`, rooms: ['chat:*'], org: '42', role: 'member' }, SECRET, { algorithm: 'HS256', expiresIn: 3600 });
    const client = connect(url, { auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('connect_error', reject);
    });
    clients.push(client);
  }
  return {
    io,
    async close() {
      for (const c of clients) c.close();
      io.close();
    },
  };
}

/** Server CPU µs per join + leave, over every socket and room in turn. */
async function round(io: Server): Promise<number> {
  const sockets = [...io.of('/').sockets.values()];
  let refused = 0;
  const started = process.cpuUsage();
  for (let i = 0; i < JOINS_PER_ROUND; i++) {
    const socket = sockets[i % sockets.length]!;
    const room = ROOMS[i % ROOMS.length]!;
    await socket.join(room);
    if (!socket.rooms.has(room)) refused++;
    await socket.leave(room);
  }
  const used = process.cpuUsage(started);
  if (refused > 0) throw new Error(`bench: ${refused} joins refused; the figure would time refusals`);
  // Back to its own id room and its user room: every join was left.
  for (const s of sockets) if (s.rooms.size !== 2) throw new Error('bench: a socket kept or lost a room');
  return (used.user + used.system) / JOINS_PER_ROUND;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const plain = await serverWith(false);
const judged = await serverWith(true);
const without: number[] = [];
const withPolicy: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  without.push(await round(plain.io));
  withPolicy.push(await round(judged.io));
}
await plain.close();
await judged.close();
const ratios = withPolicy.map((w, i) => w / without[i]!);
console.log(`| join + leave, ${SOCKETS} sockets, ${ROOMS.length} rooms | µs (median of ${ROUNDS} rounds × ${JOINS_PER_ROUND.toLocaleString('en')}) |`);
console.log('| --- | ---: |');
console.log(`| no room policy | ${median(without).toFixed(2)} |`);
console.log(`| through auth.rooms (exact, prefix* predicates, claimRooms) | ${median(withPolicy).toFixed(2)} |`);
console.log(`| ratio, median of per-round ratios | ${median(ratios).toFixed(2)} × |`);
process.exit(0);
