/**
 * The `session` strategy on express-session's MemoryStore: a real express app
 * logs users in with passport-local over HTTP, and real socket.io-clients
 * connect with the real signed cookie it set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import session from 'express-session';
import passport from 'passport';
import { SockPass, jwtAuth, sessionCookie, type AuthResult, type SessionCookieOptions, type SocketAuth, type Strategy } from 'sockpass';
import { codeOf, once, outcome, sleep, type ConnectError } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import {
  APP_ORIGIN,
  SESSION_SECRET,
  findUser,
  signedCookieFor,
  sidOf,
  startSessionApp,
  tamperSignature,
  type SessionApp,
  type SessionAppOptions,
  type TestUser,
} from '../helpers/session-app.js';

let app: SessionApp | undefined;
afterEach(async () => {
  await app?.server.close();
  app = undefined;
});

interface ServeOptions extends Omit<SessionAppOptions, 'setup'> {
  strategy?: Partial<SessionCookieOptions<TestUser>>;
  chain?: string[];
  /** Receives every result the session strategy returns, for revalidation tests. */
  spy?: (result: AuthResult<TestUser>) => void;
  revalidateInterval?: number;
}

async function serve(options: ServeOptions = {}): Promise<SessionApp> {
  const { strategy, chain, spy, revalidateInterval, ...appOptions } = options;
  app = await startSessionApp({
    ...appOptions,
    setup(io, { sessionMiddleware, passport: authenticator }) {
      const inner = sessionCookie<TestUser>({ session: sessionMiddleware, passport: authenticator, allowedOrigins: [APP_ORIGIN], ...strategy });
      const observed: Strategy<TestUser> = {
        async authenticate(ctx) {
          const result = await inner.authenticate(ctx);
          spy?.(result);
          return result;
        },
      };
      const auth = new SockPass<TestUser>({ revalidateInterval: revalidateInterval ?? 0 })
        .use('session', observed)
        .use('jwt-auth', jwtAuth<TestUser>({ secret: SECRET, algorithms: ['HS256'], user: (claims) => findUser(String(claims.sub))! }));
      io.use(auth.middleware(chain ?? ['session']));
      auth.onAuthenticated(io, (socket) => socket.emit('whoami', socket.data.auth));
    },
  });
  return app;
}

