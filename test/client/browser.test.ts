// sockpass/client in real Chromium: the helpers bundled for the browser (esbuild,
// platform "browser", as tsup does for dist/browser — a Node built-in would fail
// the build) and run in a page against a real Socket.IO server.
import { build } from 'esbuild';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, jwtQuery } from 'sockpass';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
let browser: TestBrowser;
let bundle: string;

beforeAll(async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../../src/client/index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  bundle = result.outputFiles[0]!.text;
  const verify = { secret: SECRET, algorithms: ['HS256'] as ['HS256'] };
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth(verify))
    .use('jwt-query', jwtQuery({ ...verify, warnUrlLogging: false }))
    .use('jwt-header', jwtHeader(verify))
    .use('jwt-event', jwtAuthenticateEvent(verify));
  server = await startServer(
    (io) => {
      io.use(auth.middleware(['jwt-auth', 'jwt-query', 'jwt-header']));
      io.of('/event').use(auth.middleware('jwt-event'));
      auth.onAuthenticated(io, (socket) => socket.emit('seen', socket.data.auth.strategy));
      auth.onAuthenticated(io.of('/event'), (socket) => socket.emit('seen', socket.data.auth.strategy));
    },
    {},
    ((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sockpass client</title>');
      }
    }) as never,
  );
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('sockpass/client in Chromium', () => {
  it('has no Node built-in in the browser bundle', () => {
    expect(bundle).not.toMatch(/from ["']node:/);
    expect(bundle).toContain('connectWithToken');
  });

  it('connects with the token in auth, query and header, authenticates with the event, and reads refusal codes', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(server.url + '/');
    const tokens = { good: hs256({ sub: 'carol' }), expired: hs256({ exp: Math.floor(Date.now() / 1000) - 30 }), forged: hs256({}, {}, 'a-different-secret-a-different-secret') };
    const results = (await page.evaluate(`(${PAGE_SCRIPT})(${JSON.stringify(tokens)})`)) as Record<string, string>;
    expect(results).toEqual({
      auth: 'jwt-auth',
      query: 'jwt-query',
      header: 'jwt-header',
      expired: 'token_expired',
      event: 'jwt-event',
      forged: 'invalid_token',
    });
    expect(browser.errors).toEqual([]);
  });
});

/**
 * Runs in the page, as plain browser JavaScript (kept out of Vite's transform):
 * the helpers from the bundle, Socket.IO's own browser client for the event flow.
 */
const PAGE_SCRIPT = `async (t) => {
  const client = await import('/client.js');
  const { io } = await import('/socket.io/socket.io.esm.min.js');
  const base = { transports: ['websocket'], reconnection: false, forceNew: true };
  const seen = (socket) => new Promise((resolve) => socket.once('seen', resolve));
  const out = {};
  for (const via of ['auth', 'query']) {
    const s = client.connectWithToken(location.origin, { token: t.good, via, ...base });
    out[via] = await seen(s);
    s.disconnect();
  }
  // Browsers send extraHeaders only with polling.
  const header = client.connectWithToken(location.origin, { token: t.good, via: 'header', ...base, transports: ['polling'] });
  out.header = await seen(header);
  header.disconnect();

  const expired = client.connectWithToken(location.origin, { token: t.expired, ...base });
  out.expired = await new Promise((resolve) => expired.once('connect_error', (err) => resolve(client.authErrorCode(err))));

  const event = io(location.origin + '/event', base);
  const whoami = seen(event);
  await client.authenticateWithEvent(event, t.good);
  out.event = await whoami;
  event.disconnect();

  const forged = io(location.origin + '/event', base);
  out.forged = await client.authenticateWithEvent(forged, t.forged).then(() => 'authenticated', (err) => client.authErrorCode(err));
  return out;
}`;
