import { afterAll, expect, it } from 'vitest';
import { createClient } from 'redis';
import { startRedis, type RedisServer } from './redis.js';

let redis: RedisServer;
afterAll(() => redis?.stop());

it('starts a real redis-server on a free port, and restarts it after a kill', async () => {
  redis = await startRedis();
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.set('k', 'v');
  expect(await client.get('k')).toBe('v');
  await client.destroy();
  await redis.restart();
  const again = createClient({ url: redis.url });
  await again.connect();
  expect(await again.get('k')).toBeNull();
  await again.destroy();
});
