/**
 * examples/nest on a real Nest application (@nestjs/core, @nestjs/websockets,
 * @nestjs/platform-socket.io 12): sockpass's middleware installed in the
 * gateway's afterInit refuses a bad handshake, SockPassGuard refuses a
 * message through Nest's exception flow with sockpass's code, @WsUser() and
 * @WsAuth() hand the handler the user and socket.data.auth, a socket is cut
 * at its token's expiry, and a revoke through the app's route cuts the
 * user's sockets and refuses the same token afterwards.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { createNestServer, type NestExample } from '../../examples/nest/server.js';
import type { DemoUser } from '../../examples/shared/example-app.js';
import { codeOf, once, outcome } from '../helpers/server.js';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';

let server: NestExample | undefined;
const clients: ClientSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

async function start(tokenTtl?: number): Promise<NestExample> {
  server = await createNestServer({ port: 0, host: '127.0.0.1', ...(tokenTtl ? { tokenTtl } : {}) });
  return server;
}

function client(url: string, token?: string): ClientSocket {
  const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(token === undefined ? {} : { auth: { token } }) });
  clients.push(socket);
  return socket;
}

async function login(url: string, username: string, password: string): Promise<{ token: string; user: DemoUser }> {
  const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; user: DemoUser };
}

const alice = (url: string) => login(url, 'alice', 'wonderland');
const bob = (url: string) => login(url, 'bob', 'builder');

describe('examples/nest (a real Nest application)', () => {
  it('refuses a handshake without a token, or with a forged one, before any gateway handler', async () => {
    const { url, tokens } = await start();
    expect(await codeOf(client(url))).toBe('credentials_required');
    expect(await codeOf(client(url, 'not.a.token'))).toBe('invalid_token');
    expect(await codeOf(client(url, tokens.issueExpired({ id: '1', name: 'Alice', role: 'admin' }).token))).toBe('token_expired');
  });

  it('@WsUser() and @WsAuth() give the handler the user and socket.data.auth', async () => {
    const { url } = await start();
    const { token, user } = await alice(url);
    const socket = client(url, token);
    await once(socket, 'connect');
    expect(await socket.emitWithAck('whoami')).toEqual(user);
    const session = (await socket.emitWithAck('session')) as { strategy: string; expiresAt: string };
    expect(session.strategy).toBe('jwt-auth');
    expect(new Date(session.expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('SockPassGuard refuses a message its policy does not allow: Nest exception with the sockpass code, ack forbidden, handler not run', async () => {
    const { url } = await start();
    const member = client(url, (await bob(url)).token);
    await once(member, 'connect');
    const exception = once<{ status: string; code: string; event: string; message: string }>(member, 'exception');
    const forbidden = once<{ event: string; code: string }>(member, 'auth:forbidden');
    const ack = await member.emitWithAck('admin:announce', 'hello');
    expect(ack).toEqual({ error: { code: 'forbidden', message: 'not allowed to send admin:announce', action: 'stop' } });
    expect(await exception).toEqual({ status: 'error', code: 'forbidden', action: 'stop', event: 'admin:announce', message: 'not allowed to send admin:announce' });
    expect((await forbidden).code).toBe('forbidden');

    const admin = client(url, (await alice(url)).token);
    await once(admin, 'connect');
    expect(await admin.emitWithAck('admin:announce', 'hello')).toEqual({ announced: 'hello', by: 'Alice' });
    // Messages the policy has no rule for pass for any authenticated socket.
    expect(await member.emitWithAck('say', 'hi')).toEqual({ ok: true });
  });

  it('cuts a socket when its token expires', async () => {
    const { url } = await start(2);
    const socket = client(url, (await alice(url)).token);
    await once(socket, 'connect');
    const expired = once<{ code: string }>(socket, 'auth:expired', 10_000);
    const gone = once<string>(socket, 'disconnect', 10_000);
    expect((await expired).code).toBe('token_expired');
    expect(await gone).toBe('io server disconnect');
  });

  it('a revoke through the app cuts the user on the gateway and refuses the same token again', async () => {
    const { url } = await start();
    const admin = await alice(url);
    const { token } = await bob(url);
    const socket = client(url, token);
    await once(socket, 'connect');
    const gone = once<string>(socket, 'disconnect');
    const res = await fetch(`${url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
      body: JSON.stringify({ user: '2' }),
    });
    expect(res.status).toBe(201);
    expect(await gone).toBe('io server disconnect');
    expect(await codeOf(client(url, token))).toBe('token_revoked');
    // A member cannot revoke.
    const denied = await fetch(`${url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"user":"1"}' });
    expect(denied.status).toBe(403);
  });
});

describe('examples/nest as one command', () => {
  let example: ExampleProcess | undefined;
  afterEach(async () => {
    await example?.stop();
    example = undefined;
  });

  it('`npx tsx examples/nest/server.ts` prints its URL and admits a socket with a token from /login', { timeout: 45_000 }, async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    expect(existsSync(`${root}dist/nest.js`), 'the example imports the built package: run `npx tsup` (npm test does)').toBe(true);
    example = await startExampleProcess('examples/nest/server.ts');
    const { url } = example;
    const { token, user } = await alice(url);
    const socket = client(url, token);
    await once(socket, 'connect', 10_000);
    expect(await socket.emitWithAck('whoami')).toEqual(user);
    expect((await outcome(client(url))).connected).toBe(false);
  });
});

describe('sockpass/nest as published', () => {
  it('loads from dist as ESM and as CommonJS, and the main entry loads nothing of Nest', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const { createRequire } = await import('node:module');
    const require = createRequire(`${root}package.json`);
    const cjs = require(`${root}dist/nest.cjs`) as Record<string, unknown>;
    const esm = (await import(`${root}dist/nest.js`)) as Record<string, unknown>;
    for (const name of ['SockPassGuard', 'SockPassModule', 'SOCKPASS', 'WsUser', 'WsAuth', 'installSockPass', 'SockPassWsException']) {
      expect(typeof cjs[name], name).not.toBe('undefined');
      expect(typeof esm[name], name).not.toBe('undefined');
    }
    const { readFileSync } = await import('node:fs');
    for (const file of ['dist/index.js', 'dist/index.cjs']) expect(readFileSync(`${root}${file}`, 'utf8')).not.toContain('@nestjs/');
  });
});
