/**
 * What every example app shares, so that each example's server.ts shows only
 * its strategy: the demo users, signing demo tokens, the express app that
 * serves the page, the browser bundle of `sockpass/client` and the shared page
 * script, the live messages, and starting on `PORT` with the URL printed.
 *
 * Demo only: users and passwords are hard-coded, and the token secret is
 * random per process unless `JWT_SECRET` is set.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket as TcpSocket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express, { type Express, type Request } from 'express';
import jwt from 'jsonwebtoken';
import { Server, type Namespace, type Socket } from 'socket.io';
import type { JwtVerifyOptions, SockPass, SockPassMiddleware, SockPassOptions } from 'sockpass';

export interface DemoUser {
  id: string;
  name: string;
  role: 'admin' | 'member';
}

const ACCOUNTS = [
  { username: 'alice', password: 'wonderland', user: { id: '1', name: 'Alice', role: 'admin' } },
  { username: 'bob', password: 'builder', user: { id: '2', name: 'Bob', role: 'member' } },
] as const satisfies readonly { username: string; password: string; user: DemoUser }[];

export function checkPassword(username: unknown, password: unknown): DemoUser | undefined {
  const account = ACCOUNTS.find((a) => a.username === username && a.password === password);
  return account === undefined ? undefined : { ...account.user };
}

export function findUser(id: unknown): DemoUser | undefined {
  const account = ACCOUNTS.find((a) => a.user.id === id);
  return account === undefined ? undefined : { ...account.user };
}

/** Claims → user, as every JWT strategy of the examples is configured. */
export function userFromClaims(claims: Record<string, unknown>): DemoUser {
  return { id: String(claims.sub), name: String(claims.name), role: claims.role === 'admin' ? 'admin' : 'member' };
}

export interface IssuedToken {
  token: string;
  expiresAt: string;
}

export interface TokenIssuer {
  readonly secret: string;
  /** Seconds a token lives. */
  readonly ttl: number;
  issue(user: DemoUser): IssuedToken;
  /** A correctly signed token that expired a minute ago, for the "expired token" button. */
  issueExpired(user: DemoUser): IssuedToken;
  /** The user of a token that verifies now, else undefined. */
  verify(token: unknown): DemoUser | undefined;
}

export function createTokenIssuer(ttl: number, secret = process.env.JWT_SECRET ?? randomBytes(32).toString('hex')): TokenIssuer {
  if (!(ttl > 0)) throw new TypeError('token lifetime must be a positive number of seconds');
  const sign = (user: DemoUser, exp: number): IssuedToken => ({
    token: jwt.sign({ sub: user.id, name: user.name, role: user.role, exp }, secret, { algorithm: 'HS256' }),
    expiresAt: new Date(exp * 1000).toISOString(),
  });
  const now = () => Math.floor(Date.now() / 1000);
  return {
    secret,
    ttl,
    issue: (user) => sign(user, now() + Math.round(ttl)),
    issueExpired: (user) => sign(user, now() - 60),
    verify(token) {
      if (typeof token !== 'string') return undefined;
      try {
        return userFromClaims(jwt.verify(token, secret, { algorithms: ['HS256'] }) as Record<string, unknown>);
      } catch {
        return undefined;
      }
    },
  };
}

/** The bearer token of an HTTP request, if any. */
function bearerOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' && /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, '') : undefined;
}

const BROWSER_BUNDLE = fileURLToPath(new URL('../../dist/browser/sockpass-client.js', import.meta.url));
const SHARED_PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * An express app serving `publicDir` (the example's page), `/shared/` (the
 * shared page script and styles) and `/sockpass-client.js` (the browser ESM
 * bundle that `npm run build` writes to dist/browser/).
 */
export function createExampleApp(publicDir: string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));
  // The last bundle read is kept, so a rebuild that briefly empties dist/ does not break an open page.
  let bundle: Buffer | undefined;
  const readBundle = () => {
    try {
      bundle = readFileSync(BROWSER_BUNDLE);
    } catch {
      // dist/ is being rebuilt or was never built: keep the last copy, if any.
    }
  };
  readBundle();
  app.get('/sockpass-client.js', (_req, res) => {
    readBundle();
    if (bundle === undefined) {
      res.status(503).type('text/plain').send('dist/browser/sockpass-client.js is missing: run `npm run build` first');
      return;
    }
    res.type('text/javascript').send(bundle);
  });
  app.use('/shared', express.static(SHARED_PUBLIC));
  app.use(express.static(publicDir));
  return app;
}

