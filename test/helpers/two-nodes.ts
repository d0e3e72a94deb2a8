/**
 * Two (or more) sockpass nodes on one real redis-server, with the Socket.IO
 * adapter chosen by kind: `classic` (@socket.io/redis-adapter's pub/sub),
 * `sharded` (its `createShardedAdapter`, Redis 7 sharded pub/sub, default
 * `dynamic` mode) or `streams` (@socket.io/redis-streams-adapter, which
 * persists sessions for connection-state recovery). Each node is what one
 * process would hold: its own Redis connections, its own `redisLedger` (so a
 * revoke on one node is refused at the other's next handshake), its own
 * SockPass with `jwt-auth`. `closeNodes()` tears down every node started.
 */
import { createAdapter as createClassicAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import type { Server, ServerOptions, Socket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, jwtAuth, redisLedger, type FailureEvent, type RevocationLedger } from 'sockpass';
import { closeClient, subscriptionsAnswered } from './redis.js';
import { startServer, type ClientOptions, type TestServer } from './server.js';
import { hs256, SECRET } from './tokens.js';

export type AdapterKind = 'classic' | 'sharded' | 'streams';
type Claims = Record<string, unknown>;

export interface Node {
  auth: SockPass<Claims>;
  server: TestServer;
  io: Server;
  ledger: RevocationLedger;
  /** The last authenticated server-side socket of each `sub`, on this node. */
  sockets: Map<string, Socket>;
  /** The registry's `failure` events. */
  failures: FailureEvent[];
  /**
   * A client of this node with a fresh HS256 token for `claims` in its `auth` payload, beside `extra`
   * (websocket, no reconnection unless asked).
   */
  client(claims: Claims, options?: ClientOptions, extra?: Record<string, unknown>): ClientSocket;
}

export interface NodeOptions {
  /** Runs on the server before sockpass's middleware (a middleware that sees every handshake). */
  beforeAuth?: (io: Server) => void;
  /** Runs on the server after the adapter, `auth.attach(io)` and the middleware are in place: policies, handlers. */
  setup?: (io: Server, auth: SockPass<Claims>) => void;
  server?: Partial<ServerOptions>;
  /** The ledger's key prefix: nodes that share one see each other's revocations. Default the ledger's. */
  ledgerPrefix?: string;
}

const closers: Array<() => Promise<unknown>> = [];

/** One node on `redisUrl` with the `kind` adapter. */
export async function startNode(redisUrl: string, kind: AdapterKind, options: NodeOptions = {}): Promise<Node> {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  const forLedger = pub.duplicate();
  for (const c of [pub, sub, forLedger]) c.on('error', () => undefined);
  await Promise.all([pub.connect(), sub.connect(), forLedger.connect()]);
  closers.push(() => Promise.all([closeClient(pub), closeClient(sub), closeClient(forLedger)]));
  const ledger = redisLedger({ client: forLedger, onError: () => undefined, ...(options.ledgerPrefix ? { prefix: options.ledgerPrefix } : {}) });
  closers.push(() => ledger.close());
  await ledger.ready();
  const auth = new SockPass<Claims>({ ledger }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const failures: FailureEvent[] = [];
  auth.on('failure', (f) => failures.push(f));
  const sockets = new Map<string, Socket>();
  const server = await startServer((io) => {
    io.adapter(
      kind === 'classic' ? createClassicAdapter(pub, sub) : kind === 'sharded' ? createShardedAdapter(pub, sub) : createStreamsAdapter(pub),
    );
    auth.attach(io);
    options.beforeAuth?.(io);
    io.use(auth.middleware('jwt-auth'));
    auth.onAuthenticated(io, (s: Socket) => sockets.set(String(s.data.auth.claims.sub), s));
    options.setup?.(io, auth);
  }, options.server);
  closers.push(() => server.close());
  if (kind !== 'streams') await subscriptionsAnswered(sub);
  return {
    auth,
    server,
    io: server.io,
    ledger,
    sockets,
    failures,
    client: (claims, opts = {}, extra = {}) => server.client('/', { ...opts, auth: { ...extra, token: hs256(claims) } }),
  };
}

/** Closes every node started since the last call (servers first, then ledgers, then Redis connections). */
export async function closeNodes(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
}

/**
 * Counts the packets of `event` that reach `client` on the wire (engine level, before
 * socket.io-client dispatches them), across reconnections.
 */
export function countPackets(client: ClientSocket, event: string): { readonly count: number; readonly data: string[] } {
  const data: string[] = [];
  const listen = () =>
    client.io.engine.on('packet', (p: { type: string; data?: unknown }) => {
      if (typeof p.data === 'string' && p.data.includes(`"${event}"`)) data.push(p.data);
    });
  if (client.io.engine) listen();
  client.io.on('open', listen);
  return {
    get count() {
      return data.length;
    },
    data,
  };
}
