/**
 * The server under test of the soak's burst scenario, in its own process: a
 * Socket.IO server whose jwt-auth handshakes are limited per address by
 * `handshakeLimits()` (memory, or Redis shared with the other nodes), and
 * which counts every handshake its strategy judged and refused — what the
 * limit must hold to `points` per window.
 *
 * Config in SOAK_BURST_CONFIG; IPC: `{ id, body: 'judged' }` → `{ id, judged }`,
 * `{ id, body: 'close' }` → `{ id }` then exit.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { SockPass, handshakeLimits, jwtAuth, type Strategy } from 'sockpass';
import { SECRET } from '../test/helpers/tokens.js';

export interface BurstServerConfig {
  points: number;
  duration: number;
  /** Counts in this Redis, shared by every node with the same keyPrefix. */
  redisUrl?: string;
  keyPrefix?: string;
  storeTimeout?: number;
}

const config = JSON.parse(process.env.SOAK_BURST_CONFIG ?? '{}') as BurstServerConfig;
let judged = 0;

async function main(): Promise<void> {
  const redis = config.redisUrl === undefined ? undefined : createClient({ url: config.redisUrl, socket: { reconnectStrategy: 100 } });
  redis?.on('error', () => {}); // a stalled Redis is part of the scenario
  await redis?.connect();
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const counted: Strategy = {
    ...jwt,
    authenticate: async (ctx) => {
      const result = await jwt.authenticate(ctx);
      if (result.kind === 'fail') judged++;
      return result;
    },
  };
  const limits = handshakeLimits({
    address: { points: config.points, duration: config.duration },
    redis,
    keyPrefix: config.keyPrefix,
    storeTimeout: config.storeTimeout,
  });
  const auth = new SockPass({ rateLimit: limits }).use('jwt-auth', counted);
  const http = createServer();
  const io = new Server(http);
  io.use(auth.middleware('jwt-auth'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  process.on('message', (msg: { id: number; body: string }) => {
    if (msg.body === 'judged') process.send!({ id: msg.id, judged });
    if (msg.body === 'close') {
      process.send!({ id: msg.id });
      io.close();
      redis?.destroy();
      setTimeout(() => process.exit(0), 100);
    }
  });
  process.send!({ id: 0, port: (http.address() as AddressInfo).port });
}

main().catch((err) => {
  console.error('[soak:burst-server]', err);
  process.exit(1);
});