/**
 * The token routes of the JWT examples: `POST /login` (password → token),
 * `POST /token` (a still-valid bearer token → a fresh one, for `auth:refresh`)
 * and `POST /demo/expired-token` (for the page's "expired token" button).
 */
export function serveTokenRoutes(app: Express, tokens: TokenIssuer): void {
  app.post('/login', (req, res) => {
    const user = checkPassword(req.body?.username, req.body?.password);
    if (user === undefined) return void res.status(401).json({ error: 'wrong username or password' });
    res.json({ user, ttl: tokens.ttl, ...tokens.issue(user) });
  });
  app.post('/token', (req, res) => {
    const user = tokens.verify(bearerOf(req));
    if (user === undefined) return void res.status(401).json({ error: 'a valid token is required' });
    res.json({ user, ttl: tokens.ttl, ...tokens.issue(user) });
  });
  app.post('/demo/expired-token', (req, res) => {
    const user = tokens.verify(bearerOf(req));
    if (user === undefined) return void res.status(401).json({ error: 'a valid token is required' });
    res.json(tokens.issueExpired(user));
  });
}

/** Ms before expiry at which the server sends `auth:refresh`: a third of the lifetime, at least 1 s. */
export function refreshBeforeFor(ttlSeconds: number): number {
  return Math.max(1000, Math.round((ttlSeconds * 1000) / 3));
}

/** Users' messages and a server tick: the "live messages" every page shows. */
export function serveMessages(nsp: Namespace | Server, socket: Socket, user: DemoUser): void {
  socket.on('say', (text: unknown) => {
    if (typeof text !== 'string' || text.length === 0 || text.length > 500) return;
    nsp.emit('message', { from: user.name, text, at: new Date().toISOString() });
  });
}

/**
 * What every example does with an authenticated socket: tell the page who the
 * server saw (`hello` with `socket.data.auth`) and relay its messages.
 */
export function serveDemoSockets(auth: SockPass<DemoUser>, nsp: Namespace | Server): void {
  auth.onAuthenticated<Socket>(nsp, (socket) => {
    socket.emit('hello', { ...socket.data.auth, transport: socket.conn.transport.name });
    serveMessages(nsp, socket, socket.data.auth.user);
  });
}

/** Emits a `message` to every socket of each namespace every `ms`; returns the stop function. */
export function startTicker(namespaces: readonly (Namespace | Server)[], ms = 2000): () => void {
  let n = 0;
  const timer = setInterval(() => {
    n += 1;
    for (const nsp of namespaces) nsp.emit('message', { from: 'server', text: `tick ${n}`, at: new Date().toISOString() });
  }, ms);
  return () => clearInterval(timer);
}

export interface ExampleServer {
  /** e.g. `http://127.0.0.1:43121`. */
  url: string;
  port: number;
  http: HttpServer;
  io: Server;
  close(): Promise<void>;
}

export interface ExampleOptions {
  /** 0 picks a free port. Default: `PORT` from the environment, else 3000. */
  port?: number;
  /** Default: all interfaces. Tests pass `127.0.0.1`. */
  host?: string;
  /** Seconds a token lives. Default: `TOKEN_TTL` from the environment, else the example's own. */
  tokenTtl?: number;
}

export function envPort(fallback = 3000): number {
  const port = Number(process.env.PORT ?? fallback);
  return Number.isInteger(port) && port >= 0 ? port : fallback;
}

function envTokenTtl(fallback: number): number {
  const ttl = Number(process.env.TOKEN_TTL);
  return ttl > 0 ? ttl : fallback;
}

/** Listens, and returns the URL a browser on this machine can open. */
async function listen(http: HttpServer, port: number, host?: string): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const actual = (http.address() as AddressInfo).port;
  return { port: actual, url: `http://${host === undefined || host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${actual}` };
}

/** How long a shutdown waits for clients to answer the WebSocket close handshake. */
const CLOSE_GRACE_MS = 500;