describe('session cookie on MemoryStore', () => {
  it('gives the socket the same user as req.user over HTTP, with the session id', async () => {
    const web = await serve();
    const { cookie, me } = await web.login();
    const client = web.cookieClient(cookie);
    const auth = await once<SocketAuth<TestUser>>(client, 'whoami');
    expect(me).toEqual({ id: '1', username: 'alice', name: 'Alice' });
    expect(auth.user).toEqual(me);
    expect(auth.strategy).toBe('session');
    expect(auth.session).toBe(sidOf(cookie));
    expect(auth.expiresAt).toBeNull(); // no maxAge: a browser-session cookie
  });

  it('takes expiresAt from the session cookie expiry', async () => {
    const web = await serve({ cookie: { maxAge: 60_000 } });
    const { cookie } = await web.login();
    const auth = await once<SocketAuth<TestUser>>(web.cookieClient(cookie), 'whoami');
    const expiresAt = new Date(auth.expiresAt!).getTime();
    expect(expiresAt).toBeGreaterThan(Date.now() + 55_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('refuses a cookie whose signature was tampered with, with invalid_token', async () => {
    const web = await serve();
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(tamperSignature(cookie)))).toBe('invalid_token');
  });

  it('refuses a validly signed cookie for a session that does not exist, with session_not_found', async () => {
    const web = await serve();
    expect(await codeOf(web.cookieClient(signedCookieFor('no-such-session-id')))).toBe('session_not_found');
  });

  it('refuses a cookie that is not a signed session id, with credentials_bad_format', async () => {
    const web = await serve();
    expect(await codeOf(web.cookieClient('connect.sid=plain-unsigned-value'))).toBe('credentials_bad_format');
  });

  it('after logout: the session the browser now holds has no user (credentials_required), the old one is gone (session_not_found)', async () => {
    const web = await serve();
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(cookie))).toBe('connected');
    const after = await web.logout(cookie);
    expect(after).toBeDefined();
    expect(sidOf(after!)).not.toBe(sidOf(cookie)); // passport 0.7 regenerates the session on logout
    expect(await codeOf(web.cookieClient(after!))).toBe('credentials_required');
    expect(await codeOf(web.cookieClient(cookie))).toBe('session_not_found');
  });

  it('refuses a session nobody logged into with credentials_required', async () => {
    const web = await serve();
    expect(await codeOf(web.cookieClient(await web.visit()))).toBe('credentials_required');
  });

  it('an expired session: MemoryStore deletes it when read, so the handshake sees session_not_found', async () => {
    // MemoryStore prunes expired sessions in get(), so nothing is left to tell "expired" from "unknown";
    // session_expired needs a store that still returns the record (see test/strategies/session-redis.test.ts).
    const web = await serve({ cookie: { maxAge: 800 } });
    const { cookie } = await web.login();
    await sleep(1000);
    expect(await codeOf(web.cookieClient(cookie))).toBe('session_not_found');
  });

  it('disconnects a connected socket when its session expires', async () => {
    const web = await serve({ cookie: { maxAge: 1500 } });
    const { cookie } = await web.login();
    const client = web.cookieClient(cookie);
    const auth = await once<SocketAuth<TestUser>>(client, 'whoami');
    const expiresAt = new Date(auth.expiresAt!).getTime();
    const expired = once<{ code: string }>(client, 'auth:expired', 5000);
    await once(client, 'disconnect', 5000);
    const lateBy = Date.now() - expiresAt;
    expect((await expired).code).toBeTypeOf('string');
    expect(lateBy).toBeGreaterThanOrEqual(-50);
    expect(lateBy).toBeLessThan(1000);
  });

  describe('Origin (cross-site WebSocket hijacking)', () => {
    it('refuses a valid cookie from a foreign Origin with origin_not_allowed, before reading the store', async () => {
      let reads = 0;
      const store = new session.MemoryStore();
      const get = store.get.bind(store);
      store.get = (sid, cb) => {
        reads++;
        get(sid, cb);
      };
      const web = await serve({ store });
      const { cookie } = await web.login();
      const before = reads;
      expect(await codeOf(web.cookieClient(cookie, { origin: 'https://evil.example' }))).toBe('origin_not_allowed');
      expect(await codeOf(web.cookieClient(cookie, { origin: 'null' }))).toBe('origin_not_allowed');
      expect(await codeOf(web.cookieClient(cookie, { origin: 'http://app.example.evil.example' }))).toBe('origin_not_allowed');
      expect(reads).toBe(before);
    });

    it('compares origins normalized (case, default port)', async () => {
      const web = await serve();
      const { cookie } = await web.login();
      expect(await codeOf(web.cookieClient(cookie, { origin: 'HTTP://App.Example:80' }))).toBe('connected');
      expect(await codeOf(web.cookieClient(cookie, { origin: 'http://app.example:8080' }))).toBe('origin_not_allowed');
    });

    it('admits a cookie handshake without Origin (non-browser client) unless requireOrigin is set', async () => {
      const web = await serve();
      const { cookie } = await web.login();
      expect(await codeOf(web.cookieClient(cookie, { origin: null }))).toBe('connected');
      await web.server.close();
      const strict = await serve({ strategy: { requireOrigin: true } });
      const fresh = await strict.login();
      expect(await codeOf(strict.cookieClient(fresh.cookie, { origin: null }))).toBe('origin_not_allowed');
      expect(await codeOf(strict.cookieClient(fresh.cookie))).toBe('connected');
    });

    it('checks no Origin for handshakes without the cookie: a token client from anywhere still connects', async () => {
      const web = await serve({ chain: ['session', 'jwt-auth'] });
      const client = web.server.client('/', { auth: { token: hs256({ sub: '2' }) }, extraHeaders: { origin: 'https://elsewhere.example' } });
      const auth = await once<SocketAuth<TestUser>>(client, 'whoami');
      expect(auth.strategy).toBe('jwt-auth');
      expect(auth.user).toEqual(findUser('2'));
    });
  });

  it('passes when there is no session cookie: alone it is credentials_required, in a chain the next strategy decides', async () => {
    const web = await serve();
    expect(await codeOf(web.server.client('/', { extraHeaders: { cookie: 'other=1', origin: APP_ORIGIN } }))).toBe('credentials_required');
  });

  it('never writes the session: no save, no touch, even with rolling and resave', async () => {
    const store = new session.MemoryStore();
    const web = await serve({ store, cookie: { maxAge: 60_000 }, sessionOptions: { rolling: true, resave: true } });
    const { cookie } = await web.login();
    const sid = sidOf(cookie);
    const read = () => new Promise<string | undefined>((resolve) => store.get(sid, (_e, s) => resolve(s ? JSON.stringify(s) : undefined)));
    const before = await read();
    let writes = 0;
    store.set = ((orig) => (s: string, d: session.SessionData, cb?: (err?: unknown) => void) => {
      writes++;
      orig(s, d, cb);
    })(store.set.bind(store));
    store.touch = ((orig) => (s: string, d: session.SessionData, cb?: () => void) => {
      writes++;
      orig(s, d, cb);
    })(store.touch.bind(store));
    await sleep(20); // so a touch would move cookie.expires
    for (let i = 0; i < 3; i++) expect(await codeOf(web.cookieClient(cookie))).toBe('connected');
    expect(writes).toBe(0);
    expect(await read()).toBe(before);
    // An HTTP request on the same app does touch it: the hook above counts for real.
    await (await fetch(`${web.server.url}/me`, { headers: { cookie } })).arrayBuffer();
    expect(writes).toBeGreaterThan(0);
  });

  it('revalidate re-reads the session: a logout elsewhere turns into session_not_found', async () => {
    const results: AuthResult<TestUser>[] = [];
    const web = await serve({ spy: (r) => results.push(r) });
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(cookie))).toBe('connected');
    const admitted = results.at(-1)!;
    expect(admitted.kind).toBe('success');
    const revalidate = (admitted as Extract<AuthResult<TestUser>, { kind: 'success' }>).revalidate!;
    const again = await revalidate();
    expect(again).toMatchObject({ kind: 'success', user: findUser('1'), session: sidOf(cookie) });
    await web.logout(cookie);
    const gone = await revalidate();
    expect(gone.kind === 'fail' && gone.error.code).toBe('session_not_found');
  });

  it('with the registry revalidating, a session destroyed behind the socket cuts it within the interval', async () => {
    const web = await serve({ revalidateInterval: 300 });
    const { cookie } = await web.login();
    const client = web.cookieClient(cookie);
    await once(client, 'whoami');
    const revoked = once<{ code: string }>(client, 'auth:revoked', 5000);
    const cut = once(client, 'disconnect', 5000);
    const started = Date.now();
    await web.logout(cookie); // the helper app's logout revokes nothing itself
    expect((await revoked).code).toBe('session_not_found');
    await cut;
    expect(Date.now() - started).toBeLessThan(300 + 500);
  });

  it('a rolling session kept alive over HTTP moves the socket expiry instead of cutting it', async () => {
    const web = await serve({ revalidateInterval: 200, cookie: { maxAge: 1200 }, sessionOptions: { rolling: true } });
    const { cookie } = await web.login();
    const client = web.cookieClient(cookie);
    const first = await once<SocketAuth<TestUser>>(client, 'whoami');
    let disconnected = false;
    client.on('disconnect', () => (disconnected = true));
    const until = new Date(first.expiresAt!).getTime() + 800;
    while (Date.now() < until) {
      await (await fetch(`${web.server.url}/me`, { headers: { cookie } })).arrayBuffer(); // the user is active in the web app
      await sleep(200);
    }
    expect(disconnected).toBe(false);
    // once the web app goes quiet, the session (and the socket) expire after all
    await once(client, 'disconnect', 5000);
  });

  it('sends err.data with the code and never the cookie', async () => {
    const web = await serve();
    const { cookie } = await web.login();
    const tampered = tamperSignature(cookie);
    const r = await outcome(web.cookieClient(tampered));
    expect(r.connected).toBe(false);
    const err = (r as { error: ConnectError }).error;
    expect(err.data).toEqual({ type: 'UnauthorizedError', code: 'invalid_token', message: err.message, action: 'login', strategy: 'session' });
    const value = decodeURIComponent(tampered.split('=')[1]!);
    expect(JSON.stringify(err.data)).not.toContain(sidOf(cookie));
    expect(JSON.stringify(err.data)).not.toContain(value.slice(value.lastIndexOf('.') + 1));
  });

  it('refuses any hostile cookie value with a typed code, never admitting it and never a server_error', async () => {
    const web = await serve();
    const { cookie } = await web.login();
    const real = decodeURIComponent(cookie.split('=')[1]!);
    const hostile = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ maxLength: 40 }).map((s) => `s:${s}`),
      fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 50 })).map(([a, b]) => `s:${a}.${b}`),
      fc.nat({ max: real.length - 1 }).chain((i) => fc.string({ minLength: 1, maxLength: 1 }).map((c) => real.slice(0, i) + c + real.slice(i + 1))),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (value) => {
        fc.pre(value !== real && value.length > 0);
        const code = await codeOf(web.cookieClient(`connect.sid=${encodeURIComponent(value)}`));
        expect(['invalid_token', 'credentials_bad_format', 'session_not_found', 'credentials_required']).toContain(code);
      }),
      { numRuns: 60 },
    );
  });
});

