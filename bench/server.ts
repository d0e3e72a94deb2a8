/**
 * One benchmark server: a real Socket.IO server on a loopback port, set up
 * as one scenario (bare, a peer library, or a sockpass strategy), in its own
 * process so its CPU time and heap are its own. The orchestrator drives it
 * over IPC: start/stop a measurement window (CPU time from
 * `process.cpuUsage()`, authenticated connections, events), count sockets,
 * read the heap after a forced GC.
 *
 * Run by bench/run.ts as `node --expose-gc --import tsx bench/server.ts <scenario>`.
 *
 * @module
 */
import { createPublicKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createServer, type RequestListener } from 'node:http';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { metrics } from '@opentelemetry/api';
import { Server, type Socket } from 'socket.io';
import { handWritten, handWrittenLife, type Middleware } from './hand-written.js';
import { HS_SECRET, hsKey, rsaPublicKey } from './keys.js';
import { loadBaseSockpass, loadSockpass, type Sockpass } from './library.js';
import { serve, type ServerReply, type ServerRequest } from './protocol.js';
import { BENCH_ORIGIN, ECHO_EVENT, scenario } from './scenarios.js';


interface Setup {
  /** Request handler of the HTTP server (the session scenario's express app). */
  http?: RequestListener;
  install(io: Server, counters: Counters): void;
}

interface Counters {
  handshakes: number;
  events: number;
}

/** The one socketio-jwt export we use; the package ships no types. */
const socketioJwt = createRequire(import.meta.url)('socketio-jwt') as {
  authorize(options: { secret: string; handshake: true; algorithms?: string[] }): Middleware;
};

const CLAIMS_COPIES = 5;

/** How long the scale phase waits at most for expired or revoked sockets to be cut. */
const CUT_TIMEOUT_MS = 60_000;

/** `auth.revoke(io, { token: jti })` of the cluster scenario. */
let revokeToken: ((jti: string) => Promise<void>) | undefined;

/** Cluster phase: when this node cut each user's socket (epoch ms), noted from `cuts-start` on. */
let cuts: Map<string, number> | undefined;

/** Wall-clock ms with sub-ms precision, comparable between the bench's processes on one machine. */
const wallNow = () => performance.timeOrigin + performance.now();

/** Cluster phase: this node's sockets that closed, by Socket.IO's reason (a storm's dropped heartbeats show here). */
const closedBy: Record<string, number> = {};

/** One listener shared by every socket (no closure per socket, so the heap figure barely moves). */
function noteCut(this: Socket, reason?: string): void {
  if (typeof reason === 'string') closedBy[reason] = (closedBy[reason] ?? 0) + 1;
  const user = (this.data as { auth?: { user?: { sub?: unknown } } }).auth?.user;
  const id = user?.sub;
  if (cuts !== undefined && typeof id === 'string') cuts.set(id, wallNow());
}

/** `auth.revoke(io, { user })` of the sockpass scenarios, the by-hand revoke of jwt-key-life; unset for the others. */
let revokeUser: ((user: string) => Promise<void>) | undefined;

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** Resolves once `inNamespace()` is at most `target`, or after CUT_TIMEOUT_MS; polls every 5 ms (a bounded, cheap wait). */
async function waitForCount(inNamespace: () => number, target: number): Promise<void> {
  const deadline = Date.now() + CUT_TIMEOUT_MS;
  while (inNamespace() > target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

const gc = (globalThis as { gc?: () => void }).gc;

function countConnections(io: Server, counters: Counters): void {
  io.on('connection', () => {
    counters.handshakes++;
  });
}

function sockpassSetup(
  library: Sockpass,
  strategy: Parameters<Sockpass['SockPass']['prototype']['use']>[1],
  extra: (io: Server, auth: InstanceType<Sockpass['SockPass']>, counters: Counters) => void = () => {},
  options?: ConstructorParameters<Sockpass['SockPass']>[0],
): Setup {
  return {
    install(io, counters) {
      const auth = new library.SockPass(options).use('bench', strategy);
      io.use(auth.middleware('bench'));
      revokeUser = (user) => auth.revoke(io, { user });
      auth.onAuthenticated(io, () => {
        counters.handshakes++;
      });
      extra(io, auth, counters);
    },
  };
}

/** The session scenario: an express app whose `/login?user=N` logs a user in with passport, as a web app would. */
async function sessionSetup(library: Sockpass): Promise<Setup> {
  const [{ default: express }, { default: session }, { Passport }] = await Promise.all([
    import('express'),
    import('express-session'),
    import('passport'),
  ]);
  const passport = new Passport();
  passport.serializeUser((user: Express.User, done) => done(null, (user as { id: string }).id));
  passport.deserializeUser((id: string, done) => done(null, { id, name: `User ${id}` }));
  const sessionMiddleware = session({
    secret: HS_SECRET,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 3_600_000 },
  });
  const app = express();
  app.use(sessionMiddleware);
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    req.login({ id: String(req.query.user) } as Express.User, (err) => (err ? next(err) : res.end('ok')));
  });
  return {
    http: app,
    ...sockpassSetup(library, library.sessionCookie({ session: sessionMiddleware, passport, allowedOrigins: [BENCH_ORIGIN] })),
  };
}

