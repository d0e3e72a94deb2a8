import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionServer } from '../../examples/session/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { exerciseExamplePage, launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';

let server: ExampleServer;
let shortLived: ExampleServer;
let browser: TestBrowser;
beforeAll(async () => {
  server = await createSessionServer({ port: 0, host: '127.0.0.1' });
  shortLived = await createSessionServer({ port: 0, host: '127.0.0.1', tokenTtl: 3 });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await shortLived?.close();
});

describe('examples/session in Chromium', () => {
  it('logs in with the session cookie, shows the user and live messages, refuses a forged cookie, revokes on logout', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await exerciseExamplePage(browser, page, server.url, {
      name: 'session',
      strategy: 'session',
      forgedCode: 'invalid_token',
    });
    // The forged cookie is removed again once its handshake was answered.
    await page.waitForFunction(() => document.cookie === '', undefined, { timeout: 10_000 });

    await page.locator('#logout').click();
    await waitForText(page, '#code', 'token_revoked');
    await waitForText(page, '#status', 'disconnected (io server disconnect)');
    await browser.screenshot(page, 'session-logged-out');
    expect(browser.errors).toEqual([]);
  });

  it('cuts the socket when the session expires', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(shortLived.url);
    await page.locator('#login').click();
    await waitForText(page, '#status', 'connected');
    await waitForText(page, '#code', 'token_expired', 15_000);
    await waitForText(page, '#status', 'disconnected (io server disconnect)');
    await browser.screenshot(page, 'session-expired');
    expect(browser.errors).toEqual([]);
  });
});
