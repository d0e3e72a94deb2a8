/**
 * The connection counter of one process: each user's sockets in admission
 * order (a Map keeps insertion order, so the oldest is the first), answered
 * synchronously. The default store of `connections`; for many nodes use
 * `redisConnectionCounter()`.
 *
 * @module
 */
import type { Admission, ConnectionCounter, CountingConnectionCounter, OnExceed } from './connection-counter.js';

class MemoryConnectionCounter implements ConnectionCounter {
  /** user → its refs, oldest first. */
  readonly #byUser = new Map<string, Set<string>>();
  /** ref → user, for release. */
  readonly #userOf = new Map<string, string>();

  admit(user: string, ref: string, limit: number, onExceed: OnExceed): Admission {
    if (this.#userOf.has(ref)) return 'ok';
    let refs = this.#byUser.get(user);
    if (refs === undefined) this.#byUser.set(user, (refs = new Set()));
    let victims: string[] | undefined;
    if (refs.size >= limit) {
      if (onExceed === 'refuse') return 'refuse';
      victims = [];
      for (const held of refs) {
        if (refs.size - victims.length < limit) break;
        victims.push(held);
      }
      for (const victim of victims) {
        refs.delete(victim);
        this.#userOf.delete(victim);
      }
    }
    refs.add(ref);
    this.#userOf.set(ref, user);
    return victims === undefined ? 'ok' : { replace: victims };
  }

  release(ref: string): void {
    const user = this.#userOf.get(ref);
    if (user === undefined) return;
    this.#userOf.delete(ref);
    const refs = this.#byUser.get(user);
    refs?.delete(ref);
    if (refs?.size === 0) this.#byUser.delete(user);
  }

  /** How many sockets are counted (for tests that prove nothing is left behind). */
  get size(): number {
    return this.#userOf.size;
  }

  async close(): Promise<void> {
    this.#byUser.clear();
    this.#userOf.clear();
  }
}

/** Counts each user's sockets in this process only. */
export function memoryConnectionCounter(): CountingConnectionCounter {
  return new MemoryConnectionCounter();
}
