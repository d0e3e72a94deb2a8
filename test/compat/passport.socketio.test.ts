/**
 * `sockpass/compat/passport.socketio` against passport.socketio 3.7 itself:
 * both run side by side on two namespaces of one real server, behind a real
 * express + passport-local login, and must agree on `socket.request.user`
 * and on every documented `fail` message; then the documented `success` /
 * `fail` callbacks and `filterSocketsByUser`.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import cookieParser from 'cookie-parser';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { authorize, filterSocketsByUser, type AuthorizeOptions, type PassportSocketIoUser } from 'sockpass/compat/passport.socketio';
import { SockPass, jwtAuth } from 'sockpass';
import { once, outcome, startServer, type ConnectError, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/redis.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import {
  APP_ORIGIN,
  SESSION_SECRET,
  findUser,
  sidOf,
  signedCookieFor,
  startSessionApp,
  tamperSignature,
  type SessionApp,
} from '../helpers/session-app.js';

const require = createRequire(import.meta.url);
const original = require('passport.socketio') as { authorize(options: object): (socket: unknown, next: (err?: Error) => void) => void };

let app: SessionApp | undefined;
let other: TestServer | undefined;
afterEach(async () => {
  await app?.server.close();
  await other?.close();
  app = other = undefined;
});

type Options = Omit<AuthorizeOptions, 'store' | 'secret' | 'passport'>;

async function serve(options: Options = {}, setup?: (io: Server) => void): Promise<SessionApp> {
  return serveWith(new session.MemoryStore(), options, setup);
}

async function serveWith(store: session.MemoryStore, options: Options = {}, setup?: (io: Server) => void): Promise<SessionApp> {
  app = await startSessionApp({
    store,
    setup(io, { passport }) {
      const common = { cookieParser, key: 'connect.sid', secret: SESSION_SECRET, store, passport };
      io.use(authorize({ ...common, ...options }));
      io.of('/original').use(original.authorize({ ...common, ...options }));
      for (const nsp of [io.of('/'), io.of('/original')]) {
        nsp.on('connection', (socket) => socket.emit('whoami', (socket.request as unknown as { user: unknown }).user));
      }
      setup?.(io);
    },
  });
  return app;
}

/** What one client saw: its request.user, or its connect_error message and code. */
async function seen(web: SessionApp, nsp: string, cookie: string | undefined) {
  const client = web.server.client(nsp, { extraHeaders: cookie ? { cookie, origin: APP_ORIGIN } : { origin: APP_ORIGIN } });
  const user = once<PassportSocketIoUser>(client, 'whoami').catch(() => undefined);
  const r = await outcome(client);
  if (r.connected) return { user: await user };
  return { message: r.error.message, code: r.error.data?.code };
}

