/**
 * Drives Debian's real Chromium (/usr/bin/chromium) through playwright-core for
 * the browser tests: headless, sandbox off (tests run as root in CI), a fresh
 * user-data dir per launch (removed on close), and screenshots into
 * test-artifacts/screenshots/. Every page's uncaught errors are collected so a
 * test can assert that a page ran cleanly.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
export const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../dist/browser/sockpass-client.js', import.meta.url));

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab; its page errors and console errors land in `errors`. */
  newPage(): Promise<Page>;
  /** Page errors and console errors of every tab, as text. */
  errors: string[];
  /** Saves a full-page screenshot as test-artifacts/screenshots/<name>.png and returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  if (!existsSync(BUNDLE)) throw new Error('dist/browser/sockpass-client.js is missing: run `npm run build` first');
  mkdirSync(SCREENSHOTS, { recursive: true });
  const userDataDir = await mkdtemp(join(tmpdir(), 'sockpass-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(15_000);
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const url = msg.location().url;
      // A long-poll in flight when its session closes (refused, expired, disconnected) gets
      // Engine.IO's 400 "Session ID unknown"; Chromium logs it, the client handles it.
      if (/status of 400/.test(msg.text()) && /[?&]transport=polling&.*\bsid=/.test(url)) return;
      errors.push(`console: ${msg.text()} (${url})`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  console.log(`browser screenshots: ${SCREENSHOTS}`);
  return {
    context,
    errors,
    async newPage() {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    async screenshot(page, name) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the element's text matches; the wait is generous, the match exact. */
export async function waitForText(page: Page, selector: string, expected: string | RegExp, timeout = 15_000): Promise<string> {
  const locator = page.locator(selector);
  await locator.waitFor({ state: 'attached', timeout });
  const started = Date.now();
  for (;;) {
    const text = (await locator.textContent()) ?? '';
    if (typeof expected === 'string' ? text === expected : expected.test(text)) return text;
    if (Date.now() - started > timeout) {
      throw new Error(`${selector} is ${JSON.stringify(text)}, expected ${String(expected)} within ${timeout} ms`);
    }
    await page.waitForTimeout(100);
  }
}

export interface ExamplePageExpectations {
  /** Name of the screenshot files. */
  name: string;
  /** Strategy name the server reports in `socket.data.auth.strategy`. */
  strategy: string;
  /** Code the "forged" button must show. */
  forgedCode: string;
  /** Code the "expired" button must show; undefined when the page has no such button. */
  expiredCode?: string;
  /** Wait for this many more `auth:refresh` round trips; the socket id must stay and the expiry move. */
  refreshes?: number;
}

/**
 * Drives one single-strategy example page (examples/shared/public/demo.js):
 * logs in as alice, sees the user and a live message, a refused forged (and
 * expired) credential with its code, and optionally refreshes on one socket.
 */
export async function exerciseExamplePage(browser: TestBrowser, page: Page, url: string, expect: ExamplePageExpectations): Promise<void> {
  await page.goto(url);
  await page.locator('#login').click();
  await waitForText(page, '#status', 'connected');
  await waitForText(page, '#user', `Alice (id 1, admin) via ${expect.strategy}`);
  await waitForText(page, '#messages', /server: tick \d+/);
  await page.locator('#say').fill('hello from chromium');
  await page.locator('#send').click();
  await waitForText(page, '#messages', /Alice: hello from chromium/);
  await browser.screenshot(page, `${expect.name}-connected`);

  await page.locator('#forge').click();
  await waitForText(page, '#refused-code', expect.forgedCode);
  if (expect.expiredCode !== undefined) {
    await page.locator('#expired').click();
    await waitForText(page, '#refused-code', expect.expiredCode);
  }
  await browser.screenshot(page, `${expect.name}-refused`);

  if (expect.refreshes !== undefined) {
    const socketId = await page.locator('#socket-id').textContent();
    // Read together (one task of the page), so no refresh lands between the two.
    const { done, expiresBefore } = await page.evaluate(() => ({
      done: Number(document.getElementById('refreshes')!.textContent),
      expiresBefore: Date.parse(document.getElementById('expires')!.dataset.at ?? ''),
    }));
    await waitForText(page, '#refreshes', String(done + expect.refreshes), 30_000);
    await waitForText(page, '#status', 'connected');
    const after = await page.locator('#socket-id').textContent();
    if (after !== socketId) throw new Error(`socket id changed across refresh: ${socketId} → ${after}`);
    // The server's answer moved the expiry (tokens are stamped in whole seconds).
    const expiresAfter = Date.parse((await page.locator('#expires').getAttribute('data-at')) ?? '');
    if (!(expiresAfter >= expiresBefore + 1000)) {
      throw new Error(`expiry did not move on refresh: ${new Date(expiresBefore).toISOString()} → ${expiresAfter}`);
    }
    await browser.screenshot(page, `${expect.name}-refreshed`);
  }
}
