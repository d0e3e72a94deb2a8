/**
 * One node of the cluster example: an express app and a Socket.IO server that
 * share sessions (connect-redis), broadcasts (@socket.io/redis-adapter) and
 * the revocation ledger (`redisLedger`, mirrored in each node's memory) with
 * every other node through one Redis. Any node can log a user in, and a
 * revoke or logout on any node cuts that user's sockets on all of them and
 * keeps the revoked credentials out of all of them afterwards.
 *
 * Clients use the websocket transport only, so a load balancer needs no
 * sticky sessions (long-polling would need them: its requests must all reach
 * the node that holds the session).
 *
 * Routes: `POST /login {user}` → session cookie + JWT; `POST /logout` (cookie)
 * revokes that session's sockets; `POST /revoke {user}` revokes a user's
 * sockets; `POST /broadcast {text}` emits `news` to every socket of every node;
 * `GET /metrics` shows sockpass's metrics for Prometheus (see `metrics.ts`).
 * Refused handshakes are limited per address across all nodes (rate limits on
 * the same Redis).
 *
 * Run one: `REDIS_URL=redis://127.0.0.1:6379 PORT=3001 JWT_SECRET=… SESSION_SECRET=… npx tsx examples/cluster/node.ts`;
 * `examples/cluster/start.ts` runs two and a demo.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createAdapter } from '@socket.io/redis-adapter';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import jwt from 'jsonwebtoken';
import { createClient } from 'redis';
import { Server, type Socket } from 'socket.io';
import { SockPass, handshakeLimits, jwtAuth, redisLedger, sessionCookie } from 'sockpass';
import { prometheusHandler } from './metrics.js';

export interface ClusterUser {
  id: string;
}

export interface NodeOptions {
  redisUrl: string;
  jwtSecret: string;
  sessionSecret: string;
  name: string;
  port?: number;
  /** Token lifetime in seconds. */
  tokenTtl?: number;
}

export interface ClusterNode {
  url: string;
  close(): Promise<void>;
}

export const SESSION_COOKIE = 'cluster.sid';

export async function startNode(options: NodeOptions): Promise<ClusterNode> {
  const redis = createClient({ url: options.redisUrl });
  const subscriber = redis.duplicate();
  // Outages surface as store_unavailable on handshakes; keep the node up meanwhile.
  redis.on('error', () => {});
  subscriber.on('error', () => {});
  await Promise.all([redis.connect(), subscriber.connect()]);

  const sessions = session({
    name: SESSION_COOKIE,
    secret: options.sessionSecret,
    store: new RedisStore({ client: redis, prefix: 'cluster:sess:' }),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
  });

  const app = express();
  const http = createServer(app);
  const io = new Server(http, { transports: ['websocket'], adapter: createAdapter(redis, subscriber, { key: 'cluster' }) });

  // What a revoke records, shared by every node: without it a revoked token is refused only on the
  // node that revoked it. Served from memory; ready() once the mirror is loaded.
  const ledger = redisLedger({ client: redis });
  await ledger.ready();

  const auth = new SockPass<ClusterUser>({
    ledger,
    revalidateInterval: 30_000,
    metrics: true,
    // One count of refused handshakes per address for the whole cluster, in the same Redis.
    rateLimit: handshakeLimits({ redis, keyPrefix: 'cluster:limit', address: { points: 30, duration: 60 } }),
  })
    .use('jwt-auth', jwtAuth({ secret: options.jwtSecret, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }))
    .use('session', sessionCookie<ClusterUser>({
      session: sessions,
      name: SESSION_COOKIE,
      user: (s) => (s as { user?: ClusterUser }).user,
      // Stamped at login below: a revoke({ user }) refuses sessions logged in before it, not the next login.
      issuedAt: (s) => s.loggedInAt as number | undefined,
      // Browsers on this page send its Origin; the demo's Node clients send none.
      allowedOrigins: (origin) => origin === `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    }));
  io.use(auth.middleware(['jwt-auth', 'session']));
  auth.onAuthenticated<Socket>(io, (socket) => {
    socket.emit('hello', { node: options.name, user: socket.data.auth.user, strategy: socket.data.auth.strategy });
  });

  app.get('/metrics', prometheusHandler());
  app.use(express.json());
  app.post('/login', sessions, (req, res) => {
    const user = typeof req.body?.user === 'string' && /^[a-z0-9-]{1,32}$/.test(req.body.user) ? req.body.user : undefined;
    if (user === undefined) return void res.status(400).json({ error: 'user: lowercase letters, digits, dashes' });
    const login = req.session as unknown as { user: ClusterUser; loggedInAt: number };
    login.user = { id: user };
    login.loggedInAt = Date.now();
    const token = jwt.sign({ sub: user }, options.jwtSecret, { algorithm: 'HS256', expiresIn: options.tokenTtl ?? 300 });
    res.json({ node: options.name, token });
  });
  app.post('/logout', sessions, async (req, res) => {
    const sid = req.sessionID;
    await auth.revoke(io, { session: sid }, 'you logged out');
    req.session.destroy(() => res.json({ node: options.name, revoked: 'session' }));
  });
  app.post('/revoke', async (req, res) => {
    const user = req.body?.user;
    if (typeof user !== 'string' || user === '') return void res.status(400).json({ error: 'user required' });
    await auth.revoke(io, { user }, typeof req.body?.reason === 'string' ? req.body.reason : 'access revoked');
    res.json({ node: options.name, revoked: user });
  });
  app.post('/broadcast', (req, res) => {
    io.emit('news', { from: options.name, text: String(req.body?.text ?? '') });
    res.json({ node: options.name });
  });

  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await ledger.close();
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
    },
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const name = process.env.NODE_NAME ?? 'node';
  startNode({
    redisUrl: required('REDIS_URL'),
    jwtSecret: required('JWT_SECRET'),
    sessionSecret: required('SESSION_SECRET'),
    name,
    port: Number(process.env.PORT ?? 0),
  }).then(
    (node) => {
      // start.ts reads this line to learn the URL.
      console.log(`${name} listening on ${node.url}`);
      const stop = () => void node.close().then(() => process.exit(0), () => process.exit(1));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(`${name} failed to start:`, (err as Error).message);
      process.exit(1);
    },
  );
}
