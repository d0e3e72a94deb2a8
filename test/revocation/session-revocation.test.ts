/**
 * `revoke({ user })` and cookie sockets: a session has no `iat`, so the
 * session strategy's `issuedAt` (the app's own login stamp) decides whether a
 * session predates the revocation. Real express-session + passport login over
 * HTTP, real socket.io-clients with the real cookie.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, sessionCookie, type SessionCookieOptions } from 'sockpass';
import { codeOf, once, sleep } from '../helpers/server.js';
import { APP_ORIGIN, findUser, startSessionApp, type SessionApp, type TestUser } from '../helpers/session-app.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let app: SessionApp | undefined;
let auth: SockPass<TestUser> | undefined;
afterEach(async () => {
  await app?.server.close();
  app = auth = undefined;
});

async function serve(strategy: Partial<SessionCookieOptions<TestUser>> = {}, chain: 'session' | 'token and cookie' = 'session'): Promise<SessionApp> {
  app = await startSessionApp({
    setup(io, { sessionMiddleware, passport }) {
      auth = new SockPass<TestUser>()
        .use('session', sessionCookie<TestUser>({ session: sessionMiddleware, passport, allowedOrigins: [APP_ORIGIN], ...strategy }))
        .use('jwt', jwtAuth<TestUser>({ secret: SECRET, algorithms: ['HS256'], user: (claims) => findUser(String(claims.sub))! }));
      io.use(chain === 'session' ? auth.middleware('session') : auth.middleware(['jwt', 'session'], { mode: 'all' }));
    },
  });
  return app;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

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

  it('mode all: judges a token-and-cookie socket by its oldest credential, and by unknown age when the session has none', async () => {
    // Without issuedAt the session's age is unknown: the token's fresh iat must not speak for it.
    let web = await serve({}, 'token and cookie');
    let login = await web.login('alice');
    await auth!.revoke(web.server.io, { user: login.me.id });
    await sleep(1100);
    let fresh = hs256({ sub: login.me.id, iat: nowSeconds() });
    expect(await codeOf(web.cookieClient((await web.login('alice')).cookie, { auth: { token: fresh } }))).toBe('token_revoked');
    await app!.server.close();

    // With issuedAt, both credentials issued after the revoke: admitted; a token from before it: refused.
    web = await serve({ issuedAt: (s) => s.loggedInAt as number | undefined }, 'token and cookie');
    login = await web.login('alice');
    const old = hs256({ sub: login.me.id, iat: nowSeconds() - 5 });
    await auth!.revoke(web.server.io, { user: login.me.id });
    await sleep(1100);
    const after = await web.login('alice');
    fresh = hs256({ sub: login.me.id, iat: nowSeconds() });
    expect(await codeOf(web.cookieClient(after.cookie, { auth: { token: old } }))).toBe('token_revoked');
    expect(await codeOf(web.cookieClient(after.cookie, { auth: { token: fresh } }))).toBe('connected');
  });
});
