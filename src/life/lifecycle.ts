/**
 * The Lifecycle: the one owner of the authenticated life of every socket one
 * registry admits, from admission to the cut. Each `SockPass` makes one; it
 * holds the registry's options, its revocation ledger, its deadline queue,
 * the namespaces it watches and its metrics, and nothing is shared between
 * two registries.
 *
 * - **admission**: the revocation ledger (one synchronous lookup in this
 *   node's view) and the expiry are checked at every point a credential is
 *   admitted: after a handshake strategy succeeds, at `connection` before any
 *   room is joined, at in-band authentication, refresh, anonymous upgrade and
 *   recovery; where a credential first names a user (handshake, in-band
 *   authentication, anonymous upgrade, recovery) the connection cap counts it
 *   (`connections`, `authorization/connection-caps.ts`);
 * - **start**: an admitted socket joins `user:<id>` (and `session:<sid>`) so
 *   `revoke()` finds it on every node, is filed under its token id
 *   (`token-index.ts`: `revoke({ token })` looks it up there), gets its
 *   deadline, listens for refreshes, and the handlers that waited for it run;
 * - **deadline**: `auth:refresh` `refreshBefore` ms ahead, the cut at expiry;
 * - **renewal** and **upgrade**: a refresh or second `authenticate` event
 *   swaps the credential (same user; a refresh never removes an expiry the
 *   socket had); an anonymous socket becomes a user's;
 * - **quarantine release**: a socket that authenticated in-band starts;
 * - **the cut**: `auth:expired` / `auth:revoked` / `auth:refused` / `auth:replaced`,
 *   then a disconnect: of one socket here, of a room on every node through the adapter.
 *
 * Refresh, revalidation, quarantine, recovery and revocation are the files
 * beside this one; each is a function of the Lifecycle and calls its methods.
 * Authorization beyond the handshake (room policies, the session's absolute
 * age: `src/authorization/`) is one object the Lifecycle owns and calls at
 * connection, start, renewal, upgrade, revalidation and recovery.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { ConnectionCaps, type ConnectionCapsOptions } from '../authorization/connection-caps.js';
import { AuthError, toAuthError } from '../errors.js';
import { Authorization } from '../authorization/authorization.js';
import { issuedAtMs } from '../issued-at.js';
import type { Metrics } from '../metrics.js';
import type { Decision } from '../handshake/pipeline.js';
import type { CredentialFacts, RevocationLedger } from '../revocation/ledger.js';
import { listenForTokenRevocations, revokeSockets, type RevokeOptions, type RevokeTarget } from '../revocation/revoke.js';
import { tellThenDisconnect, type AdapterLike, type NamespaceLike, type RestoredSession, type ServerLike, type SocketLike } from '../socketio.js';
import type { AuthSuccess, Claims, FailureEvent, SocketAuth, Strategy } from '../types.js';
import { EXPIRED_EVENT, REFRESH_EVENT, REFUSED_EVENT, REVOKED_EVENT, type AuthNotice, type RefreshNotice } from '../protocol.js';
import { DeadlineQueue } from './deadline-queue.js';
import { AuthenticatedNamespaces } from './authenticated-namespaces.js';
import { startQuarantine, type InBandWaitOptions, type QuarantinedSocket } from './quarantine.js';
// The seam's types, so the compat module that uses awaitConnected() imports them from here.
export type { InBandWaitOptions, UnauthorizedPayload } from './quarantine.js';
export type { SocketLike } from '../socketio.js';
import { guardRecovery } from './recovery.js';
import { listenForRefresh } from './refresh.js';
import { startRevalidation } from './revalidate.js';
import { getState, setState, SocketState, toSocketAuth } from './socket-state.js';
import { TokenIndex } from './token-index.js';

const debug = createDebug('sockpass:lifecycle');

/**
 * The options that shape an authenticated socket's life after admission: the
 * rooms it joins, when it is asked to refresh, how long a refresh may take,
 * how often a session is re-checked. `new SockPass()` takes each of them as
 * optional and fills in the default given here.
 */
