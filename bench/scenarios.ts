/**
 * The benchmark's scenarios: one server setup each, named once here so the
 * orchestrator, the server process and the client driver agree on what a
 * name means (which library runs, where the client puts its credential,
 * which key signs the tokens).
 *
 * @module
 */

/** Where the client driver puts the credential on the handshake. */
export type Credential =
  /** `io(url, { auth: { token } })` */
  | 'auth'
  /** `io(url, { auth: { token: 'Bearer ' + token } })`, as @thream/socketio-jwt wants it */
  | 'auth-bearer'
  /** `io(url, { query: { token } })` */
  | 'query'
  /** `extraHeaders: { Authorization: 'Bearer ' + token }` */
  | 'header'
  /** connect, then `emit('authenticate', { token })`, done on `authenticated` */
  | 'event'
  /** `extraHeaders: { Cookie, Origin }` with a session cookie from a real `/login` */
  | 'cookie';

export type Algorithm = 'HS256' | 'RS256';

export interface Scenario {
  id: string;
  /** Row label in the table. */
  label: string;
  credential: Credential;
  algorithm: Algorithm;
  /** The baseline this row's ratio is taken against, besides bare Socket.IO. */
  baseline?: string;
}

/** Handshake scenarios, in the order each round runs them. */
export const HANDSHAKE_SCENARIOS: readonly Scenario[] = [
  // Bare clients send the same token as everyone else, so the only difference is who verifies it.
  { id: 'bare', label: 'bare Socket.IO (no auth)', credential: 'auth', algorithm: 'HS256' },
  { id: 'jwt-string', label: 'hand-written jsonwebtoken 9, string secret', credential: 'auth', algorithm: 'HS256' },
  { id: 'jwt-key', label: 'hand-written jsonwebtoken 9, KeyObject', credential: 'auth', algorithm: 'HS256' },
  // jwt-key plus sockpass's default guarantees written by hand (bench/hand-written.ts): the revocation
  // check, the user room, a timer to the expiry, the refresh listener. What the lifecycle costs an app
  // that writes it itself, so sockpass's own price is its ratio to this row.
  { id: 'jwt-key-life', label: 'hand-written KeyObject + expiry timer, refresh, user room (by hand)', credential: 'auth', algorithm: 'HS256' },
  { id: 'socketio-jwt', label: 'socketio-jwt 4.6 (handshake: true)', credential: 'query', algorithm: 'HS256' },
  { id: 'thream', label: '@thream/socketio-jwt 3', credential: 'auth-bearer', algorithm: 'HS256' },
  { id: 'sp-auth-hs', label: 'sockpass jwt-auth HS256', credential: 'auth', algorithm: 'HS256', baseline: 'jwt-key' },
  // The same server on the BENCH_BASE build (another commit, e.g. the old main): runs only when BENCH_BASE is set.
  { id: 'sp-auth-hs-base', label: 'sockpass jwt-auth HS256, BENCH_BASE build', credential: 'auth', algorithm: 'HS256', baseline: 'sp-auth-hs' },
  // The A/A control: jwt-key again under another id, in a process of its own. Its ratio to jwt-key
  // is what this bench reads as a difference between two identical servers: the noise floor. It runs
  // right after sp-auth-hs, as far from jwt-key in each round as sp-auth-hs is (give or take one), so
  // the load of a shared machine, which drifts within a round, parts it from jwt-key as it does the target.
  { id: 'jwt-key-twin', label: 'A/A control: jwt-key again, another process', credential: 'auth', algorithm: 'HS256', baseline: 'jwt-key' },
  // Issue 12: the revocation check on every handshake must cost next to nothing (within 2% of sp-auth-hs).
  { id: 'sp-auth-hs-ledger', label: 'sockpass jwt-auth HS256 + Redis ledger, 100,000 entries', credential: 'auth', algorithm: 'HS256', baseline: 'sp-auth-hs' },
  // Operations: an OpenTelemetry SDK recording sockpass's metrics, and the handshake limiter (memory), each against plain jwt-auth.
  { id: 'sp-auth-metrics', label: 'sockpass jwt-auth HS256 + OTel SDK metrics', credential: 'auth', algorithm: 'HS256', baseline: 'sp-auth-hs' },
  { id: 'sp-auth-limit', label: 'sockpass jwt-auth HS256 + rate limits (memory)', credential: 'auth', algorithm: 'HS256', baseline: 'sp-auth-hs' },
  { id: 'sp-query', label: 'sockpass jwt-query HS256', credential: 'query', algorithm: 'HS256', baseline: 'socketio-jwt' },
  { id: 'sp-header', label: 'sockpass jwt-header HS256', credential: 'header', algorithm: 'HS256', baseline: 'jwt-key' },
  { id: 'sp-event', label: 'sockpass jwt-authenticate-event HS256', credential: 'event', algorithm: 'HS256', baseline: 'jwt-key' },
  { id: 'sp-session', label: 'sockpass session (MemoryStore)', credential: 'cookie', algorithm: 'HS256' },
  { id: 'jwt-key-rs', label: 'hand-written jsonwebtoken 9, RS256 KeyObject', credential: 'auth', algorithm: 'RS256' },
  { id: 'sp-auth-rs', label: 'sockpass jwt-auth RS256', credential: 'auth', algorithm: 'RS256', baseline: 'jwt-key-rs' },
];

