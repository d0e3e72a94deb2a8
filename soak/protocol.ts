/**
 * The IPC between the soak's orchestrator and the servers under test, which
 * run in their own processes (`node --expose-gc`) so that their heap, handles
 * and crashes are their own and not the client drivers'. Every request gets
 * exactly one reply with its id, and every wait is bounded.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ServerConfig {
  /** Label in logs. */
  name: string;
  /** Ms a socket of the `authenticate` event strategy may stay unauthenticated. */
  eventTimeout: number;
  /** Redis for the session store (connect-redis); MemoryStore when absent. */
  redisUrl?: string;
  /** Also use @socket.io/redis-adapter on `redisUrl` (many nodes). */
  adapter?: boolean;
  /** Ms before expiry that the server asks for a fresh token (`auth:refresh`); 0 = never. */
  refreshBefore?: number;
  /** The session strategy's bound on a store read, ms (sockpass's default is 2000). */
  storeTimeout?: number;
  /** Fixed port (a restarted node keeps its address); a free one when absent. */
  port?: number;
}

export interface Counters {
  /** `connection` events on every namespace (includes sockets still in quarantine). */
  connections: number;
  /** Sockets that reached `auth.onAuthenticated`. */
  authenticated: number;
  /** Refusals reported by `auth.on('failure')`, by code. */
  refusals: Record<string, number>;
  unhandledRejections: number;
  uncaughtExceptions: number;
  /** `probe` events that reached a handler while their socket had no `data.auth`: must stay 0. */
  unauthenticatedEventsHandled: number;
  /** `probe` events handled for authenticated sockets. */
  probes: number;
  /** Sockets that disconnected without ever authenticating: how long each lived, on the server's clock. */
  pendingLifetimes: { count: number; minMs: number; maxMs: number };
  /** Sockets that left at or after their credential's expiry: how long past it, on the server's clock. */
  expiredLifetimes: { count: number; maxLateMs: number };
  /** Events a guard rule closes that reached their handler anyway (numeric names, `42[7,"x"]`): must stay 0. */
  guardBypasses: number;
  /** Sockets whose merged claims (mode `all`) inherit a value, e.g. from a signed `__proto__` claim: must stay 0. */
  inheritedClaims: number;
  /** Sockets admitted with an expiry that left without one (an in-band refresh to a token without `exp`). */
  expiryRemoved: number;
  /** First few error messages, for the log. */
  errors: string[];
}

export interface ServerStats {
  heapUsed: number;
  rss: number;
  /** `process.getActiveResourcesInfo()`, counted by type (IPC pipe and the listening socket included). */
  resources: Record<string, number>;
  /** Listener counts of the http server, engine, io, every namespace, and process. */
  listeners: Record<string, number>;
  /**
   * Sockets between their `connection` and `disconnect` events on this node,
   * authenticated or not (quarantined sockets are not in `nsp.sockets`).
   */
  sockets: number;
  /** Of those, sockets without `data.auth` (quarantined). */
  pending: number;
  /** Sockets in the namespaces' public `nsp.sockets` Maps. */
  nspSockets: number;
  /** Live sockets whose `data.auth.expiresAt` passed more than 1 s ago: must be 0. */
  overdue: number;
  /** Engine.IO connections. */
  engineClients: number;
  counters: Counters;
  /** Names in the registry's revocation list (`auth.lifecycle.namespaces`). */
  registryNamespaces: number;
  /** Namespaces the Socket.IO server holds (its private `_nsps`; read for the soak's figures only). */
  serverNamespaces: number;
  /** Own properties of Object.prototype: grows only if something was polluted. */
  prototypeKeys: number;
}

export type ServerRequest =
  /** `gc: true` forces three full collections first (the server runs with --expose-gc). */
  | { type: 'stats'; gc?: boolean }
  /** `auth.revoke(io, { user })`, and the user joins the deny list `isRevoked` reads. */
  | { type: 'revoke'; user: string }
  | { type: 'reset-counters' }
  | { type: 'close' };

export type ServerReply =
  | { type: 'ready'; port: number; namespaces: string[]; missing: string[] }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'revoked'; ms: number }
  | { type: 'error'; message: string }
  | { type: 'ok' };

export interface Envelope<T> {
  id: number;
  body: T;
}

export interface ServerHandle {
  name: string;
  url: string;
  port: number;
  /** Namespaces this server mounted (`/`, `/passport`, `/event`, `/session`, `/mixed`). */
  namespaces: string[];
  /** Pieces of sockpass the server could not find (the scenario skips what needs them). */
  missing: string[];
  child: ChildProcess;
  request(body: ServerRequest, ms?: number): Promise<ServerReply>;
  stats(gc?: boolean): Promise<ServerStats>;
  /** Set when the process exited before `close()`/`kill()` asked it to: a crash. */
  crashed(): string | undefined;
  kill(): Promise<void>;
  close(): Promise<void>;
}

let nextId = 1;
const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Starts one server under test in its own process and waits until it listens. */
export async function spawnServer(config: ServerConfig, ms = 20_000): Promise<ServerHandle> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SERVER], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SOAK_SERVER_CONFIG: JSON.stringify(config) },
  });
  let expectedExit = false;
  let crash: string | undefined;
  child.once('exit', (code, signal) => {
    if (!expectedExit) crash = `server ${config.name} exited (code ${code}, signal ${signal})`;
  });
  const request = (body: ServerRequest, wait = 30_000) =>
    new Promise<ServerReply>((resolve, reject) => {
      const id = nextId++;
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onMessage = (msg: Envelope<ServerReply>) => {
        if (msg?.id !== id) return;
        cleanup();
        resolve(msg.body);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`server ${config.name} exited during ${body.type}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`server ${config.name} did not answer ${body.type} within ${wait} ms`));
      }, wait);
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return onExit();
      child.send({ id, body } satisfies Envelope<ServerRequest>);
    });

  const ready = await new Promise<Extract<ServerReply, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server ${config.name} not ready within ${ms} ms`)), ms);
    child.on('message', function onReady(msg: Envelope<ServerReply>) {
      if (msg?.id !== 0 || msg.body.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onReady);
      resolve(msg.body);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server ${config.name} exited before it was ready (code ${code})`));
    });
  });

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    name: config.name,
    url: `http://127.0.0.1:${ready.port}`,
    port: ready.port,
    namespaces: ready.namespaces,
    missing: ready.missing,
    child,
    request,
    async stats(gc = false) {
      const reply = await request({ type: 'stats', gc });
      if (reply.type !== 'stats') throw new Error(`stats: ${JSON.stringify(reply)}`);
      return reply.stats;
    },
    crashed: () => crash,
    async kill() {
      expectedExit = true;
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      expectedExit = true;
      try {
        await request({ type: 'close' }, 10_000);
      } catch {
        // already gone, or stuck: the kill below ends it either way
      }
      const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(late);
    },
  };
}
