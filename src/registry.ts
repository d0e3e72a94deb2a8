/**
 * SockPass: the registry of named strategies, and the one middleware that
 * runs any chain of them on a namespace (`io.use`, `io.of(ns).use`).
 *
 * A plain map filled by a chainable `use(name, strategy)`, as Passport's
 * authenticator; the decision itself lives in `pipeline.ts`, a socket's
 * authenticated life (admission, rooms, deadline, the cut) in `lifecycle.ts`,
 * the in-band wait in `quarantine.ts`, the judged recovery in `recovery.ts`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { createHandshakeContext } from './handshake/context.js';
import { AuthError, toAuthError } from './errors.js';
import { ConnectionCaps, type ConnectionCapsOptions } from './authorization/connection-caps.js';
import { cutSocket, enterLife, resumeRecovered, revocationOf } from './life/lifecycle.js';
import { REFUSED_EVENT } from './wire.js';
import { isThenable } from './immediate.js';
import { memoryLedger, type RevocationLedger } from './revocation/ledger.js';
import { NamespaceBook } from './life/namespace-book.js';
import { decide, type Decision, type Mode, type NamedStrategy } from './handshake/pipeline.js';
import type { HandshakeLimits } from './handshake/rate-limit.js';
import { startQuarantine } from './life/quarantine.js';
import { guardRecovery, type RestoringAdapter } from './life/recovery.js';
import { listenForRefresh } from './life/refresh.js';
import type { LifecycleOptions, RegistryContext } from './registry-context.js';
import { startRevalidation } from './life/revalidate.js';
import { createGuard, type Guard, type GuardPolicy } from './life/guard.js';
import { handshakeStarted, recordHandshake } from './metrics.js';
import { revokeSockets, type RevokeOptions, type RevokeTarget } from './revocation/revoke.js';
import type { Namespace, Server, Socket } from 'socket.io';
import type { NamespaceLike, ServerLike, SocketLike } from './socket-like.js';
import { addWaiter, cleanUpOnDisconnect, createState, deciderFor, getState, setState, takeWaiters, toSocketAuth, type SocketState } from './life/socket-state.js';
import type { AuthSuccess, FailureEvent, SocketAuth, Strategy } from './types.js';


const debug = createDebug('sockpass:registry');

/** Options of `new SockPass()`: every lifecycle option (each with a default), the revocation ledger and the handshake limits. */
export interface SockPassOptions<U> extends Partial<LifecycleOptions<U>> {
  /** Limits on refused and pending handshakes, checked before any strategy runs: `handshakeLimits({ ... })`. */
  rateLimit?: HandshakeLimits;
  /**
   * Where `revoke()` records revocations and every admission looks them up.
   * Default: `memoryLedger()` (this process only). For many nodes, a Redis
   * ledger shared by all of them.
   */
  ledger?: RevocationLedger;
  /**
   * Ms a revocation is kept. Default: the latest expiry of any credential this
   * registry admitted, at least one hour, at most 30 days.
   */
  revocationTtl?: number;
  /** Caps on the sockets one user may hold at once: `{ perUser, onExceed: 'refuse' | 'replace-oldest', store? }`. Default: none. */
  connections?: ConnectionCapsOptions;
}

/** Options of {@link SockPass.middleware}. */
export interface MiddlewareOptions {
  /** `first` (default): the first strategy that finds credentials decides. `all`: every strategy must succeed, for the same user. */
  mode?: Mode;
}

/** A Socket.IO socket whose `data.auth` is set. */
export type AuthenticatedSocket<U, S = Socket> = S & { data: { auth: SocketAuth<U> } };

/** What `onAuthenticated` listens on: the Server (its main namespace), a Namespace, or a dynamic parent namespace. */
export interface ConnectionTarget {
  /** Adds a `connection` listener, as Server and Namespace do. */
  on(event: 'connection', listener: (socket: never) => void): unknown;
}

/**
 * What `middleware()` returns: a Socket.IO namespace middleware. Generic so it
 * fits `io.use` on a Server with typed events and socket data.
 */
export type SockPassMiddleware = <S extends object>(socket: S, next: (err?: Error) => void) => void;

/** What `attach()` takes: a Server, a Namespace, or a dynamic parent namespace (`io.of(/regex/)`). */
export type AttachTarget = Server | Namespace | ConnectionTarget;

