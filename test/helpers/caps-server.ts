/**
 * One node of the connection-cap tests, in this process: a SockPass with
 * `jwt-auth` (the user is `{ id: sub }`) and the given caps, behind
 * @socket.io/redis-adapter on one redis-server, as an app's node would run.
 * Its teardown goes to `closers`, which the test file runs in reverse
 * (the server, then the counter, then the adapter's connections).
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, jwtAuth, type ConnectionCapsOptions, type ConnectionCounter } from 'sockpass';
import { closeClient, subscriptionsAnswered } from './redis.js';
import { startServer, type TestServer } from './server.js';
import { hs256, SECRET } from './tokens.js';

export interface CapsServer {
  server: TestServer;
  /** A client of this node whose token names `who`. */
  as(who: string): ClientSocket;
}

export async function startCapsServer(
  redisUrl: string,
  connections: ConnectionCapsOptions & { store: ConnectionCounter },
  closers: Array<() => Promise<unknown>>,
): Promise<CapsServer> {
  const auth = new SockPass<{ id: string }>({ connections }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }));
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', () => undefined);
  await Promise.all([pub.connect(), sub.connect()]);
  closers.push(() => Promise.all([closeClient(pub), closeClient(sub)]));
  const server = await startServer((io) => {
    io.adapter(createAdapter(pub, sub));
    io.use(auth.middleware('jwt-auth'));
  });
  closers.push(async () => {
    await server.close();
    await connections.store.close();
  });
  await subscriptionsAnswered(sub);
  return { server, as: (who) => server.client('/', { auth: { token: hs256({ sub: who }) } }) };
}
