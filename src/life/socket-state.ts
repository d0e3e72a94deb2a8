/**
 * What sockpass remembers about one socket between the handshake and its
 * disconnect: the lifecycle that admitted it, which strategy decided, whether
 * it still waits for an in-band credential, its deadline, and what to clean
 * up when it goes. Kept on the socket object, so nothing outlives the socket.
 *
 * @module
 */
import type { Deadlined } from './deadline-queue.js';
import type { SocketLike } from '../socketio.js';
import type { AuthSuccess, SocketAuth, Strategy } from '../types.js';


export class SocketState<U> implements Deadlined {
  readonly socket: SocketLike;
  /** The lifecycle that admitted (or awaits) the socket: a registry attached to a whole Server leaves other registries' sockets alone. */
  readonly owner: object;
  /** Name the deciding (or awaited) strategy was registered under; changes when an anonymous socket upgrades. */
  strategyName: string;
  /** The deciding strategy, for in-band refresh; undefined when several decided together (mode `all`). */
  strategy: Strategy<U> | undefined;
  /** `pending` while the socket waits for an in-band credential (or a recovery check). */
  status: 'pending' | 'authenticated';
  /**
   * The `socket.data.auth` record sockpass wrote for this socket (the same
   * object, not a copy): what renewal, refresh and the cut read, even if app
   * code replaces `socket.data`. Set with `record`.
   */
  auth: SocketAuth<U> | undefined = undefined;
  /** The strategy's re-check of the credential (a session), for revalidation. */
  revalidate: AuthSuccess<U>['revalidate'] = undefined;
  /** True while the queued deadline is the refresh notice; false when it is the expiry itself. */
  noticeDue = false;
  /** True while an in-band refresh is being verified (one at a time per socket). */
  refreshing = false;
  /** True once the socket listens for `auth:refresh`. */
  listeningForRefresh = false;
  /** True once the socket's credential is re-checked on an interval. */
  revalidating = false;
  /** True while the socket counts in the authenticated-sockets gauge. */
  counted = false;
  /** Run once the socket has authenticated (handlers registered while it was pending); undefined while there are none, as for most sockets. */
  #waiters: Array<() => void> | undefined = undefined;
  /** Run on disconnect: timers, listeners armed for this socket; undefined while nothing was armed. */
  #cleanup: Array<() => void> | undefined = undefined;
  /** Its place in the lifecycle's deadline queue, -1 while it has no deadline queued. */
  heapIndex = -1;
  /**
   * The token id the lifecycle's token index files this socket under (its
   * credential's `tokenId` when filed), undefined while it is not filed: the
   * disconnect takes it out by this id, whatever app code did to `data.auth`.
   */
  indexedToken: string | undefined = undefined;

  constructor(socket: SocketLike, owner: object, strategyName: string, strategy: Strategy<U> | undefined) {
    this.socket = socket;
    this.owner = owner;
    this.strategyName = strategyName;
    this.strategy = strategy;
    this.status = 'pending';
  }

  /** Makes `auth` the socket's record, here and as `socket.data.auth` (one place writes both), with the strategy's re-check. */
  record(auth: SocketAuth<U>, revalidate: AuthSuccess<U>['revalidate']): void {
    this.auth = auth;
    this.socket.data.auth = auth;
    if (revalidate !== undefined) this.revalidate = revalidate;
  }

  /** Registers a step to run at disconnect. */
  addCleanup(step: () => void): void {
    (this.#cleanup ??= []).push(step);
  }

  /** Registers a cleanup step; returns a function that runs and forgets it early. */
  onCleanup(step: () => void): () => void {
    this.addCleanup(step);
    return () => {
      const i = this.#cleanup?.indexOf(step) ?? -1;
      if (i !== -1) this.#cleanup!.splice(i, 1);
      step();
    };
  }

  /** Runs the cleanup steps once (at disconnect). */
  runCleanup(): void {
    const steps = this.#cleanup;
    this.#cleanup = undefined;
    this.#waiters = undefined;
    if (steps !== undefined) for (const step of steps) step();
  }

  /** Registers a handler to run once the socket has authenticated. */
  addWaiter(run: () => void): void {
    (this.#waiters ??= []).push(run);
  }

  /** Runs the waiting handlers once (the socket has authenticated). */
  runWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters !== undefined) for (const run of waiters) run();
  }
}

/** Where a socket's state is kept: a property of the socket object, invisible to `socket.data` and JSON, gone with the socket. */
const STATE = Symbol('sockpass.state');

type Holder = { [STATE]?: SocketState<any> };

export function getState<U>(socket: object): SocketState<U> | undefined {
  return (socket as Holder)[STATE];
}

export function setState<U>(socket: object, state: SocketState<U>): void {
  (socket as Holder)[STATE] = state;
}

/** The `socket.data.auth` value for a success. */
export function toSocketAuth<U>(strategy: string, result: AuthSuccess<U>): SocketAuth<U> {
  const claims = result.claims ?? {};
  const expiresAt = result.expiresAt ?? null;
  // A token's id (every JWT with a jti) is part of the literal: a field added afterwards would make the
  // record, kept for the socket's whole life, two objects.
  const auth: SocketAuth<U> =
    result.tokenId === undefined ? { user: result.user, strategy, claims, expiresAt } : { user: result.user, strategy, claims, expiresAt, tokenId: result.tokenId };
  if (result.session !== undefined) auth.session = result.session;
  if (result.anonymous) auth.anonymous = true;
  if (result.issuedAt !== undefined) auth.issuedAt = result.issuedAt;
  return auth;
}
