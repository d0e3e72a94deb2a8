/**
 * One server under test for the soak, in its own process: a real HTTP server,
 * an express app that logs users in with passport and express-session (as a
 * web app would), Socket.IO, and sockpass with every strategy there is, each
 * on its own namespace:
 *
 * - `/`         jwt-auth, jwt-query, jwt-header (mode `first`)
 * - `/passport` passport-jwt's JwtStrategy through the passport adapter
 * - `/event`    jwt-auth, then the `authenticate` event as the fallback
 * - `/session`  the session cookie (MemoryStore, or connect-redis on REDIS)
 * - `/mixed`    jwt-auth, then the session cookie
 * - `/team-<n>` a function-chosen dynamic namespace (jwt-auth, then the
 *               event), with `cleanupEmptyChildNamespaces`
 * - `/compat-jwt`, `/compat-jwt-event`, `/compat-ps`: the socketio-jwt drop-in
 *               (handshake and event flows) and the passport.socketio drop-in
 * - `/compat-jwt-cookie` the socketio-jwt event flow reading its token from a
 *               cookie (same-origin only by default)
 * - `/compat-ps-throw` the passport.socketio drop-in with async `success` /
 *               `fail` callbacks that throw
 * - `/guarded`  jwt-auth behind `auth.guard`, with a rule closing event `7`
 * - `/all`      jwt-auth and jwt-header in mode `all` (claims merged)
 * - `/throwing` jwt-auth on a registry whose `failure` listener throws
 *
 * It counts what the soak must see stay at zero (unhandled rejections,
 * uncaught exceptions, events of unauthenticated sockets reaching a handler)
 * and reports heap, handles and listeners on request.
 *
 * Run by soak/protocol.ts as `node --expose-gc --import tsx soak/server.ts`.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import express from 'express';
import session, { type Store } from 'express-session';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { Passport } from 'passport';
import { createClient, type RedisClientType } from 'redis';
import { Server, type Namespace, type Socket } from 'socket.io';
import cookieParser from 'cookie-parser';
import * as sockpass from 'sockpass';
import * as passportSocketIo from 'sockpass/compat/passport.socketio';
import * as socketioJwt from 'sockpass/compat/socketio-jwt';
import { SECRET } from '../test/helpers/tokens.js';
import type { Counters, Envelope, ServerConfig, ServerReply, ServerRequest, ServerStats } from './protocol.js';
import { SOAK_ORIGIN, findExport } from './pieces.js';

const config = JSON.parse(process.env.SOAK_SERVER_CONFIG ?? '{}') as ServerConfig;
const gc = (globalThis as { gc?: () => void }).gc;

const counters: Counters = {
  connections: 0,
  authenticated: 0,
  refusals: {},
  unhandledRejections: 0,
  uncaughtExceptions: 0,
  unauthenticatedEventsHandled: 0,
  probes: 0,
  pendingLifetimes: { count: 0, minMs: Number.POSITIVE_INFINITY, maxMs: 0 },
  expiredLifetimes: { count: 0, maxLateMs: 0 },
  guardBypasses: 0,
  inheritedClaims: 0,
  expiryRemoved: 0,
  errors: [],
};
const expiresAtOf = (socket: Socket): number | undefined => {
  const at = (socket.data.auth as sockpass.SocketAuth<unknown> | undefined)?.expiresAt;
  return at ? new Date(at).getTime() : undefined;
};
const note = (what: string, err: unknown) => {
  if (counters.errors.length < 10) counters.errors.push(`${what}: ${(err as Error)?.stack ?? String(err)}`.slice(0, 600));
  console.error(`[soak:${config.name}] ${what}:`, process.env.SOAK_DEBUG ? err : ((err as Error)?.message ?? err));
};
/** Set once the orchestrator asked to close: Redis clients torn down then reject what the adapter left queued. */
let closing = false;
process.on('unhandledRejection', (reason) => {
  if (closing) return;
  counters.unhandledRejections++;
  note('unhandled rejection', reason);
});
process.on('uncaughtException', (err) => {
  counters.uncaughtExceptions++;
  note('uncaught exception', err);
});

type User = { id: string; name?: string; sub?: string };
type StrategyFactory = (options: Record<string, unknown>) => sockpass.Strategy<User>;

const missing: string[] = [];
const redisClients: RedisClientType[] = [];
const revoked = new Set<string>();
/** Every socket between `connection` and `disconnect`: quarantined ones are missing from `nsp.sockets` on purpose. */
const live = new Set<Socket>();
/** Sockets admitted with an expiry: one that leaves without any lost it (a refresh must never remove it). */
const admittedWithExpiry = new WeakSet<Socket>();