export interface LifecycleOptions<U> {
  /**
   * Stable id of a user, for the `user:<id>` room, the revocation ledger and
   * comparing users. A number is used as its decimal string, everywhere.
   */
  userId: (user: U) => string | number | undefined;
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

/** What the admission check reads: an `AuthSuccess`, or a `socket.data.auth` (dates already revived). */
export interface Credential<U> {
  user: U;
  anonymous?: boolean;
  session?: string;
  tokenId?: string;
  /** See `issuedAtMs`: an explicit issue time, else the claims' `iat`. */
  issuedAt?: Date | null;
  claims?: Claims;
  expiresAt?: Date | null;
}

/** What a Lifecycle is made of: everything `new SockPass(options)` resolved. */
export interface LifecycleParts<U> {
  options: LifecycleOptions<U>;
  ledger: RevocationLedger;
  /** Ms a revocation is kept, or undefined for the default (see `revoke.ts`). */
  revocationTtl: number | undefined;
  metrics: Metrics | undefined;
  /** The strategies registered so far (an anonymous socket upgrades with one; a recovered socket refreshes with one). */
  strategies: ReadonlyMap<string, Strategy<U>>;
  /** Ms a login may last however often it refreshes (`session_too_old` past it), or undefined for no bound. */
  maxSessionAge?: number | undefined;
  /** Caps on the sockets one user may hold at once, or undefined for none. */
  connections: ConnectionCapsOptions | undefined;
}

const REVOKED = 'credentials have been revoked';

export class Lifecycle<U> {
  readonly options: LifecycleOptions<U>;
  /** Where revocations are recorded and every admission looks them up. */
  readonly ledger: RevocationLedger;
  readonly revocationTtl: number | undefined;
  readonly metrics: Metrics | undefined;
  /** Room policies and the session's absolute age: called at each moment of a socket's life below. */
  readonly authorization: Authorization<U>;
  /** The connection cap per user, when the registry has one: counts each user's sockets at admission. */
  readonly caps: ConnectionCaps | undefined;
  /** Every socket's next deadline (refresh notice or expiry), on one timer. */
  readonly deadlines = new DeadlineQueue<SocketState<U>>((state) => this.#onDeadline(state));
  /**
   * Namespaces where a socket of this registry authenticated (for revocation
   * on every node). Never one only an unauthenticated handshake reached:
   * attackers could grow it, and `revoke()` would re-create cleaned-up
   * dynamic namespaces from it.
   */
  readonly namespaces = new AuthenticatedNamespaces();
  /** This node's sockets by the token id their credential carries now: what `revoke({ token })` cuts. */
  readonly tokens = new TokenIndex<SocketState<U>>();
  /** Sockets in quarantine, per adapter: rooms joined meanwhile are taken back and kept for later. */
  readonly quarantined = new WeakMap<AdapterLike, Map<string, QuarantinedSocket>>();
  /**
   * The strategy's re-check (sessions) of each record this lifecycle wrote:
   * connectionStateRecovery on the in-memory adapter hands the same
   * `data.auth` object back to the restored socket, and its revalidation
   * must survive the recovery.
   */
  readonly #revalidators = new WeakMap<SocketAuth<U>, NonNullable<AuthSuccess<U>['revalidate']>>();
  /** Session ids restored and not yet connected: each session is restored once (`recovery.ts`). */
  readonly restoredSessions = new Map<string, number>();
  /** Adapters whose restores this lifecycle judges. */
  readonly judgedAdapters = new WeakSet<AdapterLike>();
  /**
   * The latest expiry (ms epoch) of any credential this registry admitted, or
   * Infinity once it admitted one that does not expire: the default lifetime
   * of a revocation.
   */
  latestExpiry = Number.NEGATIVE_INFINITY;
  readonly #strategies: ReadonlyMap<string, Strategy<U>>;
  readonly #watched = new WeakSet<object>();
  /** Servers whose main namespace hears other nodes' `revoke({ token })` for this lifecycle. */
  readonly #listening = new WeakSet<object>();
  readonly #events = new EventEmitter();
  /** A throwing `failure` listener is reported once per registry. */
  #warnedListener = false;

  constructor(parts: LifecycleParts<U>) {
    this.options = parts.options;
    this.ledger = parts.ledger;
    this.revocationTtl = parts.revocationTtl;
    this.metrics = parts.metrics;
    this.#strategies = parts.strategies;
    this.caps = parts.connections === undefined ? undefined : new ConnectionCaps(parts.connections, this);
    this.#events.setMaxListeners(0);
    this.authorization = new Authorization<U>(this, parts.maxSessionAge);
  }

  /** The strategy registered under `name`. */
  strategy(name: string): Strategy<U> | undefined {
    return this.#strategies.get(name);
  }

  /** The user's id as every part of sockpass compares it: a string, or undefined for none. */
  userIdOf(user: U): string | undefined {
    const id = this.options.userId(user);
    return id === undefined || id === null || id === '' ? undefined : String(id);
  }

  // -------------------------------------------------------------------------
  // Failure listeners

  onFailure(listener: (failure: FailureEvent) => void): void {
    this.#events.on('failure', listener);
  }

  offFailure(listener: (failure: FailureEvent) => void): void {
    this.#events.off('failure', listener);
  }

  /**
   * Tells `failure` listeners; false when one threw. A listener is app code
   * (the documented place for a rate limiter): its throw is reported and
   * contained here, since it would otherwise escape from a promise callback
   * or a timer and take the process down.
   */
  report(socket: SocketLike, error: AuthError, room?: string): boolean {
    debug('refused %s on %s: %s (%s)', socket.handshake.address, socket.nsp.name, error.code, error.strategy ?? '-');
    if (this.#events.listenerCount('failure') === 0) return true;
    const failure: FailureEvent = { code: error.code, strategy: error.strategy, namespace: socket.nsp.name, address: socket.handshake.address };
    // A room policy's refusal names the room.
    if (room !== undefined) failure.room = room;
    try {
      this.#events.emit('failure', failure);
      return true;
    } catch (err) {
      debug('a failure listener threw: %s', (err as Error)?.message);
      if (!this.#warnedListener) {
        this.#warnedListener = true;
        process.emitWarning(`sockpass: a 'failure' listener threw (${(err as Error)?.message ?? String(err)}); refusals it saw became server_error`, {
          code: 'SOCKPASS_FAILURE_LISTENER_THREW',
        });
      }
      return false;
    }
  }

  // -------------------------------------------------------------------------
  // Watching namespaces

  /**
   * Hooks a namespace once: its recoveries are judged, and our listener runs
   * on `connect`, which Socket.IO emits just before its alias `connection`,
   * so it runs before the app's under either name (an `onAny` added in
   * `io.on('connect')` must already be deferred).
   */
  watch(nsp: NamespaceLike): void {
    if (this.#watched.has(nsp)) return;
    this.#watched.add(nsp);
    // Whatever namespace the registry first meets on this node, it answers other nodes' token revocations from then on.
    if (!this.#listening.has(nsp.server)) {
      this.#listening.add(nsp.server);
      listenForTokenRevocations(this, nsp.server);
    }
    guardRecovery(this, nsp);
    nsp.prependListener('connect', (socket: SocketLike) => this.#connected(socket));
  }

  // -------------------------------------------------------------------------
  // Admission

  /**
   * `token_revoked` when the ledger holds a revocation that covers this
   * credential, else undefined. Synchronous: this node's view, never Redis.
   */
  revocationOf(credential: Credential<U>): AuthError | undefined {
    // Nothing revoked (the usual state): no facts to gather (the user id, the issue time), a lookup
    // every admission and every start would otherwise pay (docs/performance-findings.md, round 6).
    if (this.ledger.size === 0) return undefined;
    const facts: CredentialFacts = {};
    if (!credential.anonymous) facts.user = this.userIdOf(credential.user);
    if (credential.session !== undefined) facts.session = credential.session;
    if (credential.tokenId !== undefined) facts.tokenId = credential.tokenId;
    const issuedAt = issuedAtMs(credential);
    if (issuedAt !== undefined) facts.issuedAt = issuedAt;
    return this.ledger.isRevoked(facts) === undefined ? undefined : new AuthError('token_revoked', REVOKED);
  }

  /**
   * Applies a handshake's decision to its socket and calls `next` with the
   * error for the middleware's `next` (undefined: admitted): a refusal is
   * reported; a success is checked against the ledger (a revoke during the
   * verification wins), counted by the connection cap when it names a user
   * (still before any room; only then is there a wait) and recorded on the
   * socket; a deferral leaves the socket pending for its in-band credential.
   */
  admitHandshake(socket: SocketLike, decision: Decision<U>, startedAt: number, next: (error?: AuthError) => void): void {
    if (decision.kind === 'fail') {
      this.metrics?.handshake(decision.error.strategy, decision.error.code, startedAt);
      const reported = this.report(socket, decision.error);
      return next(reported ? decision.error : new AuthError('server_error', 'authentication failed', { strategy: decision.error.strategy }));
    }
    if (decision.kind === 'success') {
      const revoked = this.revocationOf(decision.result);
      if (revoked !== undefined) {
        this.metrics?.handshake(decision.strategy, revoked.code, startedAt);
        this.report(socket, revoked);
        return next(revoked);
      }
      const user = this.#cappedUser(decision.result);
      if (user !== undefined) {
        void this.caps!.admit(socket, user).then((refusal) => {
          if (refusal === undefined) return next(this.#admitted(socket, decision, startedAt));
          refusal.strategy = decision.strategy;
          this.metrics?.handshake(decision.strategy, refusal.code, startedAt);
          next(this.report(socket, refusal) ? refusal : new AuthError('server_error', 'authentication failed', { strategy: decision.strategy }));
        });
        return;
      }
    }
    next(this.#admitted(socket, decision, startedAt));
  }

  /** Records an admitted (or deferred) handshake on its socket; always undefined, the error-free `next`. */
  #admitted(socket: SocketLike, decision: Exclude<Decision<U>, { kind: 'fail' }>, startedAt: number): undefined {
    // Mode `all` ('a+b') decides by no strategy alone: no in-band refresh for the socket.
    const strategy = decision.kind === 'deferred' ? decision.pending : this.strategy(decision.strategy);
    const state = new SocketState<U>(socket, this, decision.strategy, strategy);
    if (decision.kind === 'success') {
      state.status = 'authenticated';
      this.#record(state, toSocketAuth(decision.strategy, decision.result), decision.result.revalidate);
    }
    setState(socket, state);
    this.metrics?.handshake(decision.strategy, decision.kind, startedAt);
    return undefined;
  }

  /**
   * Whether a session Socket.IO is about to restore may be: its `data.auth`
   * exists (a quarantined socket has none), has not expired and is not revoked.
   * Dates a serializing adapter turned into strings or numbers are revived.
   */
  recoveryRefusal(data: unknown): AuthError | undefined {
    const auth = (data as { auth?: unknown } | null | undefined)?.auth;
    if (typeof auth !== 'object' || auth === null) return new AuthError('credentials_required', 'the session never authenticated');
    const a = auth as SocketAuth<U>;
    const expiresAt = reviveDate(a.expiresAt);
    if (expiresAt === undefined || isExpired(expiresAt, Date.now())) return new AuthError('token_expired', 'credential has expired');
    const revoked = this.revocationOf({
      user: a.user,
      anonymous: a.anonymous === true,
      session: typeof a.session === 'string' ? a.session : undefined,
      tokenId: typeof a.tokenId === 'string' ? a.tokenId : undefined,
      // Absent: the claims' iat tells; anything that is not a date is unknown age.
      issuedAt: a.issuedAt === undefined ? undefined : (reviveDate(a.issuedAt) ?? null),
      claims: typeof a.claims === 'object' && a.claims !== null ? a.claims : undefined,
    });
    return revoked ?? this.authorization.restoreRefusal(data);
  }

  /** A session that may be restored (see `recoveryRefusal`): it comes back with only the rooms its namespace's room policy allows. */
  restoring(nsp: NamespaceLike, session: RestoredSession): Promise<RestoredSession> | RestoredSession {
    return this.authorization.restoring(nsp, session);
  }

  /**
   * The connection cap for a socket that names its user only once connected
   * (in-band authentication, anonymous upgrade, recovery): undefined when
   * admitted (the count is held until the socket disconnects), the refusal
   * otherwise. Resolves at once when the cap does not apply.
   */
  async admitConnected(socket: SocketLike, state: SocketState<U>, credential: Credential<U>): Promise<AuthError | undefined> {
    const user = this.#cappedUser(credential);
    if (user === undefined) return undefined;
    const refusal = await this.caps!.admit(socket, user);
    if (refusal !== undefined) return refusal;
    this.#hold(socket, state);
    return undefined;
  }

  /** The user id the cap counts for a credential, or undefined when there is no cap, or it names no user (anonymous). */
  #cappedUser(credential: Credential<U>): string | undefined {
    if (this.caps === undefined || credential.anonymous) return undefined;
    return this.userIdOf(credential.user);
  }

  /** A socket the cap counted keeps its count until it disconnects. */
  #hold(socket: SocketLike, state: SocketState<U>): void {
    const release = this.caps?.hold(socket);
    if (release !== undefined) state.addCleanup(release);
  }

  // -------------------------------------------------------------------------
  // Start

  /** A socket reached `connect` on a watched namespace. */
  #connected(socket: SocketLike): void {
    let state = getState<U>(socket);
    if (socket.recovered) this.restoredSessions.delete(socket.id);
    // Before anything joins it anywhere: in a namespace with a room policy, every join is judged from here on.
    if (state === undefined || state.owner === this) this.authorization.connected(socket);
    if (state === undefined) {
      if (!socket.recovered) return;
      state = this.#resumeRecovered(socket);
      if (state !== undefined) this.#startRecovered(socket, state);
      return;
    }
    // Another registry's socket (this one is attached to the whole Server): not ours to start.
    if (state.owner !== this) return;
    this.#cleanUpOnDisconnect(socket, state);
    // Counted by the cap at the handshake: held from now until the disconnect.
    this.#hold(socket, state);
    if (state.status === 'pending') startQuarantine(this, socket, state, { isolate: true });
    else this.start(socket, state);
  }

  #cleanUpOnDisconnect(socket: SocketLike, state: SocketState<U>): void {
    // One listener does both: every socket has a deadline to take out, few have anything else armed.
    socket.on('disconnect', () => {
      this.deadlines.cancel(state);
      this.#fileToken(state);
      state.runCleanup();
    });
  }

  /**
   * Files a socket in the token index under its credential's token id, moving
   * it from the id it was filed under; a socket no longer connected (the
   * disconnect, or a refresh that finished after it) is taken out. Called
   * wherever the credential is recorded or replaced once the disconnect
   * cleanup is armed, so no entry outlives its socket.
   */
  #fileToken(state: SocketState<U>): void {
    const tokenId = state.socket.connected ? state.auth?.tokenId : undefined;
    const id = typeof tokenId === 'string' ? tokenId : undefined;
    if (id === state.indexedToken) return;
    if (state.indexedToken !== undefined) this.tokens.delete(state.indexedToken, state);
    state.indexedToken = id;
    if (id !== undefined) this.tokens.add(id, state);
  }

