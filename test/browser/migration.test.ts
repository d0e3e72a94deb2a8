// examples/migration (issue 4's page) in Chromium: one login gives a session
// cookie and a token; the cookie and the token each connect and the server
// sees the same user, only the strategy differs; a forged token is refused
// (not a fall-through to the cookie); logging out revokes the socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrationServer } from '../../examples/migration/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';

let server: ExampleServer;
let browser: TestBrowser;
beforeAll(async () => {
  server = await createMigrationServer({ port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const ALICE = JSON.stringify({ id: '1', name: 'Alice', role: 'admin' });

describe('examples/migration in Chromium', () => {
  it('gives the same user through the session cookie and through the token, refuses a forged token, revokes on logout', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    await waitForText(page, '#status', 'logged in');
    await waitForText(page, '#http-user', ALICE);

    await page.locator('#connect-cookie').click();
    await waitForText(page, '#status', 'connected');
    await waitForText(page, '#strategy', 'session');
    await waitForText(page, '#user', ALICE);
    await browser.screenshot(page, 'migration-cookie');

    await page.locator('#connect-token').click();
    await waitForText(page, '#status', 'connected');
    await waitForText(page, '#strategy', 'jwt-auth');
    await waitForText(page, '#user', ALICE);
    await browser.screenshot(page, 'migration-token');

    // A handshake from this page with a forged token (the session cookie rides along): the token
    // strategy decides, so it is refused rather than admitted by the cookie.
    // (A string, not a function: vitest would rewrite a function's dynamic import.)
    const forged = await page.evaluate(`(async () => {
      const { io } = await import('/socket.io/socket.io.esm.min.js');
      const claims = btoa(JSON.stringify({ sub: '1', name: 'Alice', role: 'admin', exp: Math.floor(Date.now() / 1000) + 600 }));
      const token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' + claims.replace(/=+$/, '') + '.forged-signature';
      const s = io('/', { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
      try {
        return await new Promise((resolve) => {
          s.on('connect', () => resolve('connected'));
          s.on('connect_error', (err) => resolve(err.data?.code ?? 'no code'));
        });
      } finally {
        s.disconnect();
      }
    })()`);
    expect(forged).toBe('invalid_token');

    await page.locator('#logout').click();
    await waitForText(page, '#error-code', 'token_revoked');
    // The page writes "logged out" only when its socket is no longer connected.
    await waitForText(page, '#status', 'logged out');
    await browser.screenshot(page, 'migration-logged-out');
    expect(browser.errors).toEqual([]);
  });
});