/** The structural view of an attach target sockpass uses (public Socket.IO API only). */
interface Attachable {
  name?: string;
  adapter?: RestoringAdapter;
  /** A Server: its main namespace (a Namespace's `sockets` is its Map of sockets). */
  sockets?: unknown;
  /** Only a Server has `of`. */
  of?: unknown;
  /** A parent namespace: its child namespaces. */
  children?: { has(nsp: unknown): boolean };
  prependListener?: NamespaceLike['prependListener'];
  on(event: string, listener: (...args: any[]) => void): unknown;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * @example
 * ```ts
 * const auth = new SockPass<User>()
 *   .use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'] }))
 *   .use('session', sessionCookie({ session, passport, allowedOrigins: ['https://app.example'] }));
 * io.use(auth.middleware(['jwt-auth', 'session']));
 * auth.onAuthenticated(io, (socket) => console.log(socket.data.auth.user));
 * ```
 */
export class SockPass<U = unknown> {
  readonly #strategies = new Map<string, Strategy<U>>();
  readonly #events = new EventEmitter();
  readonly #watched = new WeakSet<object>();
  readonly #attached = new WeakSet<object>();
  readonly #context: RegistryContext<U>;
  readonly #limits: HandshakeLimits | undefined;
  readonly #caps: ConnectionCaps | undefined;