/**
 * jwt-auth with a Redis revocation ledger holding 100,000 live entries, on a
 * redis-server of its own. Half are user entries for every bench user (`sub`
 * user-N), recorded an hour before any bench token was issued: each handshake
 * finds its user in the ledger and compares ages (the costliest lookup) and is
 * still admitted. The rest are sessions and token ids no client presents.
 */
async function ledgerSetup(library: Sockpass, strategy: Parameters<Sockpass['SockPass']['prototype']['use']>[1]): Promise<Setup | string> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) return 'redis-server is not installed';
  const [{ createClient }, { startRedis }, { fillRevocations }] = await Promise.all([
    import('redis'),
    import('../test/helpers/redis.js'),
    import('../test/helpers/revocations.js'),
  ]);
  const redis = await startRedis();
  // The orchestrator stops servers with SIGTERM; exiting runs the helper's 'exit' hook, which kills redis-server.
  process.once('SIGTERM', () => process.exit(143));
  const client = createClient({ url: redis.url });
  await client.connect();
  const prefix = 'sockpass:revoked:';
  const at = Date.now() - 3_600_000;
  const until = Date.now() + 3 * 3_600_000;
  await fillRevocations(client, { prefix, kind: 'user', idPrefix: 'user-', count: 50_000, at, until });
  await fillRevocations(client, { prefix, kind: 'session', idPrefix: 'bench-session-', count: 25_000, at, until });
  await fillRevocations(client, { prefix, kind: 'token', idPrefix: 'bench-jti-', count: 25_000, at, until });
  const started = performance.now();
  const ledger = library.redisLedger({ client, prefix });
  await ledger.ready();
  console.error(`bench: sp-auth-hs-ledger: ledger loaded ${ledger.size} entries in ${(performance.now() - started).toFixed(0)} ms`);
  // `ledger` becomes a SockPass option with the lifecycle rework of issue 12; until then this row equals sp-auth-hs.
  return sockpassSetup(library, strategy, undefined, { ledger } as ConstructorParameters<Sockpass['SockPass']>[0]);
}

/**
 * One node of the cluster phase: jwt-auth with `@socket.io/redis-adapter`
 * (classic on one Redis, sharded on a Redis Cluster) and the Redis ledger,
 * on the shared Redis whose node URLs are in BENCH_CLUSTER_REDIS_URLS.
 */