describe('sessionCookie() configuration', () => {
  const middleware = session({ secret: 'x', resave: false, saveUninitialized: false });
  const authenticator = new passport.Passport();

  it('throws without allowedOrigins, and accepts an explicit opt-out', () => {
    expect(() => sessionCookie({ session: middleware, passport: authenticator } as never)).toThrow(/allowedOrigins/);
    expect(() => sessionCookie({ session: middleware, passport: authenticator, allowedOrigins: [] })).toThrow(/empty/);
    expect(() => sessionCookie({ session: middleware, passport: authenticator, allowedOrigins: ['not an origin'] })).toThrow(/not an origin/);
    expect(() => sessionCookie({ session: middleware, passport: authenticator, allowedOrigins: 'any' })).not.toThrow();
    expect(() => sessionCookie({ session: middleware, passport: authenticator, allowedOrigins: (o) => o.endsWith('.example') })).not.toThrow();
  });

  it('throws without a way to find the user, without a session middleware, or with a bad storeTimeout', () => {
    expect(() => sessionCookie({ session: middleware, allowedOrigins: 'any' })).toThrow(/passport/);
    expect(() => sessionCookie({ allowedOrigins: 'any', passport: authenticator } as never)).toThrow(/session/);
    expect(() => sessionCookie({ session: middleware, passport: authenticator, allowedOrigins: 'any', storeTimeout: 0 })).toThrow(/storeTimeout/);
  });

  it('without passport, maps the session to a user with user(session)', async () => {
    app = await startSessionApp({
      setup(io, { sessionMiddleware }) {
        const auth = new SockPass<{ visited: boolean }>().use(
          'session',
          sessionCookie({ session: sessionMiddleware, allowedOrigins: [APP_ORIGIN], user: (s) => (s.visited ? { visited: true } : undefined) }),
        );
        io.use(auth.middleware('session'));
        auth.onAuthenticated(io, (socket) => socket.emit('whoami', socket.data.auth));
      },
    });
    const auth = await once<SocketAuth<{ visited: boolean }>>(app.cookieClient(await app.visit()), 'whoami');
    expect(auth.user).toEqual({ visited: true });
  });
});

