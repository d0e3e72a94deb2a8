import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMBINED, COMPARED, createCompareServer } from '../../examples/compare/server.js';
import type { ExampleServer } from '../../examples/shared/example-app.js';
import type { Page } from 'playwright-core';
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

/** The combined lanes' answers to "try a forged (or expired) credential everywhere": refused where the token decides, admitted by the cookie in mode any. */
async function waitForCombined(page: Page, tried: 'forged' | 'expired'): Promise<void> {
  const code = tried === 'forged' ? 'invalid_token' : 'token_expired';
  for (const lane of Object.keys(COMBINED)) {
    await waitForText(page, cell(lane, 'refused'), lane === 'token-else-cookie' ? `${tried} token → fell through to the cookie: connected` : `${tried} → ${code}`);
  }
}
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
    await waitForText(page, cell('token-else-cookie', 'user'), 'Alice (id 1) via jwt-auth');

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
    // Mode any (Passport's fallthrough): the same forged token falls through to the good cookie.
    await tryIt('token-else-cookie', 'forged-token', 'forged token + good cookie → connected as Alice via session');
    await browser.screenshot(page, 'compare-combined');

    // Modes all and first read the token first: a forged or expired one is refused even beside a good cookie;
    // mode any falls through to the cookie.
    const tokenDecides = Object.keys(COMBINED).filter((lane) => lane !== 'token-else-cookie');
    await page.locator('#forge-all').click();
    for (const lane of tokenDecides) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    await waitForText(page, cell('token-else-cookie', 'refused'), 'forged token → fell through to the cookie: connected');
    await page.locator('#expired-all').click();
    for (const lane of tokenDecides) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
    await waitForText(page, cell('token-else-cookie', 'refused'), 'expired token → fell through to the cookie: connected');
    expect(browser.errors).toEqual([]);
    await page.close(); // as above: no refreshing page left behind
  });

  it('shows rooms by policy: an admin joins lobby and admin, a room no rule matches is refused with forbidden and its next step, a member is refused admin', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    await waitForText(page, cell('jwt-auth', 'status'), 'connected');
    const answer = (room: string) => `#room-answers li[data-room="${room}"]`;
    for (const room of ['lobby', 'admin', 'vip']) await page.locator(`#rooms-panel button[data-room="${room}"]`).click();
    await waitForText(page, answer('lobby'), 'lobby → joined');
    await waitForText(page, answer('admin'), 'admin → joined');
    await waitForText(page, answer('vip'), 'vip → refused: forbidden (next step: stop)');
    await browser.screenshot(page, 'compare-rooms');

    await page.locator('#logout').click();
    await page.locator('#username').fill('bob');
    await page.locator('#password').fill('builder');
    // A revocation covers tokens issued in the logout's second: log in again in the next one.
    await page.waitForTimeout(1100);
    await page.locator('#login').click();
    await waitForText(page, cell('jwt-auth', 'user'), 'Bob (id 2) via jwt-auth');
    await page.locator('#rooms-panel button[data-room="admin"]').click();
    await waitForText(page, answer('admin'), 'admin → refused: forbidden (next step: stop)');
    await page.locator('#rooms-panel button[data-room="lobby"]').click();
    await waitForText(page, answer('lobby'), 'lobby → joined');
    expect(browser.errors).toEqual([]);
    await page.close();
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
    // The revoke refuses Alice's tokens issued at or before its second (iat has one-second resolution):
    // the next test's login must come in a later second, or its fresh tokens are refused too.
    await page.waitForTimeout(1100);
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
    // The event strategy's handshakes are deferred (admitted to wait for the `authenticate` event): not admissions.
    await waitForText(page, `${row('jwt-authenticate-event')} td[data-col="deferred"]`, /^[1-9]\d*$/, 10_000);
    expect(await page.locator(`${row('jwt-auth')} td[data-col="mean"]`).textContent()).toMatch(/^\d+\.\d\d ms$/);
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  it('counts on the page exactly what the server\'s metrics report: deferred is not admitted', { timeout: 60_000 }, async () => {
    const before = await serverCounters();
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'status'), 'connected');
    await page.locator('#forge-all').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    await waitForCombined(page, 'forged');
    await page.locator('#expired-all').click();
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
    // Every lane's try has ended before the server is read: the combined lanes' count too.
    await waitForCombined(page, 'expired');
    const after = await serverCounters();
    // What happened, counted by the test: one connection and two refusals per token lane. The token decides
    // the migration lane, so its connection and refusals count under jwt-auth; the mode-all lane's refusals
    // too (its token is refused first), its connection under jwt-auth+session. The mode-any lane's connection
    // counts under jwt-auth; its forged and expired tries fall through and count as admitted by the session.
    expect(after.get('jwt-auth')!.admitted - (before.get('jwt-auth')?.admitted ?? 0)).toBe(3);
    expect(after.get('jwt-auth')!.refused - (before.get('jwt-auth')?.refused ?? 0)).toBe(6);
    expect(after.get('jwt-authenticate-event')!.deferred - (before.get('jwt-authenticate-event')?.deferred ?? 0)).toBe(3);
    // The panel shows the server's numbers, column for column (it polls every 2 s).
    const shown = async () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLTableRowElement>('#metrics-panel tbody tr')).map((tr) => {
          const number = (col: string) => Number.parseInt(tr.querySelector(`td[data-col="${col}"]`)?.textContent ?? '', 10);
          return [tr.dataset.strategy!, { admitted: number('admitted'), deferred: number('deferred'), refused: number('refused') }] as const;
        }),
      );
    const expected = Object.fromEntries([...after].map(([strategy, { admitted, deferred, refused }]) => [strategy, { admitted, deferred, refused }]));
    const deadline = Date.now() + 10_000;
    let seen = Object.fromEntries(await shown());
    while (JSON.stringify(sorted(seen)) !== JSON.stringify(sorted(expected)) && Date.now() < deadline) {
      await page.waitForTimeout(250);
      seen = Object.fromEntries(await shown());
    }
    expect(sorted(seen)).toEqual(sorted(expected));
    // The event lane let one socket in, whatever the panel counts for it: never its deferred handshakes.
    expect(seen['jwt-authenticate-event']!.admitted - (before.get('jwt-authenticate-event')?.admitted ?? 0)).toBeLessThanOrEqual(1);
    await browser.screenshot(page, 'compare-counters');
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  it('a new login starts every lane afresh: no error code or answer left from before', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.locator('#login').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'status'), 'connected');
    await page.locator('#forge-all').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
    // An expired token tried everywhere: the cookie lane has none, and must not keep showing the forged answer.
    await page.locator('#expired-all').click();
    for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
    await waitForText(page, cell('session', 'refused'), /^expired → n\/a/);
    await page.locator('#logout').click();
    for (const lane of COMPARED) await waitForText(page, cell(lane, 'code'), 'token_revoked');
    // The logout revoked the user's credentials issued up to now, and a JWT's iat counts whole seconds:
    // a token issued in the same second is refused too. A person logs in again later than that.
    await page.waitForTimeout(1100);
    await page.locator('#login').click();
    for (const lane of COMPARED) {
      await waitForText(page, cell(lane, 'status'), 'connected');
      expect(await page.locator(cell(lane, 'code')).textContent()).toBe('—');
      expect(await page.locator(cell(lane, 'refused')).textContent()).toBe('—');
    }
    expect(browser.errors).toEqual([]);
    await page.close();
  });

  for (const width of [1400, 800, 390]) {
    it(`reads at ${width} px: no overlapping headers, no word broken mid-word, no sideways page, disabled buttons look disabled`, { timeout: 60_000 }, async () => {
      const page = await browser.newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(server.url);
      await page.locator(cell('jwt-auth', 'status')).waitFor({ state: 'attached' });
      const disabled = { secondary: await looks(page, '#forge-all'), primary: await looks(page, `${cell('jwt-auth', 'actions')} button`) };
      expect(await page.locator('#forge-all').isDisabled()).toBe(true);
      await page.locator('#login').click();
      for (const lane of COMPARED) await waitForText(page, cell(lane, 'status'), 'connected');
      await page.locator('#forge-all').click();
      for (const lane of COMPARED) await waitForText(page, cell(lane, 'refused'), 'forged → invalid_token');
      await page.locator('#expired-all').click();
      for (const lane of TOKEN_LANES) await waitForText(page, cell(lane, 'refused'), 'expired → token_expired');
      const enabled = { secondary: await looks(page, '#forge-all'), primary: await looks(page, `${cell('jwt-auth', 'actions')} button`) };
      // A disabled button must differ in what the eye sees first: its fill or its text colour.
      for (const kind of ['secondary', 'primary'] as const) {
        expect({ kind, background: disabled[kind].background, color: disabled[kind].color }).not.toEqual({
          kind,
          background: enabled[kind].background,
          color: enabled[kind].color,
        });
      }
      await page.waitForTimeout(2500); // the counters panel has polled
      await browser.screenshot(page, `compare-layout-${width}`);
      const facts = await layoutFacts(page);
      expect(facts.overlappingHeaders).toEqual([]);
      expect(facts.escapingHeaders).toEqual([]);
      expect(facts.brokenWords).toEqual([]);
      expect(facts.page.scrollWidth).toBeLessThanOrEqual(facts.page.innerWidth);
      expect(browser.errors).toEqual([]);
      await page.close();
    });
  }
});

