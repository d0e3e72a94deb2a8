/**
 * Found by the soak's look at revocation across dynamic namespaces: the
 * registry remembered the name of every namespace a handshake reached, even
 * unauthenticated ones, and `auth.revoke()` called `io.of(name)` for each
 * name it had no namespace object for. With a function-chosen dynamic
 * namespace and `cleanupEmptyChildNamespaces`, a child removed after its
 * last (quarantined) socket left was re-created by `io.of(name)` as a plain
 * static namespace — without the parent's middlewares, so the next client
 * connected to it with no credentials at all. And an attacker reaching many
 * names grew the list, and every revoke's work, without bound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'socket.io';
import { SockPass, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import type { Claims } from 'sockpass';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

const TEAM = /^\/team-\d+$/;

async function serve(): Promise<SockPass<Claims>> {
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
    .use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 300 }));
  server = await startServer(
    (io: Server) => {
      const teams = io.of((name, _auth, next) => next(null, TEAM.test(name)));
      teams.use(auth.middleware(['jwt-auth', 'event']));
      auth.onAuthenticated(teams, (socket) => socket.emit('welcome'));
    },
    { cleanupEmptyChildNamespaces: true },
  );
  return auth;
}

/** Whether `io` currently has a namespace of this name. Socket.IO has no public lookup; `_nsps` is what `of()` reads. */
function hasNamespace(io: Server, name: string): boolean {
  return (io as unknown as { _nsps: Map<string, unknown> })._nsps.has(name);
}

describe('revoke and dynamic namespaces', () => {
  it('does not re-create a cleaned-up child namespace without its middlewares', async () => {
    const auth = await serve();
    // A socket that never authenticates: quarantined, timed out, gone; the empty child is cleaned up.
    const idle = server.client('/team-1');
    await once(idle, 'unauthorized', 5000);
    await sleep(100);
    expect(hasNamespace(server.io, '/team-1')).toBe(false);

    await auth.revoke(server.io, { user: 'alice' });
    expect(hasNamespace(server.io, '/team-1')).toBe(false);

    // A client with no credentials is still quarantined and refused, not admitted to a bare namespace.
    const intruder = server.client('/team-1');
    const told = await once<{ data: { code: string } }>(intruder, 'unauthorized', 5000);
    expect(told.data.code).toBe('authentication_timeout');
    // And an authenticated client still gets the parent's handlers. Another user than the one revoked
    // above: since issue 12 the revoke is recorded, and alice's token of the same second is refused.
    const member = server.client('/team-1', { auth: { token: hs256({ sub: 'bob' }) } });
    await once(member, 'welcome', 5000);
  });

  it('does not re-create a child namespace that an authenticated socket left', async () => {
    const auth = await serve();
    const member = server.client('/team-2', { auth: { token: hs256() } });
    await once(member, 'welcome', 5000);
    member.disconnect();
    await sleep(100);
    expect(hasNamespace(server.io, '/team-2')).toBe(false);
    await auth.revoke(server.io, { user: 'alice' });
    expect(hasNamespace(server.io, '/team-2')).toBe(false);
  });

  it('keeps no trace of namespaces that only unauthenticated handshakes reached', async () => {
    const auth = await serve();
    for (let i = 0; i < 20; i++) expect(await codeOf(server.client(`/team-${100 + i}`, { auth: { token: 'forged' } }))).toBe('invalid_token');
    expect(auth.lifecycle.namespaces.size).toBe(0);
  });

  it('still reaches an authenticated socket in a dynamic child namespace', async () => {
    const auth = await serve();
    const member = server.client('/team-7', { auth: { token: hs256() } });
    await once(member, 'welcome', 5000);
    const revoked = once<{ code: string }>(member, 'auth:revoked', 5000);
    await auth.revoke(server.io, { user: 'alice' });
    expect((await revoked).code).toBe('token_revoked');
  });
});