describe('authorize() with the default callbacks, beside passport.socketio 3.7', () => {
  it('agrees with passport.socketio on request.user and on every refusal message', async () => {
    const web = await serve();
    const { cookie, me } = await web.login();
    const cases: Record<string, string | undefined> = {
      'logged in': cookie,
      'no cookie': undefined,
      'tampered signature': tamperSignature(cookie),
      'unknown session': signedCookieFor('no-such-session'),
      'session without a login': await web.visit(),
    };
    for (const [label, c] of Object.entries(cases)) {
      const [ours, theirs] = [await seen(web, '/', c), await seen(web, '/original', c)];
      expect({ label, message: ours.message, user: ours.user }).toEqual({ label, message: theirs.message, user: theirs.user });
    }
    expect((await seen(web, '/', cookie)).user).toEqual({ ...me, logged_in: true });
    // after a logout the browser holds a fresh session passport never touched
    const after = await web.logout(cookie);
    expect(await seen(web, '/', after)).toMatchObject({ message: (await seen(web, '/original', after)).message });
    expect((await seen(web, '/', after)).message).toBe('Passport was not initialized');
  });

  it('says "User not found", as passport.socketio does, when deserializeUser no longer finds the user', async () => {
    const store = new session.MemoryStore();
    const web = await serveWith(store);
    const { cookie } = await web.login();
    // The account was deleted: the session still names it, the deserializer finds nobody.
    const sid = sidOf(cookie);
    const stored = await new Promise<session.SessionData>((resolve, reject) => store.get(sid, (err, s) => (err || !s ? reject(err) : resolve(s))));
    (stored as unknown as { passport: { user: string } }).passport.user = 'no-such-user';
    await new Promise<void>((resolve, reject) => store.set(sid, stored, (err) => (err ? reject(err) : resolve())));
    const [ours, theirs] = [await seen(web, '/', cookie), await seen(web, '/original', cookie)];
    expect(theirs.message).toBe('User not found');
    expect(ours.message).toBe(theirs.message);
  });

  it('adds sockpass codes in err.data', async () => {
    const web = await serve();
    const { cookie } = await web.login();
    expect(await seen(web, '/', undefined)).toEqual({ message: 'No session found', code: 'credentials_required' });
    expect(await seen(web, '/', tamperSignature(cookie))).toEqual({ message: 'No session found', code: 'invalid_token' });
    expect(await seen(web, '/', signedCookieFor('gone'))).toEqual({ message: 'No session found', code: 'session_not_found' });
  });

  it('checks Origin when given allowedOrigins', async () => {
    const web = await serve({ allowedOrigins: [APP_ORIGIN] });
    const { cookie } = await web.login();
    expect((await seen(web, '/', cookie)).user).toMatchObject({ id: '1', logged_in: true });
    const foreign = web.server.client('/', { extraHeaders: { cookie, origin: 'https://evil.example' } });
    const r = await outcome(foreign);
    expect(r.connected ? 'connected' : r.error.data?.code).toBe('origin_not_allowed');
  });

  it('reports a failing store as a critical error without its details on the wire', async () => {
    // A real connect-redis store whose client was never connected: get() fails at once.
    const port = await freePort();
    const client = createClient({ url: `redis://127.0.0.1:${port}`, disableOfflineQueue: true });
    const calls: Array<[string, boolean]> = [];
    app = await startSessionApp({
      setup(io, { passport }) {
        const store = new RedisStore({ client });
        io.use(authorize({ cookieParser, secret: SESSION_SECRET, store, passport }));
        io.of('/observed').use(
          authorize({ cookieParser, secret: SESSION_SECRET, store, passport, fail: (_d, message, error, accept) => (calls.push([message, error]), accept(new Error('refused'))) }),
        );
      },
    });
    const r = await outcome(app.server.client('/', { extraHeaders: { cookie: signedCookieFor('any') } }));
    expect(r.connected).toBe(false);
    const err = (r as { error: ConnectError }).error;
    expect(err.data).toMatchObject({ code: 'store_unavailable', message: 'Error in session store' });
    await outcome(app.server.client('/observed', { extraHeaders: { cookie: signedCookieFor('any') } }));
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toMatch(/^Error in session store:\n./);
    expect(calls[0]![1]).toBe(true);
  });
});