  constructor(options: SockPassOptions<U> = {}) {
    this.#limits = options.rateLimit;
    this.#caps = options.connections === undefined ? undefined : new ConnectionCaps(options.connections);
    const lifecycle: LifecycleOptions<U> = {
      userId: options.userId ?? defaultUserId,
      userRoom: options.userRoom ?? ((id) => `user:${id}`),
      sessionRoom: options.sessionRoom ?? ((sid) => `session:${sid}`),
      refreshBefore: options.refreshBefore ?? 0,
      refreshTimeout: options.refreshTimeout ?? 10_000,
      revalidateInterval: options.revalidateInterval ?? 0,
      allowRefreshToRemoveExpiry: options.allowRefreshToRemoveExpiry ?? false,
    };
    const ttl = options.revocationTtl;
    if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0)) throw new TypeError('sockpass: revocationTtl must be a positive number of ms');
    const ledger = options.ledger ?? memoryLedger();
    if (typeof ledger?.isRevoked !== 'function' || typeof ledger.record !== 'function') {
      throw new TypeError('sockpass: ledger must be a RevocationLedger (memoryLedger(), or a Redis ledger)');
    }
    this.#context = {
      options: lifecycle,
      ledger,
      revocationTtl: ttl,
      admitted: { latestExpiry: Number.NEGATIVE_INFINITY },
      authenticated: (socket, state, result) => this.#authenticated(socket, state, result),
      reportFailure: (socket, error) => this.#reportFailure(socket, error),
      namespaces: new NamespaceBook(),
      caps: this.#caps,
      strategy: (name) => this.#strategies.get(name),
    };
    this.#events.setMaxListeners(0);
  }

  /**
   * Registers a strategy under a name. Throws on a duplicate or malformed name
   * or on something that is not a strategy, so a bad setup fails at startup.
   */
  use(name: string, strategy: Strategy<U>): this {
    if (typeof name !== 'string' || !NAME.test(name)) throw new TypeError(`sockpass: invalid strategy name ${JSON.stringify(name)}`);
    if (this.#strategies.has(name)) throw new TypeError(`sockpass: a strategy named "${name}" is already registered`);
    if (typeof strategy?.authenticate !== 'function') {
      throw new TypeError(`sockpass: strategy "${name}" has no authenticate(ctx) method`);
    }
    this.#strategies.set(name, strategy);
    return this;
  }

  /** The strategy registered under `name`, if any. */
  get(name: string): Strategy<U> | undefined {
    return this.#strategies.get(name);
  }

  /**
   * A Socket.IO middleware that runs the named strategies on every handshake.
   * A refusal reaches the client as `connect_error` with
   * `err.data = { type: 'UnauthorizedError', code, message, strategy }`.
   *
   * @example
   * ```ts
   * io.use(auth.middleware(['jwt-auth', 'session']));
   * io.of('/admin').use(auth.middleware(['session', 'jwt-header'], { mode: 'all' }));
   * ```
   */
  middleware(names: string | readonly string[], options: MiddlewareOptions = {}): SockPassMiddleware {
    const list = typeof names === 'string' ? [names] : [...names];
    const mode = options.mode ?? 'first';
    if (mode !== 'first' && mode !== 'all') throw new TypeError(`sockpass: unknown mode ${JSON.stringify(mode)}`);
    if (list.length === 0) throw new TypeError('sockpass: middleware() needs at least one strategy name');
    if (new Set(list).size !== list.length) throw new TypeError('sockpass: a strategy is named twice in one chain');
    const chain: NamedStrategy<U>[] = list.map((name) => {
      const strategy = this.#strategies.get(name);
      if (strategy === undefined) throw new TypeError(`sockpass: no strategy registered as "${name}"`);
      return { name, strategy };
    });
    if (mode === 'all' && chain.some((n) => n.strategy.inBand !== undefined)) {
      throw new TypeError('sockpass: an in-band strategy (authenticate event) cannot take part in mode "all"');
    }
    const { userId } = this.#context.options;
    const registry = this;
    // Mode `first` decides by one strategy; `all` by none alone (no in-band refresh for the socket).
    // One Decider per strategy of the chain, made now: a handshake then looks one up instead of making one.
    const deciders = new Map(chain.map((n) => [n.name, deciderFor(this.#context, n.name, n.strategy)]));
    const settle = (socket: SocketLike, next: (err?: Error) => void, decision: Decision<U>, startedAt: number) => {
      if (decision.kind === 'fail') {
        recordHandshake(decision.error.strategy, decision.error.code, startedAt);
        const reported = registry.#reportFailure(socket, decision.error);
        return next(reported ? decision.error : new AuthError('server_error', 'authentication failed', { strategy: decision.error.strategy }));
      }
      // The ledger, between the strategy's success and any room: a revoke during the verification wins.
      const revoked = decision.kind === 'success' ? revocationOf(registry.#context, decision.result) : undefined;
      if (revoked !== undefined) {
        recordHandshake(decision.strategy, revoked.code, startedAt);
        registry.#reportFailure(socket, revoked);
        return next(revoked);
      }
      // The connection cap, still before any room: only a named user is counted.
      const caps = registry.#caps;
      const capped = caps === undefined || decision.kind !== 'success' || decision.result.anonymous ? undefined : userId(decision.result.user);
      if (capped !== undefined) {
        const refusal = caps!.admit(socket, capped);
        if (!isThenable(refusal)) return refusal === undefined ? admit(socket, next, decision, startedAt) : refuse(socket, next, refusal, startedAt);
        return void refusal.then((r) => (r === undefined ? admit(socket, next, decision, startedAt) : refuse(socket, next, r, startedAt)));
      }
      admit(socket, next, decision, startedAt);
    };
    const admit = (socket: SocketLike, next: (err?: Error) => void, decision: Exclude<Decision<U>, { kind: 'fail' }>, startedAt: number) => {
      // A deferred decision names its chain strategy; only mode `all` ('a+b') decides by none alone.
      const decider = deciders.get(decision.strategy) ?? deciderFor(registry.#context, decision.strategy, undefined);
      const success = decision.kind === 'success' ? decision.result : undefined;
      const auth = success === undefined ? undefined : toSocketAuth(decision.strategy, success);
      const state = createState(socket, decider, auth, success?.revalidate);
      setState(socket, state);
      recordHandshake(decision.strategy, decision.kind, startedAt);
      next();
    };
    const refuse = (socket: SocketLike, next: (err?: Error) => void, err: unknown, startedAt: number) => {
      const error = toAuthError(err);
      recordHandshake(error.strategy, error.code, startedAt);
      registry.#reportFailure(socket, error);
      next(error);
    };

    return function sockpassMiddleware(s, next) {
      const socket = s as unknown as SocketLike;
      registry.#watch(socket.nsp);
      const ctx = createHandshakeContext(socket);
      const limits = registry.#limits;
      const startedAt = handshakeStarted();
      const decision =
        limits === undefined ? decide(chain, ctx, mode, userId) : limits.decideWithin(ctx, async () => decide(chain, ctx, mode, userId));
      // A decision that needed no I/O is applied now, without a promise: next() runs in this call, as in a hand-written middleware.
      if (!isThenable(decision)) return settle(socket, next, decision, startedAt);
      decision.then(
        (settled) => settle(socket, next, settled, startedAt),
        (err: unknown) => refuse(socket, next, err, startedAt),
      );
    };
  }

  /**
   * Runs `handler` for every socket of `target` (a Server, a Namespace or a
   * dynamic parent namespace) once it has authenticated: at connection for
   * handshake strategies, after the in-band round trip for the event strategy.
   * App code belongs here rather than in `connection`, which may fire first.
   */
  onAuthenticated<S = Socket>(target: ConnectionTarget, handler: (socket: AuthenticatedSocket<U, S>) => void): this {
    // Before the app's listener: ours prepends, so a recovered socket is judged and started first.
    this.attach(target);
    (target as { on(event: 'connection', listener: (socket: SocketLike) => void): unknown }).on('connection', (socket: SocketLike) => {
      const state = getState<U>(socket);
      if (state === undefined || !socket.connected) return;
      // A closure only for a socket that has to wait for its credential.
      if (state.status === 'authenticated') handler(socket as unknown as AuthenticatedSocket<U, S>);
      else addWaiter(state, () => handler(socket as unknown as AuthenticatedSocket<U, S>));
    });
    return this;
  }

  /**
   * Puts this registry in charge of a Server's namespaces (the main one and
   * every one created after), of one Namespace, or of a dynamic parent
   * namespace's children, before any socket arrives: connectionStateRecovery
   * restores a session only after sockpass judged it (authenticated, not
   * expired, not revoked), and a restored socket gets its deadline and rooms
   * back. The middleware's first call and `onAuthenticated()` attach too; call
   * this at startup when another node may hand this one a session to recover
   * (`@socket.io/redis-streams-adapter`) before any handshake reached it.
   * Every namespace of an attached Server is judged: one without
   * authentication loses recovery there (its clients reconnect afresh).
   *
   * @example
   * ```ts
   * const io = new Server(http, { connectionStateRecovery: {}, adapter: createAdapter(redis) });
   * auth.attach(io);
   * io.use(auth.middleware('jwt-auth'));
   * ```
   */
  attach(target: AttachTarget): this {
    const t = target as unknown as Attachable;
    if (this.#attached.has(t)) return this;
    this.#attached.add(t);
    if (typeof t.of === 'function') {
      const main = t.sockets as Attachable;
      // A Server: its main namespace now, every other namespace as Socket.IO creates it.
      this.#watch(main as unknown as NamespaceLike);
      main.on('new_namespace', (nsp: NamespaceLike) => this.#watch(nsp));
    } else if (t.children !== undefined && typeof t.children.has === 'function') {
      const children = t.children;
      const server = (t as unknown as NamespaceLike).server as unknown as Attachable;
      (server.sockets as Attachable).on('new_namespace', (nsp: NamespaceLike) => {
        if (children.has(nsp)) this.#watch(nsp);
      });
    } else if (typeof t.prependListener === 'function') {
      this.#watch(t as unknown as NamespaceLike);
    }
    return this;
  }

  /** Listens for refusals: `{ code, strategy, namespace, address }`, never the credential. */
  on(event: 'failure', listener: (failure: FailureEvent) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Removes a `failure` listener added with {@link SockPass.on}. */
  off(event: 'failure', listener: (failure: FailureEvent) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  /**
   * Disconnects every socket of a user (`user:<id>` room) or of a session
   * (`session:<sid>`), on every node, through the server's adapter. Each
   * client first gets `auth:revoked` `{ code: 'token_revoked', message }`.
   *
   * @example
   * ```ts
   * app.post('/logout', async (req, res) => {
   *   await auth.revoke(io, { session: req.sessionID }, 'you logged out');
   *   req.session.destroy(() => res.sendStatus(204));
   * });
   * await auth.revoke(io, { user: '42' }, { reason: 'account suspended', namespaces: ['/admin'] });
   * ```
   */
  revoke(io: Server | Namespace, target: RevokeTarget, options?: string | RevokeOptions): Promise<void> {
    return revokeSockets(io as unknown as ServerLike | NamespaceLike, target, this.#context, typeof options === 'string' ? { reason: options } : options);
  }

  /**
   * Per-event authorization for `socket.use`: event name (exact, `prefix*`,
   * `*`) → predicate on `socket.data.auth`, or `true` / `false`. A refused
   * event never reaches its handler; its ack gets `{ error: { code: 'forbidden' } }`.
   *
   * @example
   * ```ts
   * const guard = auth.guard({ 'admin:*': (a) => a.claims.role === 'admin', 'chat:send': (a) => !a.anonymous });
   * io.on('connection', (socket) => socket.use(guard(socket)));
   * ```
   */
  guard(policy: GuardPolicy<U>): Guard {
    const inBandEvents: string[] = [];
    for (const strategy of this.#strategies.values()) if (strategy.inBand) inBandEvents.push(strategy.inBand.eventName);
    return createGuard(policy, inBandEvents);
  }

  /** @internal Hooks for the lifecycle and compat modules; not part of the public API. */
  get context(): RegistryContext<U> {
    return this.#context;
  }

  /**
   * Hooks a namespace once: its recoveries are judged, and our listener runs
   * on `connect`, which Socket.IO emits just before its alias `connection`,
   * so it runs before the app's under either name (an `onAny` added in
   * `io.on('connect')` must already be deferred).
   */
  #watch(nsp: NamespaceLike): void {
    if (this.#watched.has(nsp)) return;
    this.#watched.add(nsp);
    guardRecovery(nsp as unknown as { name: string; adapter: RestoringAdapter }, this.#context);
    nsp.prependListener('connect', (socket: SocketLike) => this.#connected(socket));
  }

  #connected(socket: SocketLike): void {
    let state = getState<U>(socket);
    if (state === undefined) {
      if (!socket.recovered) return;
      state = resumeRecovered(socket, this.#context);
      if (state !== undefined) this.#capThenStart(socket, state);
      return;
    }
    // Another registry's socket (this one is attached to the whole Server): not ours to start.
    if (state.owner !== this.#context) return;
    this.#caps?.confirm(socket);
    socket.on('disconnect', cleanUpOnDisconnect);
    if (state.status === 'pending') startQuarantine(socket, state, this.#context);
    else this.#started(socket, state);
  }

  /** A socket that authenticated in-band (quarantine): its `data.auth` is new. */
  #authenticated(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): void {
    state.status = 'authenticated';
    const auth = toSocketAuth(state.strategyName, result);
    state.keep(auth, result.revalidate);
    this.#capThenStart(socket, state);
  }

  /** A socket whose user is known only after connecting (in-band, recovered): the connection cap counts it before its life starts. */
  #capThenStart(socket: SocketLike, state: SocketState<U>): void {
    const caps = this.#caps;
    const auth = state.auth;
    const user = caps === undefined || auth === undefined || auth.anonymous ? undefined : this.#context.options.userId(auth.user);
    if (user === undefined) return this.#started(socket, state);
    const settle = (refusal: AuthError | undefined): void => {
      if (refusal === undefined) return void (socket.connected && this.#started(socket, state));
      this.#reportFailure(socket, refusal);
      cutSocket(socket, REFUSED_EVENT, refusal);
    };
    const refusal = caps!.admitConnected(socket, user);
    if (isThenable(refusal)) void refusal.then(settle);
    else settle(refusal);
  }

  /** Starts the lifecycle of an authenticated socket whose `data.auth` is set, and runs the handlers that waited. */
  #started(socket: SocketLike, state: SocketState<U>): void {
    if (!enterLife(socket, state, this.#context)) return;
    listenForRefresh(socket, state, this.#context);
    startRevalidation(socket, state, this.#context);
    if (state.waiters.length > 0) for (const run of takeWaiters(state as SocketState<unknown>)) run();
  }

  /**
   * Tells `failure` listeners; false when one threw. A listener is app code
   * (the documented place for a rate limiter): its throw is reported and
   * contained here, since it would otherwise escape from a promise callback
   * or a timer and take the process down.
   */
  #reportFailure(socket: SocketLike, error: AuthError): boolean {
    debug('refused %s on %s: %s (%s)', socket.handshake.address, socket.nsp.name, error.code, error.strategy ?? '-');
    if (this.#events.listenerCount('failure') === 0) return true;
    const failure: FailureEvent = {
      code: error.code,
      strategy: error.strategy,
      namespace: socket.nsp.name,
      address: socket.handshake.address,
    };
    try {
      this.#events.emit('failure', failure);
      return true;
    } catch (err) {
      debug('a failure listener threw: %s', (err as Error)?.message);
      reportListenerError(err);
      return false;
    }
  }
}


let warnedListener = false;

/** A throwing `failure` listener is a bug in the app: say so once, visibly, without crashing. */
function reportListenerError(err: unknown): void {
  if (warnedListener) return;
  warnedListener = true;
  process.emitWarning(`sockpass: a 'failure' listener threw (${(err as Error)?.message ?? String(err)}); refusals it saw became server_error`, {
    code: 'SOCKPASS_FAILURE_LISTENER_THREW',
  });
}

/** `user.id`, else `user.sub`, else `user._id`, as a string. */
export function defaultUserId(user: unknown): string | undefined {
  if (typeof user === 'string' || typeof user === 'number') return String(user);
  if (typeof user !== 'object' || user === null) return undefined;
  const u = user as Record<string, unknown>;
  const id = u.id ?? u.sub ?? u._id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : id == null ? undefined : String(id);
}