function redisClient(url: string): RedisClientType {
  const client: RedisClientType = createClient({
    url,
    // Reconnect quickly once Redis is back; a store call in flight meanwhile is bounded by the session strategy.
    socket: { reconnectStrategy: (retries: number) => Math.min(50 + retries * 50, 500), connectTimeout: 1000 },
  });
  // node-redis emits 'error' on every failed reconnect; unhandled it would crash the process.
  client.on('error', () => {});
  redisClients.push(client);
  return client;
}

async function main(): Promise<void> {
  const passport = new Passport();
  passport.serializeUser((user: Express.User, done) => done(null, (user as User).id));
  passport.deserializeUser((id: string, done) => done(null, { id, name: `user ${id}` }));

  // Explicit, so the passport.socketio drop-in reads the same sessions the app writes.
  let store: Store = new session.MemoryStore();
  let denyList: RedisClientType | undefined;
  if (config.redisUrl !== undefined) {
    const client = redisClient(config.redisUrl);
    await client.connect();
    const { RedisStore } = await import('connect-redis');
    store = new RedisStore({ client, prefix: 'soak:sess:' });
    denyList = client;
  }
  const sessionMiddleware = session({
    secret: SECRET,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 3_600_000, sameSite: 'lax' },
  });

  const app = express();
  app.use(sessionMiddleware);
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    req.login({ id: String(req.query.user ?? 'alice') } as Express.User, (err) => (err ? next(err) : res.end('ok')));
  });
  app.get('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : req.session.destroy(() => res.end('bye'))));
  });
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(503).end(err.message);
  });

  const http = createServer(app);
  const io = new Server(http, { maxHttpBufferSize: 1e6, cleanupEmptyChildNamespaces: true });
  if (config.adapter && config.redisUrl !== undefined) {
    const pub = redisClient(config.redisUrl);
    const sub = pub.duplicate();
    sub.on('error', () => {});
    redisClients.push(sub);
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }

  const isRevoked = async (claims: sockpass.Claims): Promise<boolean> => {
    const sub = String(claims.sub);
    if (revoked.has(sub)) return true;
    return denyList !== undefined && config.adapter === true ? denyList.sIsMember('soak:revoked', sub).then(Boolean) : false;
  };
  const hs = { secret: SECRET, algorithms: ['HS256' as const], isRevoked };
  const auth = new sockpass.SockPass<User>({ refreshBefore: config.refreshBefore ?? 0, refreshTimeout: 2000 })
    .use('jwt-auth', sockpass.jwtAuth<User>(hs))
    .use('jwt-query', sockpass.jwtQuery<User>({ ...hs, warnUrlLogging: false }))
    .use('jwt-header', sockpass.jwtHeader<User>(hs))
    .use(
      'passport',
      sockpass.passportStrategy<User>(
        new JwtStrategy(
          { jwtFromRequest: ExtractJwt.fromHeader('x-access-token'), secretOrKey: SECRET, algorithms: ['HS256'] },
          // As an app's verify callback should: a payload without a string subject is no user.
          (payload: unknown, done: (err: unknown, user?: User | false) => void) => {
            const sub = (payload as { sub?: unknown } | null)?.sub;
            done(null, typeof sub === 'string' && sub.length > 0 ? { id: sub } : false);
          },
        ),
        { hasCredentials: (ctx) => ctx.headers['x-access-token'] !== undefined },
      ),
    );

  const namespaces: Array<[string, Namespace]> = [];
  const mount = (name: string, chain: string[]) => {
    const nsp = io.of(name);
    nsp.use(auth.middleware(chain));
    namespaces.push([name, nsp]);
  };
  mount('/', ['jwt-auth', 'jwt-query', 'jwt-header']);
  mount('/passport', ['passport']);
  io.of('/all').use(auth.middleware(['jwt-auth', 'jwt-header'], { mode: 'all' }));
  namespaces.push(['/all', io.of('/all')]);
  mount('/guarded', ['jwt-auth']);
  const guard = auth.guard({ '7': false, 'admin:*': (a) => a.claims.role === 'admin' });
  io.of('/guarded').on('connection', (socket) => {
    socket.use(guard(socket));
    for (const closed of ['7', 'admin:ban']) socket.on(closed, () => counters.guardBypasses++);
  });
  // A separate registry whose failure listener throws (an app's rate limiter with a bug): refusals must stay refusals.
  const throwing = new sockpass.SockPass<User>().use('jwt-auth', sockpass.jwtAuth<User>(hs));
  throwing.on('failure', () => {
    throw new Error('failure listener bug');
  });
  io.of('/throwing').use(throwing.middleware('jwt-auth'));
  namespaces.push(['/throwing', io.of('/throwing')]);

  const jwtAuthenticateEvent = findExport<StrategyFactory>('jwtAuthenticateEvent');
  if (jwtAuthenticateEvent !== undefined) {
    auth.use('event', jwtAuthenticateEvent({ ...hs, timeout: config.eventTimeout }));
    mount('/event', ['jwt-auth', 'event']);
  } else missing.push('jwtAuthenticateEvent (issue 3)');

  const sessionCookie = findExport<StrategyFactory>('sessionCookie');
  if (sessionCookie !== undefined) {
    auth.use('session', sessionCookie({
        session: sessionMiddleware,
        passport,
        allowedOrigins: [SOAK_ORIGIN],
        ...(config.storeTimeout === undefined ? {} : { storeTimeout: config.storeTimeout }),
      }));
    mount('/session', ['session']);
    mount('/mixed', ['jwt-auth', 'session']);
  } else missing.push('sessionCookie (issue 4)');

  // The drop-ins, as an app that only changed its require() would mount them.
  const compatJwt = io.of('/compat-jwt');
  compatJwt.use(socketioJwt.authorize({ secret: SECRET, handshake: true }) as Parameters<Namespace['use']>[0]);
  const compatJwtEvent = io.of('/compat-jwt-event');
  compatJwtEvent.on('connection', socketioJwt.authorize({ secret: SECRET, timeout: config.eventTimeout }));
  const compatPs = io.of('/compat-ps');
  compatPs.use(
    passportSocketIo.authorize({ cookieParser, key: 'connect.sid', secret: SECRET, store, passport, allowedOrigins: [SOAK_ORIGIN] }) as Parameters<
      Namespace['use']
    >[0],
  );
  const compatJwtCookie = io.of('/compat-jwt-cookie');
  compatJwtCookie.on('connection', socketioJwt.authorize({ secret: SECRET, cookie: 'jwt', timeout: config.eventTimeout }));
  const compatPsThrow = io.of('/compat-ps-throw');
  compatPsThrow.use(
    passportSocketIo.authorize({
      cookieParser,
      key: 'connect.sid',
      secret: SECRET,
      store,
      passport,
      allowedOrigins: [SOAK_ORIGIN],
      async success() {
        throw new Error('success callback bug');
      },
      async fail(_data, message) {
        await Promise.resolve();
        throw new Error(`fail callback bug: ${message}`);
      },
    }) as Parameters<Namespace['use']>[0],
  );
  namespaces.push(
    ['/compat-jwt', compatJwt],
    ['/compat-jwt-event', compatJwtEvent],
    ['/compat-ps', compatPs],
    ['/compat-jwt-cookie', compatJwtCookie],
    ['/compat-ps-throw', compatPsThrow],
  );

  const TEAM = /^\/team-\d+$/;
  const teams = io.of((name, _auth, next) => next(null, TEAM.test(name)));
  teams.use(auth.middleware(jwtAuthenticateEvent !== undefined ? ['jwt-auth', 'event'] : ['jwt-auth']));
  auth.onAuthenticated(teams, (socket) => {
    counters.authenticated++;
    (socket as unknown as Socket).emit('soak:node', config.name);
  });

  auth.on('failure', ({ code }) => {
    counters.refusals[code] = (counters.refusals[code] ?? 0) + 1;
  });
  for (const [, nsp] of namespaces) {
    nsp.on('connection', (socket: Socket) => {
      counters.connections++;
      live.add(socket);
      const connectedAt = performance.now();
      socket.once('disconnect', () => {
        live.delete(socket);
        const exp = expiresAtOf(socket);
        if (exp === undefined && admittedWithExpiry.has(socket)) counters.expiryRemoved++;
        // Timers may fire a millisecond early; a socket cut well before its expiry is not an expiry.
        if (exp !== undefined && Date.now() >= exp - 50) {
          const e = counters.expiredLifetimes;
          e.count++;
          e.maxLateMs = Math.max(e.maxLateMs, Date.now() - exp);
        }
        if (socket.data.auth !== undefined) return;
        const lived = performance.now() - connectedAt;
        const p = counters.pendingLifetimes;
        p.count++;
        p.minMs = Math.min(p.minMs, lived);
        p.maxMs = Math.max(p.maxMs, lived);
      });
      // Registered before authentication on purpose: quarantine must keep it from running.
      socket.on('probe', (ack?: unknown) => {
        if (socket.data.auth === undefined) counters.unauthenticatedEventsHandled++;
        else counters.probes++;
        if (typeof ack === 'function') ack('probed');
      });
    });
    auth.onAuthenticated(nsp, (socket) => {
      counters.authenticated++;
      const s = socket as unknown as Socket;
      if (expiresAtOf(s) !== undefined) admittedWithExpiry.add(s);
      const claims = socket.data.auth.claims as Record<string, unknown>;
      if (Object.getPrototypeOf(claims) !== Object.prototype || ('role' in claims && !Object.hasOwn(claims, 'role'))) {
        counters.inheritedClaims++;
        note('inherited claims', new Error(`on ${s.nsp.name} (${socket.data.auth.strategy}): prototype ${String(Object.getPrototypeOf(claims))}`));
      }
      // Which node the client landed on (node-loss follows clients from one node to the other).
      s.emit('soak:node', config.name);
      s.on('echo', (value: unknown, ack?: unknown) => {
        if (typeof ack === 'function') ack(value);
      });
    });
  }

  const listenerCounts = (): Record<string, number> => {
    const sum = (e: NodeJS.EventEmitter) => e.eventNames().reduce((n, name) => n + e.listenerCount(name), 0);
    const counts: Record<string, number> = {
      http: sum(http),
      engine: sum(io.engine as unknown as NodeJS.EventEmitter),
      adapters: namespaces.reduce((n, [, nsp]) => n + sum(nsp.adapter as unknown as NodeJS.EventEmitter), 0),
      io: sum(io as unknown as NodeJS.EventEmitter),
      process: sum(process),
    };
    for (const [name, nsp] of namespaces) counts[`nsp ${name}`] = sum(nsp as unknown as NodeJS.EventEmitter);
    return counts;
  };

  const stats = async (collect: boolean): Promise<ServerStats> => {
    if (collect && gc !== undefined) {
      // Several passes with turns of the event loop between, so finalizers and weak maps settle.
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
    }
    const resources: Record<string, number> = {};
    for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
    let pending = 0;
    let overdue = 0;
    const now = Date.now();
    for (const socket of live) {
      if (socket.data.auth === undefined) pending++;
      const exp = expiresAtOf(socket);
      if (exp !== undefined && now - exp > 1000) overdue++;
    }
    let nspSockets = 0;
    for (const [, nsp] of namespaces) nspSockets += nsp.sockets.size;
    const mem = process.memoryUsage();
    return {
      heapUsed: mem.heapUsed,
      rss: mem.rss,
      resources,
      listeners: listenerCounts(),
      sockets: live.size,
      pending,
      nspSockets,
      overdue,
      engineClients: io.engine.clientsCount,
      counters: structuredClone(counters),
      prototypeKeys: Object.getOwnPropertyNames(Object.prototype).length,
      registryNamespaces: auth.lifecycle.namespaces.size,
      serverNamespaces: (io as unknown as { _nsps: Map<string, unknown> })._nsps.size,
    };
  };

  const handle = async (req: ServerRequest): Promise<ServerReply> => {
    switch (req.type) {
      case 'stats':
        return { type: 'stats', stats: await stats(req.gc === true) };
      case 'reset-counters':
        Object.assign(counters, {
          connections: 0,
          authenticated: 0,
          refusals: {},
          probes: 0,
          pendingLifetimes: { count: 0, minMs: Number.POSITIVE_INFINITY, maxMs: 0 },
          expiredLifetimes: { count: 0, maxLateMs: 0 },
        });
        return { type: 'ok' };
      case 'revoke': {
        const revoke = (auth as unknown as { revoke?: (io: Server, target: { user: string }) => Promise<unknown> }).revoke;
        if (typeof revoke !== 'function') return { type: 'error', message: 'auth.revoke is missing (issue 5)' };
        const started = performance.now();
        revoked.add(req.user);
        if (denyList !== undefined && config.adapter === true) await denyList.sAdd('soak:revoked', req.user);
        await revoke.call(auth, io, { user: req.user });
        return { type: 'revoked', ms: performance.now() - started };
      }
      case 'close':
        await new Promise<void>((resolve) => io.close(() => resolve()));
        // Graceful first (pending adapter publishes finish); a Redis that is down gets a bounded wait, then destroy.
        closing = true;
        await Promise.race([Promise.allSettled(redisClients.map((c) => c.close())), new Promise((r) => setTimeout(r, 1000))]);
        await Promise.allSettled(redisClients.map((c) => c.destroy()));
        setImmediate(() => process.exit(0));
        return { type: 'ok' };
    }
  };

  process.on('message', (msg: Envelope<ServerRequest>) => {
    handle(msg.body).then(
      (body) => process.send?.({ id: msg.id, body } satisfies Envelope<ServerReply>),
      (err: Error) => process.send?.({ id: msg.id, body: { type: 'error', message: err.message } } satisfies Envelope<ServerReply>),
    );
  });
  // The orchestrator going away must not leave a server behind.
  process.on('disconnect', () => process.exit(0));

  await new Promise<void>((resolve) => http.listen(config.port ?? 0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  process.send?.({ id: 0, body: { type: 'ready', port, namespaces: namespaces.map(([n]) => n), missing } } satisfies Envelope<ServerReply>);
}

main().catch((err) => {
  console.error(`[soak:${config.name}] failed to start:`, err);
  process.exit(1);
});