describe('the documented success and fail callbacks', () => {
  it('success(data, accept): data is socket.request with the user; accept() admits, accept(err) refuses with err', async () => {
    const received: unknown[] = [];
    const web = await serve({
      success(data, accept) {
        received.push(data.user, data.socketio_version_1);
        if ((data.user as { username?: string }).username === 'bob') return accept(new Error('bob is banned'));
        accept();
      },
    });
    const alice = await web.login('alice');
    expect((await seen(web, '/', alice.cookie)).user).toMatchObject({ username: 'alice', logged_in: true });
    expect(received).toEqual([{ ...alice.me, logged_in: true }, true]);
    const bob = await web.login('bob');
    expect(await seen(web, '/', bob.cookie)).toMatchObject({ message: 'bob is banned' });
  });

  it('fail(data, message, error, accept): accept() lets an anonymous client in with request.user.logged_in false', async () => {
    const calls: Array<[string, boolean]> = [];
    const web = await serve({
      fail(data, message, error, accept) {
        calls.push([message, error]);
        expect((data.user as PassportSocketIoUser).logged_in).toBe(false);
        accept();
      },
    });
    expect((await seen(web, '/', undefined)).user).toEqual({ logged_in: false });
    expect((await seen(web, '/', await web.visit())).user).toEqual({ logged_in: false });
    expect(calls).toEqual([
      ['No session found', false],
      ['Passport was not initialized', true],
    ]);
  });

  it('accept(null, false), the pre-1.0 refusal, refuses', async () => {
    const web = await serve({ fail: (_d, _m, _e, accept) => accept(null, false) });
    expect(await seen(web, '/', undefined)).toMatchObject({ code: 'forbidden' });
  });

  it('a callback that throws (as the README example does for critical errors) refuses instead of crashing', async () => {
    const web = await serve({
      fail(_d, message, error) {
        if (error) throw new Error(message);
      },
      success() {
        throw new Error('boom');
      },
    });
    const { cookie } = await web.login();
    expect(await seen(web, '/', cookie)).toMatchObject({ code: 'server_error', message: 'authentication failed' });
    expect(await seen(web, '/', await web.visit())).toMatchObject({ code: 'server_error' });
  });

  it('an async callback that rejects refuses with server_error and the server keeps serving', async () => {
    const reported: unknown[] = [];
    const store = new session.MemoryStore();
    app = await startSessionApp({
      store,
      setup(io, { passport }) {
        const common = { cookieParser, key: 'connect.sid', secret: SESSION_SECRET, store, passport };
        io.use(
          authorize({
            ...common,
            async fail(_d, message) {
              await Promise.resolve();
              throw new Error(`fail callback: ${message}`);
            },
            async success(data, accept) {
              if ((data.user as { username?: string }).username === 'bob') throw new Error('success callback');
              accept();
            },
          }),
        );
        io.on('connection', (socket) => socket.emit('whoami', (socket.request as unknown as { user: unknown }).user));
      },
    });
    const onUnhandled = (reason: unknown) => reported.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const bob = await app.login('bob');
    expect(await seen(app, '/', bob.cookie)).toMatchObject({ code: 'server_error', message: 'authentication failed' });
    expect(await seen(app, '/', tamperSignature(bob.cookie))).toMatchObject({ code: 'server_error' });
    expect(await seen(app, '/', undefined)).toMatchObject({ code: 'server_error' });
    // Still serving: a valid client connects afterwards.
    const alice = await app.login('alice');
    expect((await seen(app, '/', alice.cookie)).user).toMatchObject({ username: 'alice', logged_in: true });
    process.off('unhandledRejection', onUnhandled);
    expect(reported).toEqual([]);
  });

  it("defaults cookieParser and passport to the app's own modules, as passport.socketio's require() did", async () => {
    const singleton = (await import('passport')).default;
    singleton.deserializeUser((id: string, done) => done(null, findUser(id) ?? false));
    const store = new session.MemoryStore();
    app = await startSessionApp({
      store,
      setup(io) {
        io.use(authorize({ secret: SESSION_SECRET, store }));
        io.on('connection', (socket) => socket.emit('whoami', (socket.request as unknown as { user: unknown }).user));
      },
    });
    const { cookie, me } = await app.login();
    expect((await seen(app, '/', cookie)).user).toEqual({ ...me, logged_in: true });
  });

  it('throws at setup without store or secret', () => {
    expect(() => authorize({ secret: 'x' } as never)).toThrow(/store/);
    expect(() => authorize({ store: new session.MemoryStore() } as never)).toThrow(/secret/);
  });
});