/**
 * A store that answers in the same tick, as an in-process cache or a
 * hand-written store may: express-session then finishes before the call that
 * ran it returns, so nothing about its timing may decide the outcome.
 */
class SynchronousStore extends session.Store {
  readonly sessions = new Map<string, string>();
  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    const stored = this.sessions.get(sid);
    callback(null, stored === undefined ? null : (JSON.parse(stored) as session.SessionData));
  }
  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    this.sessions.set(sid, JSON.stringify(data));
    callback?.();
  }
  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.sessions.delete(sid);
    callback?.();
  }
}

describe('session cookie on a synchronous store', () => {
  it('reports a validly signed cookie for an unknown session as session_not_found', async () => {
    const web = await serve({ store: new SynchronousStore() });
    expect(await codeOf(web.cookieClient(signedCookieFor('no-such-session-id')))).toBe('session_not_found');
  });

  it('still refuses a tampered signature with invalid_token and admits a real login', async () => {
    const web = await serve({ store: new SynchronousStore() });
    const { cookie, me } = await web.login();
    expect(await codeOf(web.cookieClient(tamperSignature(cookie)))).toBe('invalid_token');
    const auth = await once<SocketAuth<TestUser>>(web.cookieClient(cookie), 'whoami');
    expect(auth.user).toEqual(me);
  });

  it('with `secret`, checks the signature itself, before express-session runs', async () => {
    const store = new SynchronousStore();
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (sid, callback) => {
      reads++;
      get(sid, callback);
    };
    const web = await serve({ store, strategy: { secret: ['rotated-out-secret', SESSION_SECRET] } });
    expect(await codeOf(web.cookieClient(signedCookieFor('no-such-session-id')))).toBe('session_not_found');
    const before = reads;
    expect(await codeOf(web.cookieClient(signedCookieFor('some-session-id', 'a-secret-the-app-never-had')))).toBe('invalid_token');
    expect(reads).toBe(before);
  });
});