  /**
   * Starts the authenticated life of a socket whose `data.auth` is set:
   * re-checks the ledger (a revoke may have landed between the middleware's
   * check and now), joins its revocation rooms, arms its deadline, listens
   * for refreshes and revalidates, then runs the handlers that waited.
   */
  start(socket: SocketLike, state: SocketState<U>): void {
    // The record sockpass wrote, not whatever a later middleware left in socket.data.
    const auth = state.auth;
    if (auth === undefined) return;
    const revoked = this.revocationOf(auth);
    if (revoked !== undefined) {
      this.report(socket, revoked);
      this.cut(socket, REVOKED_EVENT, revoked);
      return;
    }
    this.namespaces.add(socket.nsp);
    this.#noteLifetime(auth);
    this.#joinRooms(socket, auth);
    this.authorization.admitted(socket, state);
    this.#scheduleExpiry(socket, state, auth.expiresAt);
    if (!socket.connected) return;
    this.#fileToken(state);
    this.#count(state);
    listenForRefresh(this, socket, state);
    startRevalidation(this, socket, state);
    state.runWaiters();
  }

  /**
   * A restored socket names its user again: the connection cap counts it
   * (another socket of the user may have taken its place during the drop)
   * before it is authenticated, so no onAuthenticated handler sees it if it
   * is cut with `auth:refused` / `too_many_connections`.
   */
  #startRecovered(socket: SocketLike, state: SocketState<U>): void {
    const auth = state.auth!;
    if (this.#cappedUser(auth) === undefined) return this.#authenticateRecovered(socket, state);
    void this.admitConnected(socket, state, auth).then((refusal) => {
      if (!socket.connected) return;
      if (refusal !== undefined) {
        this.report(socket, refusal);
        return this.cut(socket, REFUSED_EVENT, refusal);
      }
      this.#authenticateRecovered(socket, state);
    });
  }

