/**
 * Issue 12: the registry kept every dynamic child namespace where a socket
 * ever authenticated (name and object) after Socket.IO's
 * `cleanupEmptyChildNamespaces` removed it, and every revoke walked them all.
 * The book now forgets namespaces that hold no socket once it doubles: it
 * holds at most max(64, twice the namespaces that held sockets at once).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'socket.io';
import { SockPass, jwtAuth } from 'sockpass';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

describe('the namespace book under short-lived dynamic namespaces', () => {
  it('stays at its bound after 2,000 dynamic namespaces came and went, and revoke still reaches a live one', async () => {
    const auth = new SockPass().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer(
      (io: Server) => {
        const rooms = io.of(/^\/room-\d+$/);
        rooms.use(auth.middleware('jwt'));
      },
      { cleanupEmptyChildNamespaces: true },
    );
    const token = hs256({ sub: 'alice' });
    for (let i = 0; i < 2000; i += 100) {
      const batch = Array.from({ length: 100 }, (_, j) => server.client(`/room-${i + j}`, { auth: { token } }));
      expect(await Promise.all(batch.map((c) => codeOf(c, 20_000)))).toEqual(Array(100).fill('connected'));
      await Promise.all(batch.map((c) => new Promise<void>((r) => (c.once('disconnect', () => r()), c.disconnect()))));
    }
    await new Promise((r) => setTimeout(r, 100));
    // The bound: 64, or twice the most namespaces that held sockets at once (100 here), never the 2,000 seen.
    expect(auth.lifecycle.namespaces.size).toBeLessThanOrEqual(200);
    const live = server.client('/room-5000', { auth: { token } });
    expect(await codeOf(live)).toBe('connected');
    const revoked = once<{ code: string }>(live, 'auth:revoked');
    await auth.revoke(server.io, { user: 'alice' });
    expect((await revoked).code).toBe('token_revoked');
  }, 120_000);
});