/** Event-throughput scenarios: the same jwt-auth server, without and with `auth.guard` on every event. */
export const EVENT_SCENARIOS: readonly Scenario[] = [
  { id: 'ev-plain', label: 'sockpass jwt-auth, no guard', credential: 'auth', algorithm: 'HS256' },
  // What any socket.use() costs in Socket.IO (a copy of the middleware list and two closures per event), for scale.
  { id: 'ev-noop-use', label: 'sockpass jwt-auth + a no-op socket.use', credential: 'auth', algorithm: 'HS256', baseline: 'ev-plain' },
  { id: 'ev-guard', label: 'sockpass jwt-auth + auth.guard', credential: 'auth', algorithm: 'HS256', baseline: 'ev-plain' },
];

/**
 * Memory per idle socket: the bare, prepared-key, by-hand-guarantees and
 * jwt-auth handshake servers, reused. The prepared-key middleware keeps the
 * claims too (`socket.data.user`), so sockpass's extra over it is what
 * sockpass itself keeps; over `jwt-key-life`, what it keeps beyond what the
 * same guarantees cost written by hand.
 */
export const MEMORY_SCENARIOS: readonly string[] = ['bare', 'jwt-key', 'jwt-key-life', 'sp-auth-hs'];

/** The scale phase: a fresh server each, one at a time. */
export const SCALE_SCENARIOS: readonly string[] = ['bare', 'jwt-key', 'jwt-key-life', 'sp-auth-hs'];

/** The cluster phase's node (bench/cluster-scale.ts): jwt-auth HS256 with @socket.io/redis-adapter and the Redis ledger. */
export const CLUSTER_SCENARIO: Scenario = {
  id: 'sp-auth-hs-cluster',
  label: 'sockpass jwt-auth HS256 + Redis adapter + Redis ledger, one node of many',
  credential: 'auth',
  algorithm: 'HS256',
};

export const ALL_SCENARIOS: readonly Scenario[] = [...HANDSHAKE_SCENARIOS, ...EVENT_SCENARIOS, CLUSTER_SCENARIO];

export function scenario(id: string): Scenario {
  const found = ALL_SCENARIOS.find((s) => s.id === id);
  if (found === undefined) throw new Error(`bench: unknown scenario ${id}`);
  return found;
}

/** The Origin the session scenario allows; cookie clients send it. */
export const BENCH_ORIGIN = 'http://bench.sockpass.test';

/** The name of the event the event-throughput clients send. */
export const ECHO_EVENT = 'echo';
