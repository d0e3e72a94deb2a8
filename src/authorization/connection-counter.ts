/**
 * What a connection cap counts with: the interface every store implements
 * (memory for one process, Redis for many nodes), apart from the policy in
 * `connection-caps.ts` so the stores and the policy import only this file.
 *
 * @module
 */

/** What to do with a socket that would take a user past `perUser`. */
export type OnExceed = 'refuse' | 'replace-oldest';

/** The answer of a {@link ConnectionCounter}: counted, refused, or counted after the listed oldest sockets were dropped. */
export type Admission =
  | 'ok'
  | 'refuse'
  | {
      /** The refs dropped to make room, oldest first: the policy cuts them wherever they are. */
      replace: readonly string[];
    };

/**
 * Where a registry counts its users' sockets. A socket is named by a
 * reference string (`"<socket id> <namespace>"`), unique on every node.
 */
export interface ConnectionCounter {
  /**
   * Counts `ref` for `user` if the user holds fewer than `limit` sockets
   * (a `ref` already counted is `ok`). At the limit: `refuse`, or with
   * `replace-oldest` the user's oldest refs are dropped to make room and
   * returned. Atomic: two nodes admitting the same user never both pass.
   */
  admit(user: string, ref: string, limit: number, onExceed: OnExceed): Admission | Promise<Admission>;
  /** Stops counting `ref` (a ref not counted, or dropped by a replacement, is a no-op). */
  release(ref: string): void | Promise<void>;
  /** Stops timers and leaves shared state; the counter admits nothing after. */
  close(): Promise<void>;
}

/** A counter that also says how many sockets this process counts (both built-in stores do). */
export interface CountingConnectionCounter extends ConnectionCounter {
  /** Sockets this process counts now: 0 once every socket is gone, so a test can prove nothing is left behind. */
  readonly size: number;
}