async function clusterSetup(library: Sockpass, strategy: Parameters<Sockpass['SockPass']['prototype']['use']>[1]): Promise<Setup> {
  const urls = (process.env.BENCH_CLUSTER_REDIS_URLS ?? '').split(',').filter(Boolean);
  const mode = process.env.BENCH_CLUSTER_REDIS ?? 'single';
  if (urls.length === 0) throw new Error('bench: sp-auth-hs-cluster needs BENCH_CLUSTER_REDIS_URLS');
  const [{ createClient, createCluster }, { createAdapter, createShardedAdapter }] = await Promise.all([import('redis'), import('@socket.io/redis-adapter')]);
  const client = mode === 'cluster' ? createCluster({ rootNodes: urls.map((url) => ({ url })) }) : createClient({ url: urls[0] });
  client.on('error', (err: Error) => console.error(`bench: node ${process.pid}: redis: ${err.message}`));
  await client.connect();
  const sub = client.duplicate();
  sub.on('error', (err: Error) => console.error(`bench: node ${process.pid}: redis subscriber: ${err.message}`));
  await sub.connect();
  const ledger = library.redisLedger({ client });
  await ledger.ready();
  return {
    install(io, counters) {
      // 'static': one sharded channel per namespace; the per-room mode unsubscribes as rooms empty, and racing
      // unsubscribes on one shard make node-redis 5 destroy its pub/sub client twice (docs/many-nodes.md).
      io.adapter(mode === 'cluster' ? createShardedAdapter(client, sub, { subscriptionMode: 'static' }) : createAdapter(client, sub));
      // The sharded adapter's close() unsubscribes its channels together without awaiting, and node-redis 5 then
      // destroys a shard's pub/sub client twice (an uncaught ClientClosedError): the process exits after close anyway.
      if (mode === 'cluster') (io.of('/').adapter as unknown as { close(): unknown }).close = () => undefined;
      const auth = new library.SockPass({ ledger } as ConstructorParameters<Sockpass['SockPass']>[0]).use('bench', strategy);
      io.use(auth.middleware('bench'));
      revokeUser = (user) => auth.revoke(io, { user });
      revokeToken = (jti) => auth.revoke(io, { token: jti });
      auth.onAuthenticated(io, (socket: Socket) => {
        counters.handshakes++;
        socket.on('disconnect', noteCut);
      });
    },
  };
}

/**
 * jwt-auth plus an echo handler. `guard` puts `auth.guard` in front of every
 * event, as an app guarding all its events would; `noop` a socket.use that
 * only calls next(), to show what Socket.IO's middleware chain costs alone.
 */
function eventSetup(library: Sockpass, middleware: 'none' | 'noop' | 'guard'): Setup {
  const strategy = library.jwtAuth({ secret: HS_SECRET, algorithms: ['HS256'] });
  return sockpassSetup(library, strategy, (io, auth, counters) => {
    const guard = auth.guard({ [ECHO_EVENT]: (a) => a.claims.scope === 'echo', '*': false });
    const noop: Parameters<Socket['use']>[0] = (_packet, next) => next();
    auth.onAuthenticated(io, (socket: Socket) => {
      if (middleware === 'guard') socket.use(guard(socket));
      if (middleware === 'noop') socket.use(noop);
      socket.on(ECHO_EVENT, (n: number, ack: (n: number) => void) => {
        counters.events++;
        ack(n);
      });
    });
  });
}

/**
 * Every server loads Socket.IO, jsonwebtoken and sockpass, so the scenarios
 * compared with each other run in processes alike but for their middleware;
 * the heavier modules only a few scenarios use (express, passport, redis,
 * the OpenTelemetry SDK) load in those alone, which keeps starting a server
 * per round short.
 */
