/**
 * The IPC messages between the orchestrator (bench/run.ts) and its two kinds
 * of child process: a server per scenario (bench/server.ts) and the client
 * driver (bench/clients.ts). Every request carries an id and gets exactly one
 * reply with that id, so the orchestrator can bound each wait.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type { Credential } from './scenarios.js';

export type ServerRequest =
  /** Forces GC, then starts counting CPU time and authenticated connections. */
  | { type: 'measure-start' }
  | { type: 'measure-stop' }
  /** Connected sockets right now (the driver waits for 0 between rounds). */
  | { type: 'count' }
  /** heapUsed after forced GC; with `claims`, also what the sockets' claims objects weigh. */
  | { type: 'heap'; claims?: boolean; snapshotDir?: string }
  /**
   * Scale phase: CPU of the second from `atMs` (when `expected` sockets' tokens
   * expire) against the idle second before it, and how long until they are cut.
   */
  | { type: 'expiry'; atMs: number; expected: number }
  /** Scale phase: `auth.revoke(io, { user })` for each user, one after the other, and until their sockets are gone. */
  | { type: 'revoke'; users: string[] }
  /** Cluster phase: `auth.revoke(io, { user })` one after the other; when each call resolved (epoch ms, sub-ms). */
  | { type: 'revoke-timed'; users: string[] }
  /** Cluster phase: `auth.revoke(io, { token: jti })` one after the other; how long each call took. */
  | { type: 'revoke-tokens'; jtis: string[] }
  /** Cluster phase: from now on, note when each user's socket is cut on this node. */
  | { type: 'cuts-start' }
  /** Cluster phase: the cuts noted since `cuts-start`. */
  | { type: 'cuts' }
  | { type: 'close' };

export type ServerReply =
  | { type: 'ready'; port: number }
  | { type: 'skip'; reason: string }
  | { type: 'measured'; cpuMicros: number; userMicros: number; handshakes: number; events: number; wallMs: number }
  /** `sockets`: engine connections; `inNamespace`: sockets of `/` (gone at once when the server cuts one). */
  | { type: 'count'; sockets: number; inNamespace: number; closedBy?: Record<string, number> }
  | { type: 'heap'; heapUsed: number; rss: number; claimsBytes?: number }
  | { type: 'expiry'; idleCpuMicros: number; cpuMicros: number; cutMs: number; cut: number }
  | { type: 'revoke'; callsMs: number; goneMs: number; cut: number }
  | { type: 'revoke-timed'; resolvedAt: number[] }
  | { type: 'revoke-tokens'; callsMs: number[] }
  /** Per user: when (epoch ms, sub-ms) this node cut its socket. */
  | { type: 'cuts'; users: string[]; at: number[] }
  | { type: 'ok' };

export interface HandshakeJob {
  type: 'handshakes';
  url: string;
  credential: Credential;
  /** One per client; a token, or a `name=value` cookie for the session scenario. */
  credentials: string[];
  /** Handshakes in flight at most at once. The sockets stay open until `disconnect-all`. */
  concurrency: number;
  /** Loopback source address (127.0.0.x): each gives its own ~28k ephemeral ports towards the server. */
  localAddress?: string;
}

/** Sends events with acks on every socket the last handshake job left open. */
export interface EventJob {
  type: 'events';
  /** Events each socket sends. */
  perSocket: number;
  /** Acks each socket waits for at most at once. */
  window: number;
}

export type ClientRequest =
  | HandshakeJob
  | EventJob
  /** Logs in `count` users over HTTP and returns their signed session cookies. */
  | { type: 'login'; url: string; count: number }
  | { type: 'disconnect-all' }
  /**
   * Cluster phase, a node about to be killed: every socket opened to `from`
   * (connected or already cut) opens a new one with the same credential to
   * one of `to` once the node is gone, after a socket.io-client-like
   * reconnection delay (500–1500 ms), retrying with its backoff when an attempt times out.
   */
  | { type: 'arm-failover'; from: string; to: string[] }
  /** Waits (at most `ms`) until every armed socket was re-admitted or refused. */
  | { type: 'failover-wait'; ms: number }
  | { type: 'close' };

export type ClientReply =
  | { type: 'handshakes'; wallMs: number; latenciesMs: number[]; failures: number; firstError?: string }
  | { type: 'events'; wallMs: number; events: number; failures: number; firstError?: string }
  | { type: 'login'; cookies: string[] }
  /**
   * `armed`: sockets that were to fail over; `outcomes`: how many ended each
   * way ('connected' or a refusal code); `admittedAt`: epoch ms of each
   * re-admission; `admittedUsers`: the `sub` of each re-admitted token (read, not verified).
   */
  | { type: 'failover'; armed: number; outcomes: Record<string, number>; admittedAt: number[]; admittedUsers: string[] }
  | { type: 'ok' };

export interface Envelope<T> {
  id: number;
  body: T;
}

let nextId = 1;

/** Sends one request to a child and resolves with its reply; rejects after `ms` or if the child dies. */
export function request<Req, Rep>(child: ChildProcess, body: Req, ms: number): Promise<Rep> {
  const id = nextId++;
  return new Promise<Rep>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (msg: Envelope<Rep>) => {
      if (msg?.id !== id) return;
      cleanup();
      resolve(msg.body);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`bench: child exited (${code}) during ${(body as { type: string }).type}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`bench: no reply to ${(body as { type: string }).type} within ${ms} ms`));
    }, ms);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ id, body } satisfies Envelope<Req>);
  });
}

/** In a child: answers each request with the handler's result; exits when the parent goes away. */
export function serve<Req, Rep>(handler: (req: Req) => Promise<Rep>): void {
  process.on('message', (msg: Envelope<Req>) => {
    handler(msg.body).then(
      (reply) => process.send?.({ id: msg.id, body: reply }),
      (err: unknown) => {
        console.error('bench child failed:', err);
        process.exit(1);
      },
    );
  });
  process.on('disconnect', () => process.exit(0));
}
