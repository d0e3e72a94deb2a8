/**
 * Where the compare demo keeps sessions and fans out broadcasts: the embedded
 * defaults (express-session's MemoryStore, Socket.IO's in-memory adapter) so
 * that `npm start` needs nothing else running, or Redis for both when a
 * `REDIS_URL` is given (connect-redis 9 on a redis 5 client, and
 * @socket.io/redis-adapter on a pub/sub pair).
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { RedisStore } from 'connect-redis';
import type { Store } from 'express-session';
import { createClient } from 'redis';
import type { ServerOptions } from 'socket.io';

export interface Backing {
  name: 'memory' | 'redis';
  /** undefined: express-session's MemoryStore. */
  store: Store | undefined;
  /** undefined: Socket.IO's in-memory adapter. */
  adapter: ServerOptions['adapter'] | undefined;
  close(): Promise<void>;
}

export async function connectBacking(redisUrl: string | undefined): Promise<Backing> {
  if (redisUrl === undefined || redisUrl === '') {
    return { name: 'memory', store: undefined, adapter: undefined, close: async () => {} };
  }
  const client = createClient({ url: redisUrl });
  const subscriber = client.duplicate();
  // Errors surface through the store (store_unavailable) and the adapter; don't crash the demo on them.
  client.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([client.connect(), subscriber.connect()]);
  return {
    name: 'redis',
    store: new RedisStore({ client, prefix: 'sockpass-demo:sess:' }),
    adapter: createAdapter(client, subscriber, { key: 'sockpass-demo' }),
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
    },
  };
}
