/**
 * A revoke reaches sockets on an orphaned dynamic namespace. With
 * `cleanupEmptyChildNamespaces`, Socket.IO drops a child namespace once its
 * `nsp.sockets` is empty; a quarantined socket is not in that Map, so it
 * keeps the dropped object alive, and a newcomer gets a new object of the
 * same name. The registry remembered one object per name, so a revoke
 * (even naming the namespace) never reached the orphan's sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/eventually.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('revoke on an orphaned dynamic namespace', () => {
  it('cuts a socket that authenticated on a child namespace Socket.IO already replaced', async () => {
    const auth = new SockPass()
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
      .use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.of(/^\/room-\d+$/).use(auth.middleware(['jwt-auth', 'event'])), { cleanupEmptyChildNamespaces: true });
    const io = server.io;

    // Bob holds the namespace open; Mallory waits in quarantine (out of nsp.sockets).
    const bob = server.client('/room-1', { auth: { token: hs256({ sub: 'bob' }) }, reconnection: false });
    expect(await codeOf(bob)).toBe('connected');
    const first = io._nsps.get('/room-1');
    const mallory = server.client('/room-1', { reconnection: false });
    expect(await codeOf(mallory)).toBe('connected');

    // Bob leaves: the child is empty as far as nsp.sockets tells, and Socket.IO drops it.
    bob.disconnect();
    await eventually(() => !io._nsps.has('/room-1'));

    // Mallory authenticates on the orphan; a newcomer gets a new namespace object of the same name.
    const authenticated = once(mallory, 'authenticated', 5000);
    mallory.emit('authenticate', { token: hs256({ sub: 'mallory' }) });
    await authenticated;
    const carol = server.client('/room-1', { auth: { token: hs256({ sub: 'carol' }) }, reconnection: false });
    expect(await codeOf(carol)).toBe('connected');
    expect(io._nsps.get('/room-1')).not.toBe(first);

    await auth.revoke(io, { user: 'mallory' }, { namespaces: ['/room-1'] });
    await eventually(() => !mallory.connected);
    expect(carol.connected).toBe(true);
  });
});
