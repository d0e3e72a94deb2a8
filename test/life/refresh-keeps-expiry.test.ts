/**
 * Issue 13: an in-band refresh to a token without `exp` must not turn an
 * expiring socket into one that never expires. By default the socket keeps
 * the deadline it had; `allowRefreshToRemoveExpiry` opts out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import { once, outcome, startServer, type TestServer } from '../helpers/server.js';
import { SECRET } from '../helpers/tokens.js';
import jwt from 'jsonwebtoken';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const noExp = () => jwt.sign({ sub: 'alice' }, SECRET, { algorithm: 'HS256' });

async function serve(options = {}) {
  const auth = new SockPass(options).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  server = await startServer((io) => io.use(auth.middleware('jwt')));
}

describe('a refresh to a token without exp', () => {
  it('keeps the deadline the socket had, and the socket is still cut at it', async () => {
    await serve();
    const exp = Math.floor(Date.now() / 1000) + 2;
    const client = server!.client('/', { auth: { token: jwt.sign({ sub: 'alice', exp }, SECRET, { algorithm: 'HS256' }) } });
    await outcome(client);
    const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: noExp() })) as { expiresAt: string | null };
    expect(reply.expiresAt).toBe(new Date(exp * 1000).toISOString());
    expect((await once<{ code: string }>(client, 'auth:expired', 5000)).code).toBe('token_expired');
  });

  it('removes the expiry only with allowRefreshToRemoveExpiry', async () => {
    await serve({ allowRefreshToRemoveExpiry: true });
    const exp = Math.floor(Date.now() / 1000) + 60;
    const client = server!.client('/', { auth: { token: jwt.sign({ sub: 'alice', exp }, SECRET, { algorithm: 'HS256' }) } });
    await outcome(client);
    const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: noExp() })) as { expiresAt: string | null };
    expect(reply.expiresAt).toBeNull();
  });
});
