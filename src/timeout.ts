/**
 * A bounded wait on work sockpass does not control — a key resolver, a
 * session store, a refresh's verification — so that no handshake or refresh
 * hangs on it. The timer never outlives the answer; a late answer is dropped.
 *
 * @module
 */

/** What `withTimeout` resolves to when the work did not settle in time. */
export const TIMED_OUT: unique symbol = Symbol('sockpass.timedOut');

/** Resolves to the work's value, or to `TIMED_OUT` after `ms`; rejects as the work rejects. */
export async function withTimeout<T>(work: PromiseLike<T> | T, ms: number): Promise<T | typeof TIMED_OUT> {
  // Any thenable is bounded, not only native promises (a resolver may return another library's).
  if (typeof (work as PromiseLike<T> | null)?.then !== 'function') return work as T;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
