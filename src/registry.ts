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
import type { ConnectionCapsOptions } from './authorization/connection-caps.js';
import { toAuthError } from './errors.js';
import { createHandshakeContext } from './handshake/context.js';
import { decide, type Mode, type NamedStrategy } from './handshake/pipeline.js';
import type { HandshakeLimits } from './handshake/rate-limit.js';
import type { RoomTarget } from './authorization/room-gate.js';
import type { RoomPolicy } from './authorization/rooms.js';
import { createGuard, type Guard, type GuardPolicy } from './life/guard.js';
import { Lifecycle, type LifecycleOptions } from './life/lifecycle.js';
import { getState } from './life/socket-state.js';
import { Metrics, type MetricsOption } from './metrics.js';
import { memoryLedger, type RevocationLedger } from './revocation/ledger.js';
import type { RevokeOptions, RevokeTarget } from './revocation/revoke.js';
import { childrenOf, isServer, type NamespaceLike, type ServerLike, type SocketLike } from './socketio.js';
import type { Namespace, Server, Socket } from 'socket.io';
import type { FailureEvent, SockPassSocketData, Strategy } from './types.js';

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
  /**
   * Metrics through `@opentelemetry/api` (an optional peer dependency, loaded
   * only when this is set): `true` for the API's global meter provider, or
   * `{ meter }`. Default: none.
   */
  metrics?: MetricsOption;
  /**
   * Ms a login may last, however often its socket refreshes: a socket is cut
   * at `admittedAt + maxSessionAge` with `session_too_old` (action `login`),
   * and a refresh cannot move its deadline past it. Default: none.
   */
  maxSessionAge?: number;
  /**
   * Caps on the sockets one user may hold at once, across the registry's
   * namespaces (and every node sharing the store):
   * `{ perUser, onExceed: 'refuse' | 'replace-oldest', store?, timeout? }`.
   * Default: none. The app closes the store at shutdown.
   */
  connections?: ConnectionCapsOptions;
}

/** Options of {@link SockPass.middleware}. */
export interface MiddlewareOptions {
  /** `first` (default): the first strategy that finds credentials decides. `all`: every strategy must succeed, for the same user. */
  mode?: Mode;
}

/**
 * `socket.data` of an authenticated socket: the app's own `SocketData` `D`
 * (nothing when the Server is untyped, whose `data` is `any`) with `auth`.
 */
export type AuthenticatedData<D, U> = (0 extends 1 & D ? unknown : Omit<D, 'auth'>) & SockPassSocketData<U>;

/**
 * A Socket.IO socket whose `data.auth` is set: a `Socket` keeps its events
 * and its `SocketData`, with `data.auth` typed as `SocketAuth<U>`.
 */
export type AuthenticatedSocket<U, S = Socket> =
  S extends Socket<infer L, infer E, infer SS, infer D>
    ? Socket<L, E, SS, AuthenticatedData<D, U>>
    : S & {
        /** The socket's data, with sockpass's record. */
        data: SockPassSocketData<U>;
      };

/** The socket type of a Server or Namespace, with its events and `SocketData`; `Socket` for any other target. */
export type SocketOf<T> =
  T extends Server<infer L, infer E, infer S, infer D>
    ? Socket<L, E, S, D>
    : T extends Namespace<infer L, infer E, infer S, infer D>
      ? Socket<L, E, S, D>
      : Socket;

/**
 * The registry a `use()` returns: one typed by the app (`new SockPass<User>()`)
 * stays so, an untyped one takes the user type of its first strategy.
 */
