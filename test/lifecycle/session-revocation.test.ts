/**
 * `revoke({ user })` and cookie sockets: a session has no `iat`, so the
 * session strategy's `issuedAt` (the app's own login stamp) decides whether a
 * session predates the revocation. Real express-session + passport login over
 * HTTP, real socket.io-clients with the real cookie.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, sessionCookie, type SessionCookieOptions } from 'sockpass';
import { codeOf, once, sleep } from '../helpers/server.js';
import { APP_ORIGIN, startSessionApp, type SessionApp, type TestUser } from '../helpers/session-app.js';

let app: SessionApp | undefined;
let auth: SockPass<TestUser> | undefined;
afterEach(async () => {
  await app?.server.close();
  app = auth = undefined;
});

async function serve(strategy: Partial<SessionCookieOptions<TestUser>> = {}): Promise<SessionApp> {
  app = await startSessionApp({
    setup(io, { sessionMiddleware, passport }) {
      auth = new SockPass<TestUser>().use(
        'session',
        sessionCookie<TestUser>({ session: sessionMiddleware, passport, allowedOrigins: [APP_ORIGIN], ...strategy }),
      );
      io.use(auth.middleware('session'));
    },
  });
  return app;
}

describe('revoke({ user }) and session cookies', () => {
  it('with issuedAt: refuses the sessions logged in before the revoke with token_revoked, admits the next login', async () => {
    const web = await serve({ issuedAt: (s) => s.loggedInAt as number | undefined });
    const before = await web.login('alice');
    const client = web.cookieClient(before.cookie);
    expect(await codeOf(client)).toBe('connected');
    const cut = once(client, 'disconnect');
    await auth!.revoke(web.server.io, { user: before.me.id });
    await cut;
    // The old session still exists in the store: the ledger, not the store, refuses it.
    expect(await codeOf(web.cookieClient(before.cookie))).toBe('token_revoked');
    await sleep(5);
    const after = await web.login('alice');
    expect(await codeOf(web.cookieClient(after.cookie))).toBe('connected');
    // Another user is not touched.
    const bob = await web.login('bob', 'builder');
    expect(await codeOf(web.cookieClient(bob.cookie))).toBe('connected');
  });

  it('without issuedAt: a session has unknown age, so every session of the revoked user is refused while the revocation lives', async () => {
    const web = await serve();
    const before = await web.login('alice');
    await auth!.revoke(web.server.io, { user: before.me.id });
    await sleep(5);
    const after = await web.login('alice');
    expect(await codeOf(web.cookieClient(after.cookie))).toBe('token_revoked');
  });

  it('ignores an issuedAt that is not a time (unknown age: refused after a user revoke)', async () => {
    const web = await serve({ issuedAt: () => Number.NaN });
    const before = await web.login('alice');
    await auth!.revoke(web.server.io, { user: before.me.id });
    expect(await codeOf(web.cookieClient(before.cookie))).toBe('token_revoked');
  });
});
