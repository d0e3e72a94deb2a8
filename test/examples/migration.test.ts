/**
 * examples/migration: one server that takes the session cookie or a JWT.
 * Logs in over HTTP (one answer: a session cookie and a token), connects real
 * socket.io-clients with the cookie and with the token, and checks that both
 * get the same `socket.data.auth.user` as `req.user`. Also runs the example
 * the way its header says, as a child process with one command.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import type { SocketAuth } from 'sockpass';
import { createMigrationServer } from '../../examples/migration/server.js';
import type { DemoUser, ExampleServer } from '../../examples/shared/example-app.js';
import { codeOf, once } from '../helpers/server.js';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';

let server: ExampleServer;
const clients: ClientSocket[] = [];
beforeAll(async () => {
  server = await createMigrationServer({ port: 0, host: '127.0.0.1' });
});
afterAll(() => server?.close());
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

function client(options: { cookie?: string; token?: string; origin?: string } = {}): ClientSocket {
  const headers: Record<string, string> = {};
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.origin !== undefined) headers.origin = options.origin;
  const socket = connect(server.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: headers,
    ...(options.token !== undefined ? { auth: { token: options.token } } : {}),
  });
  clients.push(socket);
  return socket;
}

async function login(url = server.url, username = 'alice', password = 'wonderland') {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as { user: DemoUser; token: string; tokenExpiresAt: string };
  expect(res.status).toBe(200);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sockpass.sid='))?.split(';', 1)[0];
  expect(cookie).toBeDefined();
  const me = (await (await fetch(`${url}/me`, { headers: { cookie: cookie! } })).json()) as DemoUser;
  return { cookie: cookie!, token: body.token, me, body };
}

describe('examples/migration', () => {
  it('/login issues a session cookie and a token; each alone yields the same socket.data.auth.user as req.user', async () => {
    const { cookie, token, me, body } = await login();
    expect(me).toEqual({ id: '1', name: 'Alice', role: 'admin' });
    expect(body.user).toEqual(me);
    expect(new Date(body.tokenExpiresAt).getTime()).toBeGreaterThan(Date.now());

    const viaCookie = await once<SocketAuth<DemoUser>>(client({ cookie, origin: server.url }), 'hello');
    const viaToken = await once<SocketAuth<DemoUser>>(client({ token }), 'hello');
    expect(viaCookie.strategy).toBe('session');
    expect(viaToken.strategy).toBe('jwt-auth');
    expect(viaCookie.user).toEqual(me);
    expect(viaToken.user).toEqual(viaCookie.user);
  });

  it('a client sending both is decided by its token (the browser sends the cookie anyway)', async () => {
    const { cookie, token } = await login();
    const both = await once<SocketAuth<DemoUser>>(client({ cookie, token, origin: server.url }), 'hello');
    expect(both.strategy).toBe('jwt-auth');
    // ...and a bad token is refused, not papered over by the cookie: the first credential found decides.
    expect(await codeOf(client({ cookie, token: token.slice(0, -2) + 'xx', origin: server.url }))).toBe('invalid_token');
  });

  it('refuses the cookie from a foreign Origin, and a client with neither credential', async () => {
    const { cookie } = await login();
    expect(await codeOf(client({ cookie, origin: 'https://evil.example' }))).toBe('origin_not_allowed');
    expect(await codeOf(client())).toBe('credentials_required');
  });

  it('logging out cuts the sockets of both kinds', async () => {
    const { cookie, token } = await login();
    const viaCookie = client({ cookie, origin: server.url });
    const viaToken = client({ token });
    await Promise.all([once(viaCookie, 'hello'), once(viaToken, 'hello')]);
    const cut = Promise.all([once(viaCookie, 'disconnect'), once(viaToken, 'disconnect')]);
    const res = await fetch(`${server.url}/logout`, { method: 'POST', headers: { cookie } });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    await cut;
    expect(await codeOf(client({ cookie, origin: server.url }))).toBe('session_not_found');
  });
});

describe('examples/migration as one command', () => {
  let example: ExampleProcess | undefined;
  afterEach(async () => {
    await example?.stop();
    example = undefined;
  });

  it('`npx tsx examples/migration/server.ts` prints its URL and serves the page and /login', { timeout: 45_000 }, async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    expect(existsSync(`${root}dist/index.js`), 'the example imports the built package: run `npx tsup` (npm test does)').toBe(true);
    example = await startExampleProcess('examples/migration/server.ts');
    const { url } = example;
    const page = await (await fetch(url)).text();
    for (const id of ['user', 'status', 'error-code', 'strategy', 'connect-cookie', 'connect-token']) expect(page).toContain(`id="${id}"`);
    const { cookie, token, me } = await login(url);
    const viaToken = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token } });
    const viaCookie = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie, origin: url } });
    clients.push(viaToken, viaCookie);
    const [a, b] = await Promise.all([once<SocketAuth<DemoUser>>(viaToken, 'hello', 10_000), once<SocketAuth<DemoUser>>(viaCookie, 'hello', 10_000)]);
    expect(a.user).toEqual(me);
    expect(b.user).toEqual(me);
  });
});
