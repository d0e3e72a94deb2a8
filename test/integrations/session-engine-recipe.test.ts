/**
 * Socket.IO's own Passport recipe beside sockpass: the app loads the session
 * in the engine layer (`io.engine.use(onlyForHandshake(sessionMiddleware))`,
 * `passport.session()` likewise) and reads `socket.request.user`. With
 * `loadedByEngine` the session strategy takes that session instead of reading
 * the store again (counted by a wrapping store), keeps its codes and its
 * Origin check, and with `exposeUser` code written for the recipe sees the
 * same user sockpass admitted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import session from 'express-session';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SockPass, sessionCookie, type SessionCookieOptions } from 'sockpass';
import { codeOf, once } from '../helpers/server.js';
import { APP_ORIGIN, SESSION_SECRET, signedCookieFor, startSessionApp, tamperSignature, type SessionApp, type TestUser } from '../helpers/session-app.js';

/** A MemoryStore that counts the session reads. */
class CountingStore extends session.MemoryStore {
  reads = 0;
  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.reads++;
    super.get(sid, callback);
  }
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The recipe's helper: run an HTTP middleware on the engine's handshake request only. */
function onlyForHandshake(middleware: Middleware): Middleware {
  return (req, res, next) => {
    const isHandshake = (req as unknown as { _query: Record<string, string | undefined> })._query.sid === undefined;
    if (isHandshake) middleware(req, res, next);
    else next();
  };
}

interface Seen {
  user: TestUser;
  requestUser: TestUser | undefined;
  same: boolean;
}

let app: SessionApp | undefined;
afterEach(async () => {
  await app?.server.close();
  app = undefined;
});

/** deserializeUser calls, counted by a deserializer put first in Passport's chain that passes on to the app's. */
let deserialized = 0;

async function serve(store: CountingStore, recipe: boolean, strategy: Partial<SessionCookieOptions<TestUser>>): Promise<SessionApp> {
  deserialized = 0;
  app = await startSessionApp({
    store,
    setup(io, { sessionMiddleware, passport }) {
      (passport as unknown as { _deserializers: unknown[] })._deserializers.unshift((_id: unknown, done: (err: unknown) => void) => {
        deserialized++;
        done('pass');
      });
      if (recipe) {
        io.engine.use(onlyForHandshake(sessionMiddleware as unknown as Middleware));
        io.engine.use(onlyForHandshake(passport.session() as unknown as Middleware));
      }
      const auth = new SockPass<TestUser>({ revalidateInterval: 0 }).use(
        'session',
        sessionCookie<TestUser>({ session: sessionMiddleware, passport, allowedOrigins: [APP_ORIGIN], ...strategy }),
      );
      io.use(auth.middleware('session'));
      auth.onAuthenticated(io, (socket) => {
        const requestUser = (socket.request as IncomingMessage & { user?: TestUser }).user;
        socket.emit('seen', { user: socket.data.auth.user, requestUser, same: requestUser === socket.data.auth.user } satisfies Seen);
      });
    },
  });
  return app;
}

describe('the engine-layer recipe (io.engine.use(session), passport.session())', () => {
  it('with loadedByEngine: one store read and one deserializeUser per handshake, and socket.request.user is socket.data.auth.user', async () => {
    const store = new CountingStore();
    const web = await serve(store, true, { loadedByEngine: true });
    const { cookie, me } = await web.login();
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      const before = { reads: store.reads, deserialized };
      const seen = await once<Seen>(web.cookieClient(cookie, { transports }), 'seen');
      expect(seen.user).toEqual(me);
      expect(seen.same).toBe(true);
      expect(store.reads - before.reads).toBe(1);
      expect(deserialized - before.deserialized).toBe(1);
    }
  });

  it('without loadedByEngine the same set-up reads the store twice per handshake', async () => {
    const store = new CountingStore();
    const web = await serve(store, true, {});
    const { cookie } = await web.login();
    const before = { reads: store.reads, deserialized };
    await once<Seen>(web.cookieClient(cookie), 'seen');
    expect(store.reads - before.reads).toBe(2);
    expect(deserialized - before.deserialized).toBe(2);
  });

  it('keeps the codes: unknown session, forged signature, anonymous session, and the Origin check first', async () => {
    const store = new CountingStore();
    const web = await serve(store, true, { loadedByEngine: true, secret: SESSION_SECRET });
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(signedCookieFor('no-such-session-id')))).toBe('session_not_found');
    expect(await codeOf(web.cookieClient(tamperSignature(cookie)))).toBe('invalid_token');
    expect(await codeOf(web.cookieClient(await web.visit()))).toBe('credentials_required');
    expect(await codeOf(web.cookieClient(cookie, { origin: 'http://evil.example' }))).toBe('origin_not_allowed');
  });

  it('keeps the codes without the secret too', async () => {
    const web = await serve(new CountingStore(), true, { loadedByEngine: true });
    const { cookie } = await web.login();
    expect(await codeOf(web.cookieClient(signedCookieFor('no-such-session-id')))).toBe('session_not_found');
    expect(await codeOf(web.cookieClient(tamperSignature(cookie)))).toBe('invalid_token');
  });

  it('a logout after the handshake is seen by revalidation, which reads the store', async () => {
    const store = new CountingStore();
    const web = await serve(store, true, { loadedByEngine: true });
    const { cookie } = await web.login();
    await once<Seen>(web.cookieClient(cookie), 'seen');
    await web.logout(cookie);
    expect(await codeOf(web.cookieClient(cookie))).toBe('session_not_found');
  });
});

describe('exposeUser without the engine layer', () => {
  it('puts the admitted user on socket.request.user for code written for the recipe', async () => {
    const store = new CountingStore();
    const web = await serve(store, false, { exposeUser: true });
    const { cookie, me } = await web.login();
    const before = store.reads;
    const seen = await once<Seen>(web.cookieClient(cookie), 'seen');
    expect(seen.requestUser).toEqual(me);
    expect(seen.same).toBe(true);
    expect(store.reads - before).toBe(1);
  });

  it('leaves socket.request.user alone by default', async () => {
    const web = await serve(new CountingStore(), false, {});
    const { cookie } = await web.login();
    const seen = await once<Seen>(web.cookieClient(cookie), 'seen');
    expect(seen.requestUser).toBeUndefined();
  });
});
