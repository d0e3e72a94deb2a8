import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtQuery } from 'sockpass';
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
      });
    });
  });
}

describe('jwt-query (?token= on the handshake URL)', () => {
  it('admits a valid token, then strips it from handshake.query and the request URL', async () => {
    await serve();
    const token = hs256();
    const client = server.client('/', { query: { token, room: 'lobby' } });
    const seen = await once<{ user: { sub: string }; query: Record<string, string>; url: string }>(client, 'seen');
    expect(seen.user.sub).toBe('alice');
    expect(seen.query.token).toBeUndefined();
    expect(seen.query.room).toBe('lobby');
    expect(seen.url).not.toContain(token);
    expect(seen.url).not.toMatch(/[?&]token=/);
    expect(seen.url).toContain('room=lobby');
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

  it('warns once, at configuration, that proxies log URLs', async () => {
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
