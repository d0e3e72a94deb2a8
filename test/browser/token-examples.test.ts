// The four JWT example apps in Chromium, one after another in one browser:
// each is started on a free port with 4-second tokens, and its page must log
// in, show the user and live messages, refuse a forged and an expired token
// with their codes, and answer the server's auth:refresh on the same socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthServer } from '../../examples/jwt-auth/server.js';
import { createJwtAuthenticateEventServer } from '../../examples/jwt-authenticate-event/server.js';
import { createJwtHeaderServer } from '../../examples/jwt-header/server.js';
import { createJwtQueryServer } from '../../examples/jwt-query/server.js';
import type { ExampleOptions, ExampleServer } from '../../examples/shared/example-app.js';
import { exerciseExamplePage, launchBrowser, type TestBrowser } from '../helpers/browser.js';

const EXAMPLES: [string, (options: ExampleOptions) => Promise<ExampleServer>][] = [
  ['jwt-auth', createJwtAuthServer],
  ['jwt-query', createJwtQueryServer],
  ['jwt-header', createJwtHeaderServer],
  ['jwt-authenticate-event', createJwtAuthenticateEventServer],
];

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(EXAMPLES)('examples/%s in Chromium', (name, create) => {
  it('logs in, shows the user and live messages, refuses forged and expired tokens, refreshes on the same socket', { timeout: 45_000 }, async () => {
    const server = await create({ port: 0, host: '127.0.0.1', tokenTtl: 4 });
    try {
      const page = await browser.newPage();
      await exerciseExamplePage(browser, page, server.url, {
        name,
        strategy: name,
        forgedCode: 'invalid_token',
        expiredCode: 'token_expired',
        refreshes: 1,
      });
      await page.close();
      expect(browser.errors).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
