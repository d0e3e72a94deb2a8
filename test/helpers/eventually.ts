/**
 * `eventually(check)`: waits until `check` holds, polling with a deadline
 * instead of a fixed sleep, so a test is as fast as the machine allows and
 * still passes on a loaded one. `check` may return a boolean, a promise of
 * one, or throw (an `expect` that does not hold yet); past the deadline the
 * last reason is thrown.
 */
export interface EventuallyOptions {
  /** Longest wait, in ms. Default 5000. */
  timeout?: number;
  /** Ms between two checks. Default 20. */
  interval?: number;
}

export async function eventually(check: () => unknown, options: EventuallyOptions = {}): Promise<void> {
  const { timeout = 5000, interval = 20 } = options;
  const deadline = performance.now() + timeout;
  for (;;) {
    let reason: unknown;
    try {
      if ((await check()) !== false) return;
      reason = new Error(`condition not met within ${timeout} ms`);
    } catch (err) {
      reason = err;
    }
    if (performance.now() > deadline) throw reason;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
