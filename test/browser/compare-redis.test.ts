// The compare demo with REDIS_URL: sessions in connect-redis and the
// Socket.IO adapter on Redis (a real redis-server on a free port); every
// strategy still connects in Chromium, the login session is a key in Redis,
// and the adapter's channels are subscribed there.
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPARED, createCompareServer } from '../../examples/compare/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let server: ExampleServer;
let browser: TestBrowser;
beforeAll(async () => {
  redis = await startRedis();
  server = await createCompareServer({ port: 0, host: '127.0.0.1', redisUrl: redis.url });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await redis?.stop();
});

describe('examples/compare on Redis (REDIS_URL)', () => {
  it('keeps the session in Redis, runs the adapter on Redis, and every strategy connects', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await waitForText(page, '#config', /Sessions and adapter: redis\./);
    await page.locator('#login').click();
    for (const lane of COMPARED) {
      await waitForText(page, `[data-cell="${lane}:status"]`, 'connected');
      await waitForText(page, `[data-cell="${lane}:messages"]`, /server: tick \d+/);
    }
    await browser.screenshot(page, 'compare-redis');

    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      expect(await client.keys('sockpass-demo:sess:*')).toHaveLength(1);
      const channels = await client.pubSubChannels('sockpass-demo*');
      // @socket.io/redis-adapter's request channel, one per namespace.
      for (const lane of COMPARED) expect(channels).toContain(`sockpass-demo-request#/${lane}#`);
    } finally {
      await client.quit();
    }
    expect(browser.errors).toEqual([]);
  });
});
