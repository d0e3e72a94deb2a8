import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthenticateEventServer } from '../../examples/jwt-authenticate-event/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { exerciseExamplePage, launchBrowser, type TestBrowser } from '../helpers/browser.js';

let server: ExampleServer;
let browser: TestBrowser;
beforeAll(async () => {
  server = await createJwtAuthenticateEventServer({ port: 0, host: '127.0.0.1', tokenTtl: 4 });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('examples/jwt-authenticate-event in Chromium', () => {
  it('logs in, shows the user and live messages, refuses forged and expired tokens, refreshes on the same socket', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await exerciseExamplePage(browser, page, server.url, {
      name: 'jwt-authenticate-event',
      strategy: 'jwt-authenticate-event',
      forgedCode: 'invalid_token',
      expiredCode: 'token_expired',
      refreshes: 1,
    });
    expect(browser.errors).toEqual([]);
  });
});
