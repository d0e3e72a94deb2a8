/**
 * Example: sockpass on Fastify 5. The web app logs users in with
 * @fastify/session (its cookie is `<sid>.<signature>`, not express-session's
 * `s:` form); Socket.IO is attached to Fastify's own HTTP server, and the
 * `session` strategy reads the same store through `fastifySessionReader`, so
 * the socket gets the user the session names. Only the app's own `Origin` is
 * trusted, logging out revokes the session's sockets, and a socket never
 * outlives its session.
 *
 * fastify-socket.io is not used: its current release declares fastify 4 as
 * its peer; what it does (a `Server` on `fastify.server`, closed with
 * Fastify) is the few lines below.
 *
 * Run: `npx tsx examples/fastify/server.ts` (PORT default 3015; SESSION_TTL in seconds, default 30 minutes).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifySession, { MemoryStore } from '@fastify/session';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { SockPass, fastifySessionReader, sessionCookie } from 'sockpass';
import { checkPassword, findUser, type DemoUser } from '../shared/example-app.js';
import { loggedInAt, ownOrigins } from '../shared/web-login.js';

/** What the app keeps in a session: who logged in, and when (for `revoke({ user })`). */
declare module 'fastify' {
  interface Session {
    userId?: string;
    loggedInAt?: number;
  }
}

export interface FastifyExampleOptions {
  /** 0 picks a free port. Default: `PORT`, else 3015. */
  port?: number;
  /** Default: all interfaces. */
  host?: string;
  /** Seconds a session lives. Default: `SESSION_TTL`, else 1800. */
  sessionTtl?: number;
  /** The session secret (32 characters or more). Default: `SESSION_SECRET`, else random per process. */
  secret?: string;
}

export interface FastifyExample {
  url: string;
  fastify: FastifyInstance;
  io: Server;
  auth: SockPass<DemoUser>;
  close(): Promise<void>;
}

export async function createFastifyServer(options: FastifyExampleOptions = {}): Promise<FastifyExample> {
  const secret = options.secret ?? process.env.SESSION_SECRET ?? randomBytes(32).toString('hex');
  const ttl = options.sessionTtl ?? Number(process.env.SESSION_TTL ?? 1800);
  const store = new MemoryStore();
  const fastify = Fastify();
  await fastify.register(fastifyCookie);
  await fastify.register(fastifySession, { secret, store, saveUninitialized: false, cookie: { secure: 'auto', maxAge: ttl * 1000 } });

  // Socket.IO on Fastify's HTTP server: it answers /socket.io/ and hands every other request to Fastify.
  const io = new Server(fastify.server);
  // Before Fastify waits for its connections: open sockets would keep that wait going.
  fastify.addHook('preClose', async () => {
    await io.close();
  });

  const auth = new SockPass<DemoUser>().use(
    'session',
    sessionCookie<DemoUser>({
      reader: fastifySessionReader({ store, secret }),
      user: (session) => findUser(session.userId),
      issuedAt: loggedInAt,
      // This server's own origin (ALLOWED_ORIGINS adds others): a cookie handshake from another site is refused.
      allowedOrigins: ownOrigins(fastify.server),
    }),
  );
  io.use(auth.middleware(['session']));
  auth.onAuthenticated(io, (socket) => {
    socket.emit('hello', socket.data.auth);
    socket.on('say', (text: unknown) => {
      if (typeof text === 'string' && text.length > 0 && text.length <= 500) io.emit('message', { from: socket.data.auth.user.name, text });
    });
  });

  fastify.post('/login', async (request, reply) => {
    const { username, password } = (request.body ?? {}) as { username?: unknown; password?: unknown };
    const user = checkPassword(username, password);
    if (user === undefined) return reply.code(401).send({ error: 'wrong user name or password' });
    await request.session.regenerate();
    request.session.userId = user.id;
    request.session.loggedInAt = Date.now();
    return { user };
  });
  fastify.get('/me', async (request, reply) => {
    const user = findUser(request.session.userId);
    return user ?? reply.code(401).send({ error: 'not logged in' });
  });
  fastify.post('/logout', async (request) => {
    const sid = request.session.sessionId;
    await request.session.destroy();
    // The sockets of this session go with it, on every node (through the adapter).
    await auth.revoke(io, { session: sid }, 'you logged out');
    return { ok: true };
  });

  await fastify.listen({ port: options.port ?? Number(process.env.PORT ?? 3015), host: options.host ?? '0.0.0.0' });
  const { port } = fastify.server.address() as AddressInfo;
  const host = options.host === undefined || options.host === '0.0.0.0' ? 'localhost' : options.host;
  return { url: `http://${host}:${port}`, fastify, io, auth, close: () => fastify.close() };
}

const entry = process.argv[1];
if (entry !== undefined && pathToFileURL(entry).href === import.meta.url) {
  createFastifyServer().then(
    (server) => {
      console.log(`sockpass fastify example listening on ${server.url}`);
      const stop = () => void server.close().then(() => process.exit(0), () => process.exit(1));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