async function setupFor(id: string): Promise<Setup | string> {
  const library = await loadSockpass();
  const hs = { secret: HS_SECRET, algorithms: ['HS256' as const] };
  switch (id) {
    case 'bare':
      return { install: countConnections };
    case 'jwt-string':
      return { install: (io, c) => (io.use(handWritten(HS_SECRET)), countConnections(io, c)) };
    case 'jwt-key':
    case 'jwt-key-twin':
      return { install: (io, c) => (io.use(handWritten(hsKey(), ['HS256'])), countConnections(io, c)) };
    case 'jwt-key-life': {
      const life = handWrittenLife(hsKey(), ['HS256']);
      return {
        install: (io, c) => {
          life.install(io, () => c.handshakes++);
          revokeUser = async (user) => life.revoke(io, user);
        },
      };
    }
    case 'jwt-key-rs':
      return { install: (io, c) => (io.use(handWritten(createPublicKey(rsaPublicKey()), ['RS256'])), countConnections(io, c)) };
    case 'socketio-jwt':
      return { install: (io, c) => (io.use(socketioJwt.authorize({ secret: HS_SECRET, handshake: true })), countConnections(io, c)) };
    case 'thream': {
      const { authorize } = await import('@thream/socketio-jwt');
      return { install: (io, c) => (io.use(authorize({ secret: HS_SECRET })), countConnections(io, c)) };
    }
    case 'sp-auth-hs':
      return sockpassSetup(library, library.jwtAuth(hs));
    case 'sp-auth-hs-base': {
      const base = await loadBaseSockpass();
      return sockpassSetup(base, base.jwtAuth(hs));
    }
    case 'sp-auth-hs-cluster':
      return clusterSetup(library, library.jwtAuth(hs));
    case 'sp-auth-hs-ledger':
      return ledgerSetup(library, library.jwtAuth(hs));
    case 'sp-auth-metrics': {
      // What an app exporting to Prometheus runs: the SDK records every handshake into its aggregations.
      const [{ PrometheusExporter }, { MeterProvider }] = await Promise.all([import('@opentelemetry/exporter-prometheus'), import('@opentelemetry/sdk-metrics')]);
      metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] }));
      // Metrics are opt-in per registry (a build before that option records them with the SDK alone).
      return sockpassSetup(library, library.jwtAuth(hs), undefined, { metrics: true } as never);
    }
    case 'sp-auth-limit':
      return sockpassSetup(library, library.jwtAuth(hs), undefined, { rateLimit: library.handshakeLimits() });
    case 'sp-auth-rs':
      return sockpassSetup(library, library.jwtAuth({ secret: rsaPublicKey(), algorithms: ['RS256'] }));
    case 'sp-query':
      return sockpassSetup(library, library.jwtQuery({ ...hs, warnUrlLogging: false }));
    case 'sp-header':
      return sockpassSetup(library, library.jwtHeader(hs));
    case 'sp-event':
      return sockpassSetup(library, library.jwtAuthenticateEvent({ ...hs, timeout: 30_000 }));
    case 'sp-session':
      return sessionSetup(library);
    case 'ev-plain':
      return eventSetup(library, 'none');
    case 'ev-noop-use':
      return eventSetup(library, 'noop');
    case 'ev-guard':
      return eventSetup(library, 'guard');
    default:
      throw new Error(`bench: no server setup for ${id}`);
  }
}

