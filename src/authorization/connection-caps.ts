/**
 * Connection caps per user: the policy. A registry with
 * `connections: { perUser, onExceed }` counts every authenticated socket of a
 * user id in a {@link ConnectionCounter} (this process by default, every node
 * with `redisConnectionCounter()`), at the handshake, after the strategy and
 * the revocation ledger said yes and before any room is joined:
 *
 * - `refuse`: the socket past the cap is refused with `too_many_connections`
 *   (a `connect_error`, as every handshake refusal);
 * - `replace-oldest`: the new socket is admitted and the user's oldest socket,
 *   on whichever node holds it, is told `auth:replaced`
 *   `{ code: 'connection_replaced' }` and disconnected through the adapter.
 *
 * A socket is counted from its admission and held once Socket.IO connects it
 * (`confirm`); it is released on disconnect. One that never connects (a later
 * middleware refused it, or its client left during the handshake) is released
 * after {@link PENDING_MS}. Anonymous sockets and credentials naming no user
 * are not counted.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import { isThenable } from '../immediate.js';
import type { NamespaceLike, SocketLike } from '../socket-like.js';
import { TIMED_OUT, withTimeout } from '../timeout.js';
import { REPLACED_EVENT, type AuthNotice } from '../wire.js';
import type { Admission, ConnectionCounter, OnExceed } from './connection-counter.js';
import { memoryConnectionCounter } from './memory-connection-counter.js';

const debug = createDebug('sockpass:connection-caps');

/** The `connections` option of `new SockPass()`. */
export interface ConnectionCapsOptions {
  /** Most sockets one user id may hold at once, across every namespace of the registry (and every node sharing the store). */
  perUser: number;
  /** Past the cap: `refuse` the new socket (default), or `replace-oldest`. */
  onExceed?: OnExceed;
  /** Where sockets are counted. Default: this process (`memoryConnectionCounter()`); `redisConnectionCounter({ client })` for many nodes. */
  store?: ConnectionCounter;
  /** Longest wait (ms) for the store at a handshake; past it the socket is refused with `store_unavailable`. Default 2000. */
  timeout?: number;
}

/** How long a socket admitted by the cap may take to be connected by Socket.IO before its count is given back. */
export const PENDING_MS = 10_000;

/** The policy a registry applies at each handshake; see the module comment. */
export class ConnectionCaps {
  readonly #perUser: number;
  readonly #onExceed: OnExceed;
  readonly #store: ConnectionCounter;
  readonly #timeout: number;
  /** Admitted, not yet connected: the timer that gives the count back if Socket.IO never connects it. */
  readonly #pending = new Map<string, NodeJS.Timeout>();
  /** One listener for every held socket (`this` is the socket), so holding one costs no closure. */
  readonly #onDisconnect: (this: SocketLike) => void;

