/**
 * Connection caps per user: the policy. A registry with
 * `connections: { perUser, onExceed }` counts every authenticated socket of a
 * user id in a {@link ConnectionCounter} (this process by default, every node
 * with `redisConnectionCounter()`), at each admission, after the strategy and
 * the revocation ledger said yes and before any room is joined:
 *
 * - `refuse`: the socket past the cap is refused with `too_many_connections`;
 * - `replace-oldest`: the new socket is admitted and the user's oldest socket,
 *   on whichever node holds it, is told `auth:replaced`
 *   `{ code: 'connection_replaced' }` and disconnected through the adapter.
 *
 * A socket is counted from its admission and held once Socket.IO connects it
 * (`hold`, whose release step the Lifecycle runs on disconnect). One that
 * never connects (a later middleware refused it, or its client left during the
 * handshake) is given back after {@link PENDING_MS}. Anonymous sockets and
 * credentials naming no user are not counted.
 *
 * The Lifecycle owns one of these per registry; this file declares what it
 * needs of the Lifecycle (the cut of a replaced socket) instead of importing it.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import type { NamespaceLike, SocketLike } from '../socketio.js';
import { REPLACED_EVENT } from '../protocol.js';
import { TIMED_OUT, withTimeout } from '../time.js';
import type { Admission, ConnectionCounter, OnExceed } from './connection-counter.js';
import { memoryConnectionCounter } from './memory-connection-counter.js';

const debug = createDebug('sockpass:connection-caps');

/** The `connections` option of `new SockPass()`. */
export interface ConnectionCapsOptions {
  /** Most sockets one user id may hold at once, across every namespace of the registry (and every node sharing the store). */
  perUser: number;
  /** Past the cap: `refuse` the new socket (default), or `replace-oldest`. */
  onExceed?: OnExceed;
  /**
   * Where sockets are counted. Default: this process (`memoryConnectionCounter()`);
   * `redisConnectionCounter({ client })` for many nodes. The app closes it at
   * shutdown, after the Socket.IO server (`SockPass` has no `close()`).
   */
  store?: ConnectionCounter;
  /** Longest wait (ms) for the store at an admission; past it the socket is refused with `store_unavailable`. Default 2000. */
  timeout?: number;
}

/** How long a socket admitted by the cap may take to be connected by Socket.IO before its count is given back. */
export const PENDING_MS = 10_000;

/** What the caps need of the Lifecycle (declared here, so this file does not import it). */
export interface CapsOwner {
  /** Tells every socket of `room` in `nsp`, on every node, why (`event`, `error`), then disconnects them. */
  cutEverywhere(nsp: NamespaceLike, room: string, event: string, error: AuthError): void;
}

/** The policy a registry applies at each admission; see the module comment. */
export class ConnectionCaps {
  readonly #owner: CapsOwner;
  readonly #perUser: number;
  readonly #onExceed: OnExceed;
  readonly #store: ConnectionCounter;
  readonly #timeout: number;
  /** Admitted, not yet connected: the timer that gives the count back if Socket.IO never connects it. */
  readonly #pending = new Map<string, NodeJS.Timeout>();

  constructor(options: ConnectionCapsOptions, owner: CapsOwner) {
    const { perUser, onExceed = 'refuse', store = memoryConnectionCounter(), timeout = 2_000 } = options ?? ({} as ConnectionCapsOptions);
    if (!Number.isInteger(perUser) || perUser < 1) throw new TypeError('sockpass: connections.perUser must be a positive integer');
    if (onExceed !== 'refuse' && onExceed !== 'replace-oldest') throw new TypeError(`sockpass: connections.onExceed must be 'refuse' or 'replace-oldest'`);
    if (typeof store?.admit !== 'function' || typeof store.release !== 'function') {
      throw new TypeError('sockpass: connections.store must be a ConnectionCounter (memoryConnectionCounter() or redisConnectionCounter())');
    }
    if (!(timeout > 0)) throw new TypeError('sockpass: connections.timeout must be a positive number of ms');
    this.#owner = owner;
    this.#perUser = perUser;
    this.#onExceed = onExceed;
    this.#store = store;
    this.#timeout = timeout;
  }

