/**
 * Time, as strategies and the core both need it: a bounded wait on work
 * sockpass does not control (a key resolver, a session store, a refresh's
 * verification), so that no handshake or refresh hangs on it, and the range
 * of a JWT NumericDate. The one helper module strategies may import besides
 * the contract (`types.ts`) and `errors.ts`.
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

/** A JWT NumericDate a Date can hold: finite seconds since the epoch within ±8.64e12 (±8.64e15 ms). */
export function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= 8.64e12;
}