interface Counted {
  admitted: number;
  deferred: number;
  refused: number;
}

/** The server's own handshake counters (sockpass's OpenTelemetry instruments, as /metrics.json sums them). */
async function serverCounters(): Promise<Map<string, Counted>> {
  const rows = (await (await fetch(`${server.url}/metrics.json`)).json()) as Array<{ strategy: string; outcomes: Record<string, number> }>;
  return new Map(
    rows.map(({ strategy, outcomes }) => {
      const { success = 0, deferred = 0, ...refusals } = outcomes;
      return [strategy, { admitted: success, deferred, refused: Object.values(refusals).reduce((a, b) => a + b, 0) }];
    }),
  );
}

function sorted<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

/** What a person sees of a button: its fill, text and border colours, opacity. */
async function looks(page: Page, selector: string) {
  return page.locator(selector).first().evaluate((el) => {
    const s = getComputedStyle(el);
    return { background: s.backgroundColor, color: s.color, border: s.borderTopColor, opacity: s.opacity };
  });
}

/**
 * Layout facts of the compare page as laid out now: header cells whose boxes
 * overlap, header text that spills out of its cell, words of the page's text
 * (outside code samples, which may wrap anywhere) that are split across two
 * lines, and the page's width against the viewport's.
 */
async function layoutFacts(page: Page) {
  return page.evaluate(() => {
    const heads = Array.from(document.querySelectorAll('#compare thead th'));
    const overlappingHeaders: string[] = [];
    heads.forEach((a, i) =>
      heads.slice(i + 1).forEach((b) => {
        const [ra, rb] = [a.getBoundingClientRect(), b.getBoundingClientRect()];
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 1 && h > 1) overlappingHeaders.push(`${a.textContent} / ${b.textContent}`);
      }),
    );
    const escapingHeaders: string[] = [];
    for (const th of heads) {
      const box = th.getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(th);
      for (const r of Array.from(range.getClientRects())) {
        if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)) {
          escapingHeaders.push(th.textContent ?? '');
          break;
        }
      }
    }
    const brokenWords: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode() as Text | null; node !== null; node = walker.nextNode() as Text | null) {
      if (node.parentElement?.closest('code, script, style') || node.parentElement?.offsetParent === null) continue;
      // A word here: letters between spaces, hyphens and slashes (a line may break after those).
      for (const m of node.data.matchAll(/[^\s\-/]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index!);
        range.setEnd(node, m.index! + m[0].length);
        const lines = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) brokenWords.push(m[0]);
      }
    }
    return { overlappingHeaders, escapingHeaders, brokenWords, page: { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth } };
  });
}