  /**
   * Counts a socket of `user`: undefined when admitted (a replacement's
   * victims are being cut), the refusal otherwise. The count is pending until
   * `hold` (or given back after {@link PENDING_MS}).
   */
  async admit(socket: SocketLike, user: string): Promise<AuthError | undefined> {
    const ref = refOf(socket);
    let answering: Admission | Promise<Admission>;
    try {
      answering = this.#store.admit(user, ref, this.#perUser, this.#onExceed);
    } catch (cause) {
      return unavailable(cause);
    }
    let answer: Admission | typeof TIMED_OUT;
    try {
      answer = await withTimeout(answering, this.#timeout);
    } catch (cause) {
      return unavailable(cause);
    }
    if (answer === TIMED_OUT) return this.#late(ref, answering as Promise<Admission>);
    if (answer === 'refuse') {
      debug('socket %s refused: its user holds %d sockets', socket.id, this.#perUser);
      return new AuthError('too_many_connections', `this user already holds the most connections allowed (${this.#perUser})`);
    }
    if (answer !== 'ok') for (const victim of answer.replace) this.#replace(socket.nsp, victim);
    const timer = setTimeout(() => {
      this.#pending.delete(ref);
      debug('socket %s was admitted but never connected: count given back', socket.id);
      this.#release(ref);
    }, PENDING_MS);
    timer.unref();
    this.#pending.set(ref, timer);
    return undefined;
  }

  /**
   * Socket.IO connected an admitted socket: its count is held until the
   * returned step runs (on disconnect). Undefined for a socket the cap did not
   * count. A socket that already left is given back at once.
   */
  hold(socket: SocketLike): (() => void) | undefined {
    const ref = refOf(socket);
    const timer = this.#pending.get(ref);
    if (timer === undefined) return undefined;
    clearTimeout(timer);
    this.#pending.delete(ref);
    if (!socket.connected) {
      this.#release(ref);
      return undefined;
    }
    return () => this.#release(ref);
  }

  /** The store answered too late: the socket is refused, and whatever the store counted for it is given back. */
  #late(ref: string, answer: Promise<Admission>): AuthError {
    void answer.then(
      (settled) => (settled === 'refuse' ? undefined : this.#release(ref)),
      () => undefined,
    );
    return new AuthError('store_unavailable', `the connection counter did not answer within ${this.#timeout} ms`);
  }

  #release(ref: string): void {
    try {
      const done = this.#store.release(ref);
      if (typeof (done as Promise<void> | undefined)?.then === 'function') (done as Promise<void>).then(undefined, (err: unknown) => debug('release failed: %s', (err as Error)?.message));
    } catch (err) {
      debug('release failed: %s', (err as Error)?.message);
    }
  }

  /** Cuts a replaced socket wherever it is: its own id room, in its namespace, on every node. */
  #replace(admitting: NamespaceLike, victim: string): void {
    const sep = victim.indexOf(' ');
    if (sep <= 0) return;
    const id = victim.slice(0, sep);
    const name = victim.slice(sep + 1);
    // Another namespace of the same registry: one some node served, so the app defined it.
    const nsp = name === admitting.name ? admitting : admitting.server.of(name);
    debug('replacing socket %s on %s', id, name);
    this.#owner.cutEverywhere(nsp, id, REPLACED_EVENT, new AuthError('connection_replaced', 'a newer connection of this user replaced this one'));
  }
}

/** A socket's reference: its id is unique per namespace, so the namespace is part of it. */
export function refOf(socket: SocketLike): string {
  return `${socket.id} ${socket.nsp.name}`;
}

function unavailable(cause: unknown): AuthError {
  return new AuthError('store_unavailable', 'the connection counter could not be reached', { cause });
}