async function main(): Promise<void> {
  const id = process.argv[2] ?? '';
  scenario(id); // throws on an unknown name
  const setup = await setupFor(id);
  if (typeof setup === 'string') {
    serve<ServerRequest, ServerReply>(async () => ({ type: 'ok' }));
    process.send?.({ id: 0, body: { type: 'skip', reason: setup } satisfies ServerReply });
    return;
  }
  const http = setup.http ? createServer(setup.http) : createServer();
  // The cluster phase's BENCH_CLUSTER_PING_INTERVAL (ms): a deployment's choice for idle sockets, fewer pings per second.
  const pingInterval = Number(process.env.BENCH_PING_INTERVAL_MS ?? Number.NaN);
  const io = new Server(http, Number.isInteger(pingInterval) && pingInterval > 0 ? { pingInterval } : {});
  const counters: Counters = { handshakes: 0, events: 0 };
  setup.install(io, counters);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));

  let window: { cpu: NodeJS.CpuUsage; at: number } | undefined;
  const collect = () => {
    for (let i = 0; i < 3; i++) gc?.();
  };

  serve<ServerRequest, ServerReply>(async (req) => {
    switch (req.type) {
      case 'measure-start':
        collect();
        counters.handshakes = 0;
        counters.events = 0;
        window = { cpu: process.cpuUsage(), at: performance.now() };
        return { type: 'ok' };
      case 'measure-stop': {
        if (window === undefined) throw new Error('measure-stop without measure-start');
        const cpu = process.cpuUsage(window.cpu);
        const wallMs = performance.now() - window.at;
        window = undefined;
        return {
          type: 'measured',
          cpuMicros: cpu.user + cpu.system,
          userMicros: cpu.user,
          handshakes: counters.handshakes,
          events: counters.events,
          wallMs,
        };
      }
      case 'count':
        return { type: 'count', sockets: io.engine.clientsCount, inNamespace: io.of('/').sockets.size, closedBy: { ...closedBy } };
      case 'expiry': {
        const inNamespace = () => io.of('/').sockets.size;
        const before = inNamespace();
        await sleepUntil(req.atMs - 1000);
        const idle = process.cpuUsage();
        await sleepUntil(req.atMs);
        const idleCpu = process.cpuUsage(idle);
        const start = process.cpuUsage();
        await waitForCount(inNamespace, before - req.expected);
        const cutMs = Date.now() - req.atMs;
        await sleepUntil(req.atMs + 1000);
        const cpu = process.cpuUsage(start);
        return {
          type: 'expiry',
          idleCpuMicros: idleCpu.user + idleCpu.system,
          cpuMicros: cpu.user + cpu.system,
          cutMs,
          cut: before - inNamespace(),
        };
      }
      case 'revoke': {
        if (revokeUser === undefined) throw new Error(`bench: ${id} has no revoke()`);
        const inNamespace = () => io.of('/').sockets.size;
        const before = inNamespace();
        const started = performance.now();
        for (const user of req.users) await revokeUser(user);
        const callsMs = performance.now() - started;
        await waitForCount(inNamespace, before - req.users.length);
        return { type: 'revoke', callsMs, goneMs: performance.now() - started, cut: before - inNamespace() };
      }
      case 'revoke-timed': {
        if (revokeUser === undefined) throw new Error(`bench: ${id} has no revoke()`);
        const resolvedAt: number[] = [];
        for (const user of req.users) {
          await revokeUser(user);
          resolvedAt.push(wallNow());
        }
        return { type: 'revoke-timed', resolvedAt };
      }
      case 'revoke-tokens': {
        if (revokeToken === undefined) throw new Error(`bench: ${id} has no revoke({ token })`);
        const callsMs: number[] = [];
        for (const jti of req.jtis) {
          const started = performance.now();
          await revokeToken(jti);
          callsMs.push(performance.now() - started);
        }
        return { type: 'revoke-tokens', callsMs };
      }
      case 'cuts-start':
        cuts = new Map();
        return { type: 'ok' };
      case 'cuts': {
        const noted = cuts ?? new Map<string, number>();
        return { type: 'cuts', users: [...noted.keys()], at: [...noted.values()] };
      }
      case 'heap': {
        if (gc === undefined) throw new Error('bench server needs --expose-gc');
        collect();
        const { heapUsed, rss } = process.memoryUsage();
        if (req.snapshotDir !== undefined) writeHeapSnapshot(join(req.snapshotDir, `${id}-${Date.now()}.heapsnapshot`));
        if (!req.claims) return { type: 'heap', heapUsed, rss };
        // What the sockets' claims objects weigh (sockpass: data.auth.claims, the hand-written middleware:
        // data.user): deep copies of each, measured the same way (several per socket, so GC noise is divided down).
        const copies: unknown[] = [];
        for (const socket of io.of('/').sockets.values()) {
          const data = socket.data as { auth?: { claims: unknown }; user?: unknown };
          const claims = data.auth?.claims ?? data.user;
          for (let i = 0; claims !== undefined && i < CLAIMS_COPIES; i++) copies.push(structuredClone(claims));
        }
        collect();
        const claimsBytes = (process.memoryUsage().heapUsed - heapUsed) / CLAIMS_COPIES;
        copies.length = 0;
        return { type: 'heap', heapUsed, rss, claimsBytes };
      }
      case 'close':
        await new Promise<void>((resolve) => io.close(() => resolve()));
        setImmediate(() => process.exit(0));
        return { type: 'ok' };
    }
  });
  process.send?.({ id: 0, body: { type: 'ready', port: (http.address() as AddressInfo).port } satisfies ServerReply });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