/** Every TCP connection of the server, upgraded WebSockets included (the HTTP server stops tracking those). */
function trackConnections(http: HttpServer): Set<TcpSocket> {
  const open = new Set<TcpSocket>();
  http.on('connection', (socket: TcpSocket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/**
 * Closes Socket.IO (and with it the HTTP server). A browser tab that went away
 * may never answer the WebSocket close handshake, and ws would wait 30 s for
 * it: whatever is still open after a short grace is destroyed.
 */
async function closeServer(io: Server, http: HttpServer, open: Set<TcpSocket>): Promise<void> {
  const closed = new Promise<void>((resolve) => io.close(() => resolve()));
  http.closeIdleConnections();
  const grace = setTimeout(() => {
    for (const socket of open) socket.destroy();
  }, CLOSE_GRACE_MS);
  await closed;
  clearTimeout(grace);
}

export interface ExampleParts {
  app: Express;
  http: HttpServer;
  io: Server;
  tokens: TokenIssuer;
}

/**
 * The frame of an example: express app serving `publicDir`, HTTP server,
 * Socket.IO server and token issuer; `setup` adds the example's own routes and
 * sockpass wiring and returns the namespaces that get the server tick, plus
 * anything to close on shutdown. Then it listens.
 */
export async function startExample(
  publicDir: URL,
  options: ExampleOptions,
  defaultTtl: number,
  setup: (parts: ExampleParts) => Promise<ExampleSetup> | ExampleSetup,
): Promise<ExampleServer> {
  const tokens = createTokenIssuer(options.tokenTtl ?? envTokenTtl(defaultTtl));
  const app = createExampleApp(fileURLToPath(publicDir));
  const http = createServer(app);
  const open = trackConnections(http);
  const io = new Server(http);
  const { ticker = [io], close: closeExtra } = await setup({ app, http, io, tokens });
  const stopTicker = startTicker(ticker);
  let address: { url: string; port: number };
  try {
    address = await listen(http, options.port ?? envPort(), options.host);
  } catch (err) {
    stopTicker();
    await closeExtra?.();
    throw err;
  }
  return {
    ...address,
    http,
    io,
    async close() {
      stopTicker();
      await closeServer(io, http, open);
      await closeExtra?.();
    },
  };
}

/** What a JWT example's own file decides: its registry and its chain. */
export interface TokenExampleWiring {
  auth: SockPass<DemoUser>;
  middleware: SockPassMiddleware;
}

/**
 * The frame of the JWT examples: the token routes, then the example's own
 * registry and chain (built by `wire` from the demo's verify options and
 * refresh timing) on the main namespace, and the demo sockets.
 */
export function startTokenExample(
  publicDir: URL,
  options: ExampleOptions,
  defaultPort: number,
  wire: (config: { jwt: JwtVerifyOptions<DemoUser>; lifecycle: SockPassOptions<DemoUser> }) => TokenExampleWiring,
): Promise<ExampleServer> {
  return startExample(publicDir, { ...options, port: options.port ?? envPort(defaultPort) }, 60, ({ app, io, tokens }) => {
    serveTokenRoutes(app, tokens);
    const { auth, middleware } = wire({
      jwt: { secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims },
      lifecycle: { refreshBefore: refreshBeforeFor(tokens.ttl) },
    });
    io.use(middleware);
    serveDemoSockets(auth, io);
    return {};
  });
}

export interface ExampleSetup {
  /** Namespaces that get a `message` every 2 s. Default: the main namespace. */
  ticker?: readonly (Namespace | Server)[];
  /** Closes what the example opened besides the HTTP and Socket.IO servers (e.g. Redis clients). */
  close?: () => Promise<void>;
}

/**
 * Runs `start` when this file is the process entry (`npx tsx examples/x/server.ts`),
 * prints the URL, and closes cleanly on Ctrl-C.
 */
export function runIfMain(moduleUrl: string, title: string, start: () => Promise<ExampleServer>): void {
  const entry = process.argv[1];
  if (entry === undefined || pathToFileURL(entry).href !== moduleUrl) return;
  start().then(
    (server) => {
      console.log(`${title} listening on ${server.url}`);
      const stop = () => {
        server.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
