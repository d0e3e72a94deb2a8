// examples/cluster (issue 5's nodes) with a real browser as the client: two
// nodes on one real redis-server; Chromium logs in on node A (session cookie +
// token), holds a cookie socket on node A and a token socket on node B, sees a
// broadcast from node B on node A's socket, and both sockets are cut when node B
// revokes the user; the same cookie and token are then refused on node A (the
// ledger is shared). The example has no page, so the test drives Chromium from a
// document on node A's origin (the Socket.IO client script that node serves).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type ClusterNode } from '../../examples/cluster/node.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let a: ClusterNode;
let b: ClusterNode;
let browser: TestBrowser;
beforeAll(async () => {
  redis = await startRedis();
  const shared = { redisUrl: redis.url, jwtSecret: 'cluster-browser-test-secret-0123456789', sessionSecret: 'cluster-browser-test-session' };
  [a, b] = await Promise.all([startNode({ ...shared, name: 'A' }), startNode({ ...shared, name: 'B' })]);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await Promise.allSettled([a?.close(), b?.close()]);
  await redis?.stop();
});

interface Seen {
  hello: Record<string, { node: string; strategy: string; user: { id: string } }>;
  news: Record<string, string[]>;
  revoked: Record<string, { code: string; at: number }>;
  disconnected: Record<string, { reason: string; at: number }>;
}

describe('examples/cluster with Chromium as the client', () => {
  it('a revoke on node B cuts the browser\'s sockets on node A and node B within 1 s, and keeps its cookie and token out of node A', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${a.url}/socket.io/socket.io.esm.min.js`);
    // (A string, not a function: vitest would rewrite a function's dynamic import.)
    await page.evaluate(`(async () => {
      const { io } = await import('/socket.io/socket.io.esm.min.js');
      const res = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'carol' }) });
      const { token } = await res.json();
      window.carolToken = token;
      const seen = (window.seen = { hello: {}, news: {}, revoked: {}, disconnected: {} });
      const watch = (label, socket) => {
        seen.news[label] = [];
        socket.on('hello', (h) => (seen.hello[label] = h));
        socket.on('news', (n) => seen.news[label].push(n.from + ': ' + n.text));
        socket.on('auth:revoked', (n) => (seen.revoked[label] = { code: n.code, at: Date.now() }));
        socket.on('disconnect', (reason) => (seen.disconnected[label] = { reason, at: Date.now() }));
      };
      const common = { transports: ['websocket'], reconnection: false, forceNew: true };
      watch('cookie@A', io('/', common));                                  // the session cookie, same origin
      watch('token@B', io(${JSON.stringify(b.url)}, { ...common, auth: { token } }));   // the token, on the other node
    })()`);
    const seen = () => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
    await page.waitForFunction(() => Object.keys((window as unknown as { seen: Seen }).seen.hello).length === 2, undefined, { timeout: 15_000 });
    const hello = (await seen()).hello;
    expect(hello['cookie@A']).toEqual({ node: 'A', strategy: 'session', user: { id: 'carol' } });
    expect(hello['token@B']).toEqual({ node: 'B', strategy: 'jwt-auth', user: { id: 'carol' } });

    // A broadcast issued on node B reaches the socket held by node A (through the Redis adapter).
    await fetch(`${b.url}/broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hello cluster' }) });
    await page.waitForFunction(() => (window as unknown as { seen: Seen }).seen.news['cookie@A']!.length > 0, undefined, { timeout: 10_000 });
    expect((await seen()).news['cookie@A']).toEqual(['B: hello cluster']);

    const revokedAt = await page.evaluate(() => Date.now());
    const res = await fetch(`${b.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'carol' }) });
    expect(res.status).toBe(200);
    await page.waitForFunction(() => Object.keys((window as unknown as { seen: Seen }).seen.disconnected).length === 2, undefined, { timeout: 10_000 });
    const after = await seen();
    for (const label of ['cookie@A', 'token@B']) {
      expect(after.revoked[label]?.code).toBe('token_revoked');
      expect(after.disconnected[label]?.reason).toBe('io server disconnect');
      expect(after.disconnected[label]!.at - revokedAt).toBeLessThan(1000);
    }
    console.log(`cluster revoke → browser disconnects: ${Object.values(after.disconnected).map((d) => d.at - revokedAt).join(' ms, ')} ms`);

    // Revoked on node B, kept out of node A too (the ledger is shared): the same cookie, the same token.
    const again = (await page.evaluate(`(async () => {
      const { io } = await import('/socket.io/socket.io.esm.min.js');
      const attempt = (options) => new Promise((resolve) => {
        const socket = io('/', { transports: ['websocket'], reconnection: false, forceNew: true, ...options });
        socket.on('connect', () => (socket.disconnect(), resolve('connected')));
        socket.on('connect_error', (err) => (socket.disconnect(), resolve(err.data?.code ?? err.message)));
      });
      return { cookie: await attempt({}), token: await attempt({ auth: { token: window.carolToken } }) };
    })()`)) as { cookie: string; token: string };
    expect(again).toEqual({ cookie: 'token_revoked', token: 'token_revoked' });
    // The nodes serve no page, so Chromium's favicon request gets a 404; nothing else may fail.
    expect(browser.errors.filter((e) => !e.includes('/favicon.ico'))).toEqual([]);
  });
});
