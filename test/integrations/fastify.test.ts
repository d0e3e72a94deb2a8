/**
 * examples/fastify on the real packages: Fastify 5, @fastify/cookie,
 * @fastify/session and a socket.io Server on Fastify's HTTP server. A user
 * logs in over HTTP, and a real socket.io-client connects with the
 * @fastify/session cookie (`<sid>.<signature>`, no `s:`) that the session
 * strategy reads through `fastifySessionReader`. Also runs the example as
 * its header says, with one command.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sign } from '@fastify/cookie';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { fastifySessionReader, sessionCookie, type SocketAuth } from 'sockpass';
import { createFastifyServer, type FastifyExample } from '../../examples/fastify/server.js';
import type { DemoUser } from '../../examples/shared/example-app.js';
import { codeOf, once, outcome } from '../helpers/server.js';
import { startExampleProcess, type ExampleProcess } from '../helpers/example-process.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-fastify';

let server: FastifyExample | undefined;
const clients: ClientSocket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

async function start(sessionTtl?: number): Promise<FastifyExample> {
  server = await createFastifyServer({ port: 0, host: '127.0.0.1', secret: SECRET, ...(sessionTtl ? { sessionTtl } : {}) });
  return server;
}

function client(url: string, cookie: string, origin: string | null = url): ClientSocket {
  const extraHeaders: Record<string, string> = { cookie };
  if (origin !== null) extraHeaders.origin = origin;
  const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders });
  clients.push(socket);
  return socket;
}

async function login(url: string, username = 'alice', password = 'wonderland'): Promise<{ cookie: string; me: DemoUser }> {
  const res = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sessionId='))?.split(';', 1)[0];
  expect(cookie).toBeDefined();
  const me = (await (await fetch(`${url}/me`, { headers: { cookie: cookie! } })).json()) as DemoUser;
  return { cookie: cookie!, me };
}

describe('examples/fastify (Fastify 5 + @fastify/session)', () => {
  it('a @fastify/session cookie, which has no s: prefix, yields the user the session names', async () => {
    const { url } = await start();
    const { cookie, me } = await login(url);
    expect(decodeURIComponent(cookie.split('=')[1]!).startsWith('s:')).toBe(false);
    const hello = await once<SocketAuth<DemoUser>>(client(url, cookie), 'hello');
    expect(me).toEqual({ id: '1', name: 'Alice', role: 'admin' });
    expect(hello.user).toEqual(me);
    expect(hello.strategy).toBe('session');
    expect(hello.session).toBe(decodeURIComponent(cookie.split('=')[1]!).split('.')[0]);
    expect(hello.expiresAt).not.toBeNull();
  });

  it('refuses a forged signature (invalid_token), an unknown session (session_not_found), a foreign Origin, a bad format', async () => {
    const { url } = await start();
    const { cookie } = await login(url);
    const value = decodeURIComponent(cookie.split('=')[1]!);
    const forged = `sessionId=${encodeURIComponent(value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A'))}`;
    expect(await codeOf(client(url, forged))).toBe('invalid_token');
    expect(await codeOf(client(url, `sessionId=${encodeURIComponent(sign('no-such-session', SECRET))}`))).toBe('session_not_found');
    expect(await codeOf(client(url, cookie, 'http://evil.example'))).toBe('origin_not_allowed');
    expect(await codeOf(client(url, 'sessionId=unsigned'))).toBe('credentials_bad_format');
    expect(await codeOf(client(url, `sessionId=${encodeURIComponent(`s:${value}`)}`))).toBe('invalid_token');
  });

  it('logout destroys the session and revokes its sockets', async () => {
    const { url } = await start();
    const { cookie } = await login(url);
    const socket = client(url, cookie);
    await once(socket, 'hello');
    const gone = once(socket, 'disconnect');
    const res = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } });
    await res.arrayBuffer();
    await gone;
    expect(await codeOf(client(url, cookie))).toBe('session_not_found');
  });

  it('a socket does not outlive its session', async () => {
    const { url } = await start(2);
    const { cookie } = await login(url);
    const socket = client(url, cookie);
    await once(socket, 'hello');
    const expired = await once<{ code: string }>(socket, 'auth:expired', 10_000);
    expect(expired.code).toBe('token_expired');
  });

  it('fastifySessionReader validates its options at configuration', () => {
    expect(() => fastifySessionReader({ secret: SECRET } as never)).toThrow(/store/);
    expect(() => fastifySessionReader({ store: { get() {} }, secret: '' })).toThrow(/secret/);
    expect(() =>
      sessionCookie({ reader: fastifySessionReader({ store: { get() {} }, secret: SECRET }), session: () => undefined, allowedOrigins: 'any', user: () => 1 }),
    ).toThrow(/not both/);
  });
});

describe('examples/fastify as one command', () => {
  let example: ExampleProcess | undefined;
  afterEach(async () => {
    await example?.stop();
    example = undefined;
  });

  it('`npx tsx examples/fastify/server.ts` prints its URL and admits a logged-in socket', { timeout: 45_000 }, async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    expect(existsSync(`${root}dist/index.js`), 'the example imports the built package: run `npx tsup` (npm test does)').toBe(true);
    example = await startExampleProcess('examples/fastify/server.ts');
    const { url } = example;
    const { cookie, me } = await login(url);
    const hello = await once<SocketAuth<DemoUser>>(client(url, cookie), 'hello', 10_000);
    expect(hello.user).toEqual(me);
    expect((await outcome(client(url, cookie, 'http://evil.example'))).connected).toBe(false);
  });
});
