/**
 * The namespaces a revoke must cover: those where a socket of this registry
 * authenticated on this node, by name. Bounded under any traffic: once it
 * doubles past its last size it forgets the namespaces that hold no socket
 * (dynamic children Socket.IO removed with `cleanupEmptyChildNamespaces`, or
 * any namespace emptied on this node), so 2,000 short-lived dynamic
 * namespaces cost a few entries, not 2,000 namespace objects.
 *
 * A namespace forgotten here is one this node holds no socket of; in a
 * cluster, name the namespaces only other nodes serve in `revoke()`'s
 * `namespaces` option.
 *
 * @module
 */
import type { NamespaceLike } from '../socketio.js';

/** Below this many entries the book is never swept. */
const FLOOR = 64;

export class AuthenticatedNamespaces {
  readonly #byName = new Map<string, NamespaceLike>();
  #sweepAt = FLOOR;

  /** Called for every authenticated socket; O(1) except for the amortized sweep. */
  add(nsp: NamespaceLike): void {
    if (this.#byName.get(nsp.name) === nsp) return;
    this.#byName.set(nsp.name, nsp);
    if (this.#byName.size >= this.#sweepAt) this.sweep();
  }

  /** Forgets every namespace that holds no socket on this node. */
  sweep(): void {
    for (const [name, nsp] of this.#byName) if (nsp.sockets.size === 0) this.#byName.delete(name);
    this.#sweepAt = Math.max(FLOOR, this.#byName.size * 2);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  get size(): number {
    return this.#byName.size;
  }

  values(): IterableIterator<NamespaceLike> {
    return this.#byName.values();
  }
}
