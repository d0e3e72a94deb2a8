import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMBINED, COMPARED, createCompareServer } from '../../examples/compare/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import { launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';

const TOKEN_TTL = 6; // seconds: the server asks for a refresh 2 s before expiry (room for a loaded machine)

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
    // At least two: on a loaded machine the steps above may outlast a refresh or two.
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refreshes'), /^([2-9]|\d{2,})$/, 30_000);
    for (const lane of TOKEN_LANES) {
      await waitForText(page, cell(lane, 'status'), 'connected');
      expect(await page.locator(cell(lane, 'socket-id')).textContent()).toBe(ids.get(lane));
      expect(await page.locator(cell(lane, 'code')).textContent()).toBe('—');
    }
    await browser.screenshot(page, 'compare-refreshed');
    expect(browser.errors).toEqual([]);
    // Its sockets would go on refreshing through the next tests, whose logins and logout change the
    // session this page shares (one cookie jar): a /token answered 401 would count as a page error there.
    await page.close();
  });

  it('combines cookie and token: mode all needs both for the same user, the migration chain takes the token else the cookie', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    // The user the server saw stays on the page (the mode-all socket ends when its token expires).
    await waitForText(page, cell('cookie-and-token', 'user'), 'Alice (id 1) via jwt-auth+session');
    await waitForText(page, cell('token-or-cookie', 'user'), 'Alice (id 1) via jwt-auth');

    const tryIt = async (lane: keyof typeof COMBINED, action: string, answer: string) => {
      await page.locator(`${cell(lane, 'actions')} button[data-action="${action}"]`).click();
      await waitForText(page, `${cell(lane, 'refused')} li[data-attempt="${action}"]`, answer);
    };
    await tryIt('cookie-and-token', 'both', 'both, same user → connected as Alice via jwt-auth+session');
    await tryIt('cookie-and-token', 'cookie-only', 'cookie only → credentials_required');
    await tryIt('cookie-and-token', 'other-user', 'token of another user → user_mismatch');
    await tryIt('token-or-cookie', 'token', 'token (and cookie) → connected as Alice via jwt-auth');
    await tryIt('token-or-cookie', 'cookie-only', 'cookie only → connected as Alice via session');
    await tryIt('token-or-cookie', 'forged-token', 'forged token + good cookie → invalid_token');
    await browser.screenshot(page, 'compare-combined');

    // Both chains read the token first: a forged or expired one is refused even beside a good cookie.
    await page.locator('#forge-all').click();
    for (const lane of Object.keys(COMBINED)) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    await page.locator('#expired-all').click();
    for (const lane of Object.keys(COMBINED)) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
    expect(browser.errors).toEqual([]);
    await page.close(); // as above: no refreshing page left behind
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