describe('filterSocketsByUser(io, filter)', () => {
  it('returns the connected sockets whose request.user passes the filter', async () => {
    const web = await serve({ fail: (_d, _m, _e, accept) => accept() });
    const alice = await web.login('alice');
    const bob = await web.login('bob');
    const clients = [web.cookieClient(alice.cookie), web.cookieClient(alice.cookie), web.cookieClient(bob.cookie), web.server.client('/')];
    await Promise.all(clients.map((c) => once(c, 'whoami')));
    const ids = (f: (u: PassportSocketIoUser) => boolean) => filterSocketsByUser(web.server.io, f).map((s) => s.id).sort();
    expect(ids((u) => u.username === 'alice')).toEqual([clients[0]!.id, clients[1]!.id].sort());
    expect(ids((u) => u.username === 'bob')).toEqual([clients[2]!.id]);
    expect(ids((u) => u.logged_in === false)).toEqual([clients[3]!.id]);
    const sockets = filterSocketsByUser(web.server.io, (u) => u.id === '1');
    sockets.forEach((s) => s.emit('message', 'hello, alice'));
    expect(await once(clients[0]!, 'message')).toBe('hello, alice');
    const gone = web.server.io.sockets.sockets.get(clients[0]!.id!)!;
    const disconnected = once(gone, 'disconnect');
    clients[0]!.disconnect();
    await disconnected;
    expect(ids((u) => u.username === 'alice')).toEqual([clients[1]!.id]);
  });

  it('also finds sockets a sockpass strategy admitted (socket.data.auth.user), for apps mid-migration', async () => {
    const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => findUser(String(c.sub))! }));
    other = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      auth.onAuthenticated(io, (s) => s.emit('ready'));
    });
    const client = other.client('/', { auth: { token: hs256({ sub: '2' }) } });
    await once(client, 'ready');
    expect(filterSocketsByUser(other.io, (u) => u.username === 'bob').map((s) => s.id)).toEqual([client.id]);
  });

  // Every namespace of one connection shares `socket.request`: a refused authorize() on another namespace
  // writes `{ logged_in: false }` there, and must not hide the sockets `/` admitted from the sweep.
  it('finds a token socket whose connection then opened a refused authorize() namespace', async () => {
    const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => findUser(String(c.sub))! }));
    const store = new session.MemoryStore();
    const web = await startSessionApp({
      store,
      setup(io, { passport }) {
        io.use(auth.middleware('jwt-auth'));
        auth.onAuthenticated(io, (s) => s.emit('ready'));
        io.of('/cookie').use(authorize({ cookieParser, key: 'connect.sid', secret: SESSION_SECRET, store, passport }));
      },
    });
    app = web;
    const client = web.server.client('/', { auth: { token: hs256({ sub: '2' }) } });
    await once(client, 'ready');
    const refused = await outcome(client.io.socket('/cookie')); // same connection, no cookie
    expect(refused).toMatchObject({ connected: false, error: { message: 'No session found' } });
    expect(filterSocketsByUser(web.server.io, (u) => u.username === 'bob').map((s) => s.id)).toEqual([client.id]);
  });

  it('finds a cookie socket whose connection then opened a refused authorize() namespace', async () => {
    const store = new session.MemoryStore();
    const web = await startSessionApp({
      store,
      setup(io, { passport }) {
        const common = { cookieParser, key: 'connect.sid', secret: SESSION_SECRET, store, passport };
        io.use(authorize(common));
        io.on('connection', (socket) => socket.emit('whoami', (socket.request as unknown as { user: unknown }).user));
        // A namespace the app keeps to one origin: this client's origin is refused there.
        io.of('/strict').use(authorize({ ...common, allowedOrigins: ['https://elsewhere.example'] }));
      },
    });
    app = web;
    const { cookie } = await web.login('alice');
    const client = web.cookieClient(cookie);
    expect(await once(client, 'whoami')).toMatchObject({ username: 'alice', logged_in: true });
    const refused = await outcome(client.io.socket('/strict'));
    expect(refused.connected).toBe(false);
    expect(filterSocketsByUser(web.server.io, (u) => u.username === 'alice').map((s) => s.id)).toEqual([client.id]);
    // And the `/` socket's handlers still read alice on socket.request.user, as before the refused namespace.
    const request = web.server.io.sockets.sockets.get(client.id!)!.request as unknown as { user: unknown };
    expect(request.user).toMatchObject({ username: 'alice', logged_in: true });
  });
});