  constructor(options: ConnectionCapsOptions) {
    const { perUser, onExceed = 'refuse', store = memoryConnectionCounter(), timeout = 2_000 } = options ?? ({} as ConnectionCapsOptions);
    if (!Number.isInteger(perUser) || perUser < 1) throw new TypeError('sockpass: connections.perUser must be a positive integer');
    if (onExceed !== 'refuse' && onExceed !== 'replace-oldest') throw new TypeError(`sockpass: connections.onExceed must be 'refuse' or 'replace-oldest'`);
    if (typeof store?.admit !== 'function' || typeof store.release !== 'function') {
      throw new TypeError('sockpass: connections.store must be a ConnectionCounter (memoryConnectionCounter() or redisConnectionCounter())');
    }
    if (!(timeout > 0)) throw new TypeError('sockpass: connections.timeout must be a positive number of ms');
    this.#perUser = perUser;
    this.#onExceed = onExceed;
    this.#store = store;
    this.#timeout = timeout;
    const caps = this;
    this.#onDisconnect = function onDisconnect(this: SocketLike) {
      caps.#release(refOf(this));
    };
  }

  /**
   * Counts a socket of `user` at its handshake: undefined when admitted (a
   * replacement's victims are being cut), the refusal otherwise. Synchronous
   * when the store is (memory).
   */
  admit(socket: SocketLike, user: string): AuthError | undefined | Promise<AuthError | undefined> {
    const ref = refOf(socket);
    let answer: Admission | Promise<Admission>;
    try {
      answer = this.#store.admit(user, ref, this.#perUser, this.#onExceed);
    } catch (cause) {
      return unavailable(cause);
    }
    if (!isThenable(answer)) return this.#settle(socket, ref, answer);
    return withTimeout(answer, this.#timeout).then(
      (settled) => (settled === TIMED_OUT ? this.#late(ref, answer) : this.#settle(socket, ref, settled)),
      (cause: unknown) => unavailable(cause),
    );
  }

  /**
   * Counts a socket whose user is known only once it is connected (in-band
   * authentication, connection-state recovery): held at once if admitted, given
   * back at once if the socket left while the store answered.
   */
  admitConnected(socket: SocketLike, user: string): AuthError | undefined | Promise<AuthError | undefined> {
    const hold = (refusal: AuthError | undefined): AuthError | undefined => {
      if (refusal !== undefined) return refusal;
      if (socket.connected) this.confirm(socket);
      else this.#giveBack(refOf(socket));
      return undefined;
    };
    const refusal = this.admit(socket, user);
    return isThenable(refusal) ? refusal.then(hold) : hold(refusal);
  }

  /** Socket.IO connected an admitted socket: it is held until it disconnects. A socket the cap never counted is left alone. */
  confirm(socket: SocketLike): void {
    const ref = refOf(socket);
    const timer = this.#pending.get(ref);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#pending.delete(ref);
    socket.on('disconnect', this.#onDisconnect);
  }

  /** Gives back every pending count and closes the store. */
  async close(): Promise<void> {
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
    await this.#store.close();
  }

  #settle(socket: SocketLike, ref: string, answer: Admission): AuthError | undefined {
    if (answer === 'refuse') {
      debug('socket %s refused: its user holds %d sockets', socket.id, this.#perUser);
      return new AuthError('too_many_connections', `this user already holds the most connections allowed (${this.#perUser})`);
    }
    if (answer !== 'ok') for (const victim of answer.replace) replace(socket.nsp, victim);
    const timer = setTimeout(() => {
      this.#pending.delete(ref);
      debug('socket %s was admitted but never connected: count given back', socket.id);
      this.#release(ref);
    }, PENDING_MS);
    timer.unref();
    this.#pending.set(ref, timer);
    return undefined;
  }

  /** The store answered too late: the socket is refused, and whatever the store counted for it is given back. */
  #late(ref: string, answer: Promise<Admission>): AuthError {
    void answer.then(
      (settled) => (settled === 'refuse' ? undefined : this.#release(ref)),
      () => undefined,
    );
    return new AuthError('store_unavailable', `the connection counter did not answer within ${this.#timeout} ms`);
  }

  #giveBack(ref: string): void {
    clearTimeout(this.#pending.get(ref));
    this.#pending.delete(ref);
    this.#release(ref);
  }

  #release(ref: string): void {
    try {
      const done = this.#store.release(ref);
      if (isThenable(done)) done.then(undefined, (err: unknown) => debug('release failed: %s', (err as Error)?.message));
    } catch (err) {
      debug('release failed: %s', (err as Error)?.message);
    }
  }
}

/** A socket's reference: its id is unique per namespace, so the namespace is part of it. */
export function refOf(socket: SocketLike): string {
  return `${socket.id} ${socket.nsp.name}`;
}

function unavailable(cause: unknown): AuthError {
  return new AuthError('store_unavailable', 'the connection counter could not be reached', { cause });
}

/**
 * Cuts a replaced socket wherever it is: the notice, then the disconnect, to
 * its own id room, through the namespace's adapter (this node at once, then
 * every node, in that order on one connection, as `revoke()` does).
 */
function replace(admitting: NamespaceLike, victim: string): void {
  const sep = victim.indexOf(' ');
  if (sep <= 0) return;
  const id = victim.slice(0, sep);
  const name = victim.slice(sep + 1);
  // Another namespace of the same registry: one some node served, so the app defined it.
  const nsp = name === admitting.name ? admitting : admitting.server.of(name);
  debug('replacing socket %s on %s', id, name);
  const notice: AuthNotice = { code: 'connection_replaced', message: 'a newer connection of this user replaced this one' };
  nsp.local.in(id).emit(REPLACED_EVENT, notice);
  nsp.local.in(id).disconnectSockets();
  nsp.in(id).emit(REPLACED_EVENT, notice);
  nsp.in(id).disconnectSockets();
}