export type WithStrategy<U, V> = SockPass<unknown extends U ? V : U>;

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
  readonly #attached = new WeakSet<object>();
  readonly #lifecycle: Lifecycle<U>;
  readonly #limits: HandshakeLimits | undefined;

  constructor(options: SockPassOptions<U> = {}) {
    this.#limits = options.rateLimit;
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
    this.#lifecycle = new Lifecycle<U>({
      options: lifecycle,
      ledger,
      revocationTtl: ttl,
      metrics: Metrics.from(options.metrics),
      strategies: this.#strategies,
      maxSessionAge: options.maxSessionAge,
      connections: options.connections,
    });
  }

  /**
   * Registers a strategy under a name. Throws on a duplicate or malformed name
   * or on something that is not a strategy, so a bad setup fails at startup.
   */
  use(name: string, strategy: unknown extends U ? never : Strategy<U>): this;
  use<V extends U>(name: string, strategy: Strategy<V>): WithStrategy<U, V>;
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
    if (mode !== 'first' && mode !== 'all' && mode !== 'any') throw new TypeError(`sockpass: unknown mode ${JSON.stringify(mode)}`);
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
    const life = this.#lifecycle;
    const limits = this.#limits;
    const userId = (user: U) => life.userIdOf(user);
    return function sockpassMiddleware(s, next) {
      const socket = s as unknown as SocketLike;
      life.watch(socket.nsp);
      const ctx = createHandshakeContext(socket);
      const startedAt = life.metrics?.handshakeStarted() ?? -1;
      const decision = limits === undefined ? decide(chain, ctx, mode, userId) : limits.decideWithin(ctx, () => decide(chain, ctx, mode, userId), life.metrics);
      // The pipeline never rejects; a rate-limit store may, and its error is the decision.
      decision.then(
        (decided) => life.admitHandshake(socket, decided, startedAt, next),
        (err: unknown) => life.admitHandshake(socket, { kind: 'fail', error: toAuthError(err) }, startedAt, next),
      );
    };
  }

  /**
   * Runs `handler` for every socket of `target` (a Server, a Namespace or a
   * dynamic parent namespace) once it has authenticated: at connection for
   * handshake strategies, after the in-band round trip for the event strategy.
   * App code belongs here rather than in `connection`, which may fire first.
   */
  onAuthenticated<S = never, T extends ConnectionTarget = ConnectionTarget>(
    target: T,
    handler: (socket: AuthenticatedSocket<U, [S] extends [never] ? SocketOf<T> : S>) => void,
  ): this {
    // Before the app's listener: ours prepends, so a recovered socket is judged and started first.
    this.attach(target);
    (target as { on(event: 'connection', listener: (socket: SocketLike) => void): unknown }).on('connection', (socket: SocketLike) => {
      const state = getState<U>(socket);
      if (state === undefined || !socket.connected) return;
      if (state.status === 'authenticated') handler(socket as never);
      else state.addWaiter(() => handler(socket as never));
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
    if (this.#attached.has(target)) return this;
    this.#attached.add(target);
    const life = this.#lifecycle;
    const children = childrenOf(target);
    if (isServer(target)) {
      // A Server: its main namespace now, every other namespace as Socket.IO creates it.
      life.watch(target.sockets);
      target.sockets.on('new_namespace', (nsp: NamespaceLike) => life.watch(nsp));
    } else if (children !== undefined) {
      const server = (target as unknown as NamespaceLike).server;
      server.sockets.on('new_namespace', (nsp: NamespaceLike) => {
        if (children.has(nsp)) life.watch(nsp);
      });
    } else if (typeof (target as Partial<NamespaceLike>).prependListener === 'function') {
      life.watch(target as unknown as NamespaceLike);
    }
    return this;
  }

  /** Listens for refusals: `{ code, strategy, namespace, address }`, never the credential. */
  on(event: 'failure', listener: (failure: FailureEvent) => void): this {
    if (event === 'failure') this.#lifecycle.onFailure(listener);
    return this;
  }

  /** Removes a `failure` listener added with {@link SockPass.on}. */
  off(event: 'failure', listener: (failure: FailureEvent) => void): this {
    if (event === 'failure') this.#lifecycle.offFailure(listener);
    return this;
  }

  /**
   * Disconnects every socket of a user (`user:<id>` room) or of a session
   * (`session:<sid>`), on every node, through the server's adapter; or of one
   * token (`{ token: jti }`), which each node finds in its own token index.
   * Resolves once this node's sockets are cut and the adapter took the
   * message for the others, without waiting for their answers. Each
   * client first gets `auth:revoked` `{ code: 'token_revoked', message, action: 'login' }`.
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
    return this.#lifecycle.revoke(io as unknown as ServerLike | NamespaceLike, target, typeof options === 'string' ? { reason: options } : options);
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

  /**
   * Rooms by policy on a Server (its main namespace), a Namespace or a
   * dynamic parent namespace: room name (exact, `prefix*`, `*`) → `true`,
   * `false`, or `(auth, room) => boolean | Promise<boolean>`. Once set, a room
   * no rule matches is refused. Judged on every way in on this node: the
   * app's `socket.join`, `socketsJoin` (from this node or another), recovery,
   * and the client's `auth:join` / `auth:leave`; judged again after every
   * refresh, upgrade and revalidation. A socket's own id room and its
   * `user:`/`session:` rooms are never judged.
   *
   * @example
   * ```ts
   * auth.rooms(io, {
   *   'lobby': true,
   *   'chat:*': claimRooms('rooms'),
   *   'admin': (a) => a.claims.role === 'admin',
   * });
   * io.on('connection', (socket) => socket.join('admin')); // joins only an admin's socket
   * ```
   */
  rooms(target: Server | Namespace | ConnectionTarget, policy: RoomPolicy<U>): this {
    const watched = this.#lifecycle.authorization.setRoomPolicy(target as unknown as RoomTarget, policy);
    this.attach(watched as AttachTarget);
    return this;
  }

  /**
   * @internal The registry's Lifecycle: the seam of `sockpass/compat/socketio-jwt`
   * (`awaitConnected`, its event flow) and what the tests read (its namespace
   * book, its deadline queue); not part of the public API.
   */
  get lifecycle(): Lifecycle<U> {
    return this.#lifecycle;
  }
}

/** `user.id`, else `user.sub`, else `user._id`, as a string. */
export function defaultUserId(user: unknown): string | undefined {
  if (typeof user === 'string' || typeof user === 'number') return String(user);
  if (typeof user !== 'object' || user === null) return undefined;
  const u = user as Record<string, unknown>;
  const id = u.id ?? u.sub ?? u._id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : id == null ? undefined : String(id);
}

