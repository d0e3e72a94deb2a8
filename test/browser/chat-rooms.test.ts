// examples/chat-rooms in Chromium: Bob (member, chat:general) joins the lobby
// and chat:general, is refused chat:secret, admin and an unlisted room, and
// never receives a message of those rooms; Alice (admin, chat:*) is admitted
// to all three, then drops her capabilities with an in-band refresh and is
// taken out of her chat:* rooms at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createChatRoomsServer } from '../../examples/chat-rooms/server.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

async function connectAs(page: Page, url: string, who: 'alice:wonderland' | 'bob:builder'): Promise<void> {
  await page.goto(url);
  await page.selectOption('#who', who);
  await page.click('#connect');
  await page.waitForSelector('#state[data-state="connected"]');
}

async function verdict(page: Page, room: string, expected: string): Promise<void> {
  await page.waitForSelector(`[data-room="${room}"][data-verdict="${expected}"]`);
}

const messages = (page: Page) => page.$$eval('#messages li', (items) => items.map((li) => li.textContent ?? ''));

describe('examples/chat-rooms in Chromium', () => {
  it('admits each user to exactly the rooms the policy allows, and takes them away with the capability', { timeout: 60_000 }, async () => {
    const server = await createChatRoomsServer({ port: 0, host: '127.0.0.1' });
    try {
      const bob = await browser.newPage();
      await connectAs(bob, server.url, 'bob:builder');
      await bob.click('[data-join="chat:general"]');
      await verdict(bob, 'chat:general', 'ok');
      for (const room of ['chat:secret', 'admin', 'unlisted']) {
        await bob.click(`[data-join="${room}"]`);
        await verdict(bob, room, 'forbidden');
        expect(await bob.textContent(`[data-room="${room}"]`)).toBe('forbidden (stop)');
      }

      const alice = await browser.newPage();
      await connectAs(alice, server.url, 'alice:wonderland');
      for (const room of ['chat:general', 'chat:secret', 'admin']) {
        await alice.click(`[data-join="${room}"]`);
        await verdict(alice, room, 'ok');
      }
      // Wait for a tick in every room Alice is in, so Bob's page has had its chance to receive them too.
      await alice.waitForFunction(() => {
        const text = Array.from(document.querySelectorAll('#messages li')).map((li) => li.textContent ?? '');
        return ['[admin]', '[chat:secret]', '[chat:general]', '[lobby]'].every((room) => text.some((t) => t.startsWith(room)));
      });
      await bob.waitForFunction(() => Array.from(document.querySelectorAll('#messages li')).some((li) => li.textContent?.startsWith('[chat:general]')));
      const seenByBob = await messages(bob);
      expect(seenByBob.some((t) => t.startsWith('[lobby]'))).toBe(true);
      expect(seenByBob.filter((t) => /^\[(admin|chat:secret|unlisted)\]/.test(t))).toEqual([]);
      await browser.screenshot(bob, 'chat-rooms-bob');

      // In-band refresh to a token without `rooms`: out of chat:* at once, still in the lobby and admin (by role).
      await alice.click('#drop');
      await verdict(alice, 'chat:general', 'left');
      await verdict(alice, 'chat:secret', 'left');
      expect(await alice.getAttribute('[data-room="admin"]', 'data-verdict')).toBe('ok');
      expect(await alice.getAttribute('#state', 'data-state')).toBe('connected');
      await browser.screenshot(alice, 'chat-rooms-alice');
      await bob.close();
      await alice.close();
      expect(browser.errors).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