  /** Authenticated only now, so onAuthenticated handlers never see a socket being cut. */
  #authenticateRecovered(socket: SocketLike, state: SocketState<U>): void {
    state.status = 'authenticated';
    this.start(socket, state);
  }

  /** Quarantine release: a socket that authenticated in-band gets its `data.auth` and starts. */
  release(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): void {
    state.status = 'authenticated';
    this.#record(state, toSocketAuth(state.strategyName, result), result.revalidate);
    this.start(socket, state);
  }

  /**
   * The compat seam (`sockpass/compat/socketio-jwt`'s event flow): a socket
   * already connected, with no sockpass state, waits for its credential in
   * `strategy`'s in-band event as a deferred handshake would. Undefined, and
   * nothing done, for a socket sockpass already holds (`authorize()` given
   * twice on one namespace).
   */
  awaitConnected(socket: SocketLike, strategyName: string, strategy: Strategy<U>, options: InBandWaitOptions<U>): SocketState<U> | undefined {
    if (getState(socket) !== undefined) return undefined;
    const state = new SocketState<U>(socket, this, strategyName, strategy);
    setState(socket, state);
    this.#cleanUpOnDisconnect(socket, state);
    startQuarantine(this, socket, state, options);
    return state;
  }

  #record(state: SocketState<U>, auth: SocketAuth<U>, revalidate: AuthSuccess<U>['revalidate']): void {
    state.record(auth, revalidate);
    if (revalidate !== undefined) this.#revalidators.set(auth, revalidate);
  }

  /** The authenticated-sockets gauge: +1 here, -1 on disconnect. */
  #count(state: SocketState<U>): void {
    if (this.metrics === undefined || state.counted) return;
    state.counted = true;
    const { socket } = state;
    this.metrics.socketAuthenticated(state.strategyName, socket.nsp.name, 1);
    state.addCleanup(() => this.metrics!.socketAuthenticated(state.strategyName, socket.nsp.name, -1));
  }

  /**
   * A socket restored by connectionStateRecovery: its session was judged
   * before Socket.IO built it (`recovery.ts`), so it gets its state back from
   * `socket.data.auth` and starts as any other. Undefined when it was cut: no
   * `data.auth` (restored on a namespace sockpass did not judge), or expired meanwhile.
   */
  #resumeRecovered(socket: SocketLike): SocketState<U> | undefined {
    const auth = socket.data.auth as SocketAuth<U> | undefined;
    if (auth === undefined || auth === null || typeof auth !== 'object') {
      debug('socket %s: recovered without authentication, disconnecting', socket.id);
      const error = new AuthError('credentials_required', 'authentication did not complete before the connection dropped');
      this.report(socket, error);
      this.tellAndDisconnect(socket, 'unauthorized', { message: error.message, data: error.data });
      return undefined;
    }
    // A serializing adapter may hand back strings; ours keeps the Dates.
    auth.expiresAt = reviveDate(auth.expiresAt) ?? null;
    if (auth.issuedAt !== undefined) auth.issuedAt = reviveDate(auth.issuedAt) ?? null;
    // The record names the strategy it was registered under.
    const state = new SocketState<U>(socket, this, auth.strategy, this.strategy(auth.strategy));
    state.record(auth, this.#revalidators.get(auth));
    setState(socket, state);
    this.#cleanUpOnDisconnect(socket, state);
    // Filed now, not at start: the connection cap may keep it waiting, and a revoke meanwhile must find it.
    this.#fileToken(state);
    debug('socket %s: recovered, credential expires %s', socket.id, auth.expiresAt?.toISOString() ?? 'never');
    if (isExpired(auth.expiresAt, Date.now())) {
      this.expire(socket, state);
      return undefined;
    }
    return state;
  }

  #joinRooms(socket: SocketLike, auth: SocketAuth<U>): void {
    const id = auth.anonymous ? undefined : this.userIdOf(auth.user);
    const userRoom = id === undefined ? undefined : this.options.userRoom(id);
    const sessionRoom = auth.session === undefined ? undefined : this.options.sessionRoom(auth.session);
    if (userRoom !== undefined && sessionRoom !== undefined) void socket.join([userRoom, sessionRoom]);
    else if (userRoom !== undefined) void socket.join(userRoom);
    else if (sessionRoom !== undefined) void socket.join(sessionRoom);
  }

  /** Keeps the latest expiry this registry admitted: the default lifetime of a revocation. */
  #noteLifetime(auth: SocketAuth<U>): void {
    if (auth.anonymous) return;
    const expires = auth.expiresAt === null ? Number.POSITIVE_INFINITY : auth.expiresAt.getTime();
    if (expires > this.latestExpiry) this.latestExpiry = expires;
  }

  // -------------------------------------------------------------------------
  // Deadline

  /**
   * Sets the socket's deadline: `refreshBefore` ms ahead of `expiresAt` (but
   * not before half the remaining life) it is asked for a refresh
   * (`auth:refresh`) when its strategy can take one, and at `expiresAt` it is
   * told `auth:expired` and disconnected. With `maxSessionAge`, the session's
   * end is a deadline too, and no refresh is asked for past it. Re-arming
   * replaces the previous deadline.
   */
  #scheduleExpiry(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null): void {
    this.deadlines.cancel(state);
    state.noticeDue = false;
    const end = this.authorization.sessionEnd(state);
    if (expiresAt === null) {
      if (end !== Number.POSITIVE_INFINITY) this.deadlines.schedule(state, end);
      return;
    }
    const exp = expiresAt.getTime();
    const now = Date.now();
    // An Invalid Date must not leave a socket without a deadline: fail closed.
    if (isExpired(expiresAt, now)) return this.expire(socket, state);
    const refreshBefore = state.strategy?.authenticateCredential === undefined ? 0 : this.options.refreshBefore;
    // Never before half the remaining life: a refreshBefore longer than the tokens' life
    // would otherwise ask again the moment each refresh lands, in a loop.
    const noticeAt = refreshBefore > 0 ? Math.max(exp - refreshBefore, now + (exp - now) / 2) : Number.POSITIVE_INFINITY;
    if (noticeAt < end) {
      state.noticeDue = true;
      this.deadlines.schedule(state, noticeAt);
    } else {
      this.deadlines.schedule(state, Math.min(exp, end));
    }
  }

  /** The queued deadline came: the refresh notice while `noticeDue`, else the expiry itself. */
  #onDeadline(state: SocketState<U>): void {
    const { socket } = state;
    if (!socket.connected) return;
    const end = this.authorization.sessionEnd(state);
    if (Date.now() >= end) return this.#endSession(socket);
    if (!state.noticeDue) {
      const exp = state.auth?.expiresAt instanceof Date ? state.auth.expiresAt.getTime() : Number.POSITIVE_INFINITY;
      // The deadline armed was the session's end when it comes first (or the socket has no expiry).
      return end <= exp ? this.#endSession(socket) : this.expire(socket, state);
    }
    state.noticeDue = false;
    const expiresAt: Date | null | undefined = state.auth?.expiresAt;
    // The expiry the notice was armed for; a record without a valid one fails closed.
    if (!(expiresAt instanceof Date) || isExpired(expiresAt, Date.now())) return this.expire(socket, state);
    debug('socket %s: asking for a refresh before %s', socket.id, expiresAt.toISOString());
    const notice: RefreshNotice = { expiresAt: expiresAt.toISOString() };
    socket.emit(REFRESH_EVENT, notice);
    this.deadlines.schedule(state, Math.min(expiresAt.getTime(), end));
  }

  /**
   * A revalidation moved the credential's expiry (a rolling session): re-arm
   * the deadline. A revalidation never removes an expiry (null keeps the old one).
   */
  #moveExpiry(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null | undefined): void {
    const auth = state.auth;
    if (expiresAt === undefined || expiresAt === null || auth === undefined) return;
    if (auth.expiresAt?.getTime() === expiresAt.getTime()) return;
    auth.expiresAt = expiresAt;
    this.#noteLifetime(auth);
    this.#scheduleExpiry(socket, state, expiresAt);
  }

  /**
   * A revalidation found the credential still valid: its expiry may move (a
   * rolling session), and every room the socket is in is judged again (a
   * predicate may read what changed).
   */
  revalidated(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null | undefined): void {
    this.#moveExpiry(socket, state, expiresAt);
    this.authorization.revalidated(socket);
  }

  // -------------------------------------------------------------------------
  // Renewal and upgrade

  /**
   * A fresh credential for an authenticated socket (in-band refresh, a second
   * `authenticate` event): it must name the same user and not be revoked;
   * claims and expiry move, the socket stays. Throws the AuthError to report.
   * A credential without expiry keeps the socket's deadline unless
   * `allowRefreshToRemoveExpiry`. Returns the deadline the client should plan
   * for (the credential's expiry, or the session's end when that comes first).
   */
  renew(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): Date | null {
    const current = state.auth;
    const before = current === undefined || current.anonymous ? undefined : this.userIdOf(current.user);
    if (before === undefined || this.userIdOf(result.user) !== before) {
      throw new AuthError('user_mismatch', 'the new credential names another user', { strategy: state.strategyName });
    }
    const had = current?.expiresAt ?? null;
    if ((result.expiresAt ?? null) === null && had !== null && !this.options.allowRefreshToRemoveExpiry) {
      debug('socket %s: the new credential does not expire; keeping the deadline it had', socket.id);
      result = { ...result, expiresAt: had };
    }
    this.#swapCredential(socket, state, state.strategyName, state.strategy, result);
    return this.authorization.renewed(socket, state);
  }

  /**
   * An anonymous socket proved who it is (see `anonymous({ upgrade })`): the
   * connection cap counts it, then it becomes an ordinary authenticated socket
   * of `strategyName`, joins its user room, and gets the new credential's
   * expiry. Resolves to the deadline, as `renew`; rejects with the AuthError
   * to report (`too_many_connections` past the cap).
   */
  async upgrade(socket: SocketLike, state: SocketState<U>, strategyName: string, strategy: Strategy<U>, result: AuthSuccess<U>): Promise<Date | null> {
    if (result.anonymous || this.userIdOf(result.user) === undefined) {
      throw new AuthError('credentials_required', 'the upgrade credential names no user', { strategy: strategyName });
    }
    const refusal = await this.admitConnected(socket, state, result);
    if (refusal !== undefined) {
      refusal.strategy = strategyName;
      throw refusal;
    }
    if (!socket.connected) throw new AuthError('token_expired', 'the socket closed during the refresh', { strategy: strategyName });
    const auth = this.#swapCredential(socket, state, strategyName, strategy, result);
    this.#joinRooms(socket, auth);
    debug('socket %s: anonymous socket upgraded by %s', socket.id, strategyName);
    return this.authorization.renewed(socket, state);
  }

  /**
   * Applies a verified credential; the ledger check and the change are one
   * synchronous step, so a revoke cannot slip between. Past the session's
   * absolute age it throws `session_too_old` instead.
   */
  #swapCredential(
    socket: SocketLike,
    state: SocketState<U>,
    strategyName: string,
    strategy: Strategy<U> | undefined,
    result: AuthSuccess<U>,
  ): SocketAuth<U> {
    this.authorization.beforeRenewal(socket);
    const revoked = this.revocationOf(result);
    if (revoked !== undefined) {
      revoked.strategy = strategyName;
      throw revoked;
    }
    if (strategyName !== state.strategyName && state.counted) {
      // An anonymous socket upgraded: it moves between the gauge's strategy labels.
      this.metrics?.socketAuthenticated(state.strategyName, socket.nsp.name, -1);
      this.metrics?.socketAuthenticated(strategyName, socket.nsp.name, 1);
    }
    state.strategyName = strategyName;
    state.strategy = strategy;
    const auth = toSocketAuth(strategyName, result);
    // A refreshed token does not carry the session's revalidation: the socket keeps the one it had.
    this.#record(state, auth, result.revalidate ?? state.revalidate);
    this.#fileToken(state);
    this.#noteLifetime(auth);
    // The session's start carries over to the new record (an upgrade starts it).
    this.authorization.admitted(socket, state);
    this.#scheduleExpiry(socket, state, auth.expiresAt);
    return auth;
  }

  // -------------------------------------------------------------------------
  // The cut

  /** Tells the client why (`event` with its arguments), then disconnects this namespace's socket. */
  tellAndDisconnect(socket: SocketLike, event: string, ...args: unknown[]): void {
    tellThenDisconnect(socket, event, ...args);
  }

  /** The cut: `event` with `{ code, message, action }`, then the disconnect. */
  cut(socket: SocketLike, event: string, error: AuthError): void {
    if (!socket.connected) return;
    debug('socket %s: %s (%s)', socket.id, event, error.code);
    const notice: AuthNotice = error.notice;
    this.tellAndDisconnect(socket, event, notice);
  }

  /**
   * The cut on every node: every socket of `room` (a user's, a session's, one
   * socket's own id room) is told `event` with `{ code, message, action }`, then
   * disconnected, through the namespace's adapter.
   */
  cutEverywhere(nsp: NamespaceLike, room: string, event: string, error: AuthError): void {
    debug('room %s on %s: %s (%s)', room, nsp.name, event, error.code);
    const notice: AuthNotice = error.notice;
    // This node's sockets first, at once: a cluster adapter awaits its publish
    // before it disconnects even the local sockets, and with Redis down that
    // publish waits until Redis is back.
    nsp.local.in(room).emit(event, notice);
    nsp.local.in(room).disconnectSockets();
    // Same adapter, same order: through Redis both travel on one connection,
    // so every node delivers the notice before it disconnects.
    nsp.in(room).emit(event, notice);
    nsp.in(room).disconnectSockets();
  }

  /**
   * The cut of one token on this node: every socket the token index files
   * under `tokenId` is told `auth:revoked`, then disconnected. Returns how many.
   */
  cutToken(tokenId: string, error: AuthError): number {
    const holders = this.tokens.holders(tokenId);
    for (const state of holders) this.cut(state.socket, REVOKED_EVENT, error);
    return holders.length;
  }

  /** The credential expired: `auth:expired`, then the disconnect. */
  expire(socket: SocketLike, state: SocketState<U>): void {
    if (socket.connected) this.metrics?.expiry(state.strategyName);
    this.cut(socket, EXPIRED_EVENT, new AuthError('token_expired', 'credential has expired'));
  }

  /** The login reached `maxSessionAge`: `auth:expired` with `session_too_old` (action `login`), then the disconnect. */
  #endSession(socket: SocketLike): void {
    const error = this.authorization.sessionTooOld();
    this.report(socket, error);
    this.cut(socket, EXPIRED_EVENT, error);
  }

  /** A refusal of an in-band credential: reported, then the cut. */
  refuse(socket: SocketLike, event: string, err: unknown, strategy: string): AuthError {
    const error = toAuthError(err, strategy);
    this.report(socket, error);
    this.cut(socket, event, error);
    return error;
  }

  // -------------------------------------------------------------------------
  // Revocation

  /** `auth.revoke()`: records in the ledger, then cuts the matching sockets on every node. */
  revoke(io: ServerLike | NamespaceLike, target: RevokeTarget, options?: RevokeOptions): Promise<void> {
    return revokeSockets(this, io, target, options);
  }
}

/** True when `expiresAt` has passed, or is an Invalid Date (fail closed). */
function isExpired(expiresAt: Date | null | undefined, now: number): boolean {
  if (expiresAt === null || expiresAt === undefined) return false;
  return !(expiresAt.getTime() > now);
}

/** A Date, or null for none; undefined for something that is not a date (a tampered or mangled session). */
function reviveDate(value: unknown): Date | null | undefined {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  return date === undefined || Number.isNaN(date.getTime()) ? undefined : date;
}
