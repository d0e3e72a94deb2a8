// `npm start` on the embedded defaults: runs package.json's own start command
// (the same entry file a user runs, importing the built package from dist/),
// reads the URL it prints, and checks in Chromium that the compare page loads
// and every strategy on it connects. `npm test` builds dist/ first.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMBINED, COMPARED } from '../../examples/compare/server.js';
import { launchBrowser, waitForText, type TestBrowser } from '../helpers/browser.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> };

let child: ChildProcess | undefined;
let browser: TestBrowser;
let output = '';

/** Starts `npm start`'s command (the build is `prestart`, done by `npm test`) and resolves with the URL it prints. */
function start(): Promise<string> {
  child = spawn('sh', ['-c', pkg.scripts.start!], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', TOKEN_TTL: '5', REDIS_URL: '', PATH: `${ROOT}node_modules/.bin:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 30 s:\n${output}`)), 30_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (data: Buffer) => (output += data.toString()));
    child!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start's command exited with ${code}:\n${output}`));
    });
  });
}

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  if (child?.pid !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM'); // the whole group: sh and the tsx/node it started
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  }
});

describe('npm start', () => {
  it(`runs ${pkg.scripts.start}, prints its URL, and every strategy on the compare page connects in Chromium`, { timeout: 60_000 }, async () => {
    expect(pkg.scripts.start).toContain('examples/compare/server.ts');
    expect(pkg.scripts.prestart).toMatch(/build/);
    const url = await start();
    expect(url).toMatch(/^http:\/\/localhost:\d+$/);

    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('#login').click();
    const lanes = await page.locator('#lanes th > code').allTextContents();
    expect(lanes).toEqual([...COMPARED, ...Object.keys(COMBINED)]);
    for (const lane of COMPARED) {
      await waitForText(page, `[data-cell="${lane}:status"]`, 'connected');
      await waitForText(page, `[data-cell="${lane}:user"]`, `Alice (id 1) via ${lane}`);
      await waitForText(page, `[data-cell="${lane}:messages"]`, /server: tick \d+/);
    }
    // The user the server saw stays on the page; the status may already say the mode-all socket's 5 s token expired.
    await waitForText(page, '[data-cell="cookie-and-token:user"]', 'Alice (id 1) via jwt-auth+session');
    await waitForText(page, '[data-cell="token-or-cookie:user"]', 'Alice (id 1) via jwt-auth');
    await browser.screenshot(page, 'npm-start-compare');
    expect(browser.errors).toEqual([]);
  });
});
