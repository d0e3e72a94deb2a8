import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtQuery } from 'sockpass';
import { Manager } from 'socket.io-client';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import { rawHandshake } from '../helpers/raw-client.js';

let server: TestServer;
afterEach(() => server?.close());

async function serve() {
  const auth = new SockPass().use('jwt-query', jwtQuery({ secret: SECRET, algorithms: ['HS256'], warnUrlLogging: false }));
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-query'));
    auth.onAuthenticated(io, (socket) => {
      socket.emit('seen', {
        user: socket.data.auth.user,
        query: socket.handshake.query,
        url: socket.request.url,
        handshakeUrl: socket.handshake.url,
      });
    });
  });
}

describe('jwt-query (?token= on the handshake URL)', () => {
  it('admits a valid token, then strips it from handshake.query and the request URL', async () => {
    await serve();
    const token = hs256();
    const client = server.client('/', { query: { token, room: 'lobby' } });
    const seen = await once<{ user: { sub: string }; query: Record<string, string>; url: string; handshakeUrl: string }>(client, 'seen');
    expect(seen.user.sub).toBe('alice');
    expect(seen.query.token).toBeUndefined();
    expect(seen.query.room).toBe('lobby');
    expect(seen.url).not.toContain(token);
    expect(seen.url).not.toMatch(/[?&]token=/);
    expect(seen.url).toContain('room=lobby');
  });

  it('strips the token from socket.handshake.url too, which apps log', async () => {
    await serve();
    const token = hs256();
    const seen = await once<{ handshakeUrl: string }>(server.client('/', { query: { token, room: 'lobby' } }), 'seen');
    expect(seen.handshakeUrl).not.toContain(token);
    expect(seen.handshakeUrl).not.toMatch(/[?&]token=/);
    expect(seen.handshakeUrl).toContain('room=lobby');
  });

  it('authenticates every namespace multiplexed on one connection, though the token left handshake.query', async () => {
    const auth = new SockPass().use('jwt-query', jwtQuery({ secret: SECRET, algorithms: ['HS256'], warnUrlLogging: false }));
    const leaked: unknown[] = [];
    server = await startServer((io) => {
      for (const nsp of [io.of('/'), io.of('/second')]) {
        nsp.use(auth.middleware('jwt-query'));
        auth.onAuthenticated(nsp, (socket) => {
          leaked.push(socket.handshake.query.token, socket.handshake.url.includes('token='));
          socket.emit('seen', socket.data.auth.user);
        });
      }
    });
    const manager = new Manager(server.url, { query: { token: hs256() }, transports: ['websocket'], reconnection: false });
    const first = manager.socket('/');
    await once(first, 'seen');
    const second = manager.socket('/second');
    const answer = await Promise.race([once<{ sub: string }>(second, 'seen'), once<Error & { data?: { code?: string } }>(second, 'connect_error').then((e) => e.data?.code)]);
    expect(answer).toMatchObject({ sub: 'alice' });
    expect(leaked).toEqual([undefined, false, undefined, false]);
    first.disconnect();
    second.disconnect();
    manager._close?.();
  });

  it('shows strategies a query without a prototype, as documented', async () => {
    let proto: unknown = 'unset';
    const auth = new SockPass().use('probe', {
      authenticate: async (ctx) => {
        proto = Object.getPrototypeOf(ctx.query);
        return { kind: 'success', user: { id: '1' } };
      },
    });
    server = await startServer((io) => io.use(auth.middleware('probe')));
    expect(await codeOf(server.client('/', { query: { a: '1' } }))).toBe('connected');
    expect(proto).toBeNull();
  });

  it('refuses a repeated token parameter with credentials_bad_format', async () => {
    await serve();
    // socket.io-client cannot send a repeated key; the raw protocol client can.
    const token = hs256();
    const outcome = await rawHandshake(server.url, { query: `token=${token}&token=${token}` });
    expect(outcome).toMatchObject({ kind: 'refused', code: 'credentials_bad_format' });
    expect(await rawHandshake(server.url, { query: `token=${token}` })).toEqual({ kind: 'connected' });
  });

  it('passes (credentials_required) without a token, and refuses a bad one with invalid_token', async () => {
    await serve();
    expect(await codeOf(server.client('/'))).toBe('credentials_required');
    expect(await codeOf(server.client('/', { query: { token: 'abc.def.ghi' } }))).toBe('invalid_token');
  });

  it('warns at most once per strategy that proxies log URLs', async () => {
    const warnings: Array<{ code?: string }> = [];
    const listener = (w: Error & { code?: string }) => warnings.push(w);
    process.on('warning', listener);
    try {
      jwtQuery({ secret: SECRET, algorithms: ['HS256'] });
      jwtQuery({ secret: SECRET, algorithms: ['HS256'] });
      await new Promise((r) => setImmediate(r));
      const ours = warnings.filter((w) => w.code === 'SOCKPASS_TOKEN_IN_URL');
      expect(ours.length).toBeLessThanOrEqual(1);
    } finally {
      process.off('warning', listener);
    }
  });
});
