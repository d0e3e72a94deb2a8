/**
 * What the lifecycle modules (lifecycle, refresh, revalidation, quarantine,
 * recovery, revocation) need from the registry, as types only: they import
 * this file, never `registry.ts`, so no import runs in a circle.
 *
 * @module
 */
import type { AuthError } from './errors.js';
import type { ConnectionCaps } from './authorization/connection-caps.js';
import type { RevocationLedger } from './revocation/ledger.js';
import type { NamespaceBook } from './life/namespace-book.js';
import type { SocketLike } from './socket-like.js';
import type { SocketState } from './life/socket-state.js';
import type { AuthSuccess, Strategy } from './types.js';

/**
 * The options that shape an authenticated socket's life after admission: the
 * rooms it joins, when it is asked to refresh, how long a refresh may take,
 * how often a session is re-checked. `new SockPass()` takes each of them as
 * optional ({@link SockPassOptions}) and fills in the default given here.
 */
export interface LifecycleOptions<U> {
  /** Stable id of a user, for the `user:<id>` room and for comparing users. */
  userId: (user: U) => string | undefined;
  /**
   * Name of the room every socket of a user id joins; `revoke(io, { user })`
   * disconnects that room on every node. Default `user:<id>`.
   */
  userRoom: (id: string) => string;
  /**
   * Name of the room every socket of a session id joins; `revoke(io, { session })`
   * disconnects that room on every node. Default `session:<sid>`.
   */
  sessionRoom: (sid: string) => string;
  /** Ms before expiry to send `auth:refresh` (0: never ask; clients may still refresh unasked). Default 0. */
  refreshBefore: number;
  /**
   * Longest wait for the strategy to verify an in-band refresh (a JWKS key
   * resolver or an `isRevoked` hook that hangs); past it the refresh is refused with `server_error`.
   * In ms; default 10 000.
   */
  refreshTimeout: number;
  /** Ms between re-checks of credentials that can be revalidated (sessions); 0 disables. Default 0. */
  revalidateInterval: number;
  /**
   * Let an in-band refresh to a credential without expiry remove the expiry the
   * socket had. Default false: the socket keeps its deadline, and must refresh
   * again with an expiring credential before it.
   */
  allowRefreshToRemoveExpiry: boolean;
}

/** Everything the lifecycle modules need from the registry. */
export interface RegistryContext<U> {
  readonly options: LifecycleOptions<U>;
  /** Where revocations are recorded and every admission looks them up. */
  readonly ledger: RevocationLedger;
  /** Ms a revocation is kept, or undefined for the default (see `revoke.ts`). */
  readonly revocationTtl: number | undefined;
  /**
   * The latest expiry (ms epoch) of any credential this registry admitted, or
   * Infinity once it admitted one that does not expire: the default lifetime
   * of a revocation.
   */
  readonly admitted: { latestExpiry: number };
  /** Moves a socket to authenticated: sets `socket.data.auth`, starts the lifecycle, runs waiting handlers. */
  authenticated(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): void;
  /** Reports a refusal to `failure` listeners. */
  reportFailure(socket: SocketLike, error: AuthError): void;
  /**
   * Namespaces where a socket of this registry authenticated (for revocation
   * on every node). Never one only an unauthenticated handshake reached:
   * attackers could grow it, and `revoke()` would re-create cleaned-up
   * dynamic namespaces from it (test/revocation/revoke-creates-no-namespace.test.ts).
   */
  readonly namespaces: NamespaceBook;
  /** The registry's connection cap, if it has one: an anonymous socket that upgrades is counted then. */
  readonly caps: ConnectionCaps | undefined;
  /** The strategy registered under `name` (an anonymous socket upgrades with it; a recovered socket refreshes with it). */
  strategy(name: string): Strategy<U> | undefined;
}
