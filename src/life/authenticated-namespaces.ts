/**
 * The namespaces a revoke must cover: every namespace object where a socket
 * of this registry authenticated on this node. Objects, not names: with
 * `cleanupEmptyChildNamespaces`, Socket.IO drops a dynamic child whose
 * `nsp.sockets` is empty even while a quarantined socket (hidden from that
 * Map) still lives on it, and a newcomer gets a new object of the same name;
 * a revoke must reach the sockets of both.
 *
 * Bounded under any traffic: once it doubles past its last size it forgets
 * the objects that hold no socket (children Socket.IO removed, or any
 * namespace emptied on this node), so 2,000 short-lived dynamic namespaces
 * cost a few entries. A namespace forgotten here is one this node holds no
 * socket of; in a cluster, name the namespaces only other nodes serve in
 * `revoke()`'s `namespaces` option.
 *
 * @module
 */
import type { NamespaceLike } from '../socketio.js';

/** Below this many entries the set is never swept. */
const FLOOR = 64;

export class AuthenticatedNamespaces {
  readonly #namespaces = new Set<NamespaceLike>();
  #sweepAt = FLOOR;

  /** Called for every authenticated socket; O(1) except for the amortized sweep. */
  add(nsp: NamespaceLike): void {
    if (this.#namespaces.has(nsp)) return;
    this.#namespaces.add(nsp);
    if (this.#namespaces.size >= this.#sweepAt) this.sweep();
  }

  /** Forgets every namespace object that holds no socket on this node. */
  sweep(): void {
    for (const nsp of this.#namespaces) if (nsp.sockets.size === 0) this.#namespaces.delete(nsp);
    this.#sweepAt = Math.max(FLOOR, this.#namespaces.size * 2);
  }

  /** Whether a namespace of this name is known. */
  has(name: string): boolean {
    for (const nsp of this.#namespaces) if (nsp.name === name) return true;
    return false;
  }

  get size(): number {
    return this.#namespaces.size;
  }

  values(): IterableIterator<NamespaceLike> {
    return this.#namespaces.values();
  }
}
