import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPARED, createCompareServer } from '../../examples/compare/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';

const TOKEN_TTL = 4; // seconds: the server asks for a refresh 1.3 s before expiry

let server: ExampleServer;
let browser: TestBrowser;
beforeAll(async () => {
  server = await createCompareServer({ port: 0, host: '127.0.0.1', tokenTtl: TOKEN_TTL, redisUrl: '' });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const cell = (lane: string, field: string) => `[data-cell="${lane}:${field}"]`;
const TOKEN_LANES = COMPARED.filter((name) => name !== 'session');

describe('examples/compare in Chromium', () => {
  it('connects every strategy side by side, refuses forged and expired credentials, refreshes on the same socket', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    for (const lane of COMPARED) {
      await waitForText(page, cell(lane, 'status'), 'connected');
      await waitForText(page, cell(lane, 'user'), `Alice (id 1) via ${lane}`);
      await waitForText(page, cell(lane, 'messages'), /server: tick \d+/);
      const expected = lane === 'jwt-authenticate-event' ? '2' : '1';
      await waitForText(page, cell(lane, 'round-trips'), expected);
    }
    await browser.screenshot(page, 'compare-connected');

    await page.locator('#forge-all').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    await page.locator('#expired-all').click();
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
    await browser.screenshot(page, 'compare-refused');

    // Each token lane lives through two refreshes (two token lifetimes) on one socket.
    const ids = new Map<string, string | null>();
    for (const lane of TOKEN_LANES) ids.set(lane, await page.locator(cell(lane, 'socket-id')).textContent());
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refreshes'), '2', 30_000);
    for (const lane of TOKEN_LANES) {
      await waitForText(page, cell(lane, 'status'), 'connected');
      expect(await page.locator(cell(lane, 'socket-id')).textContent()).toBe(ids.get(lane));
      expect(await page.locator(cell(lane, 'code')).textContent()).toBe('—');
    }
    await browser.screenshot(page, 'compare-refreshed');
    expect(browser.errors).toEqual([]);
  });

  it('disconnects every token socket with auth:expired when the page stops answering auth:refresh', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#answer-refresh').uncheck();
    await page.locator('#login').click();
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'status'), 'connected');
    for (const lane of TOKEN_LANES) {
      await waitForText(page, cell(lane, 'code'), 'token_expired', 20_000);
      await waitForText(page, cell(lane, 'status'), 'disconnected (io server disconnect)');
    }
    await browser.screenshot(page, 'compare-expired');
    expect(browser.errors).toEqual([]);
  });

  it('logging out of the web app revokes every socket of the user, whatever strategy admitted it', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'status'), 'connected');
    await page.locator('#logout').click();
    for (const lane of COMPARED) {
      await waitForText(page, cell(lane, 'code'), 'token_revoked');
      await waitForText(page, cell(lane, 'status'), 'disconnected (io server disconnect)');
    }
    await browser.screenshot(page, 'compare-logged-out');
    expect(browser.errors).toEqual([]);
  });
  it('shows live handshake counters from sockpass\'s OpenTelemetry instruments', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'status'), 'connected');
    await page.locator('#forge-all').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    const row = (strategy: string) => `#metrics-panel tr[data-strategy="${strategy}"]`;
    await waitForText(page, row('jwt-auth'), /invalid_token [1-9]/, 10_000);
    await waitForText(page, row('jwt-authenticate-event'), /jwt-authenticate-event\s*[1-9]/, 10_000);
    expect(await page.locator(`${row('jwt-auth')} td:nth-child(4)`).textContent()).toMatch(/^\d+\.\d\d ms$/);
    expect(browser.errors).toEqual([]);
  });
});
