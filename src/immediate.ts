/**
 * The synchronous fast path of a strategy. A strategy whose answer often
 * needs no I/O (a JWT checked against a key prepared at startup, with no
 * async hook) hangs a second function on its `authenticate` under
 * `AUTHENTICATE_NOW`: the same check, returning the AuthResult itself, or a
 * promise only when it does have to wait. The pipeline calls it when present,
 * so such a handshake goes from the middleware to the signature check and
 * back without a promise or a microtask in between, as a hand-written
 * middleware does.
 *
 * It hangs on the function, not on the strategy object, so it goes wherever
 * that `authenticate` goes: an app that wraps a strategy and replaces
 * `authenticate` replaces the fast path with it. Internal: not exported from
 * `index.ts`; every other strategy is awaited as before.
 *
 * @module
 */
import type { AuthResult, HandshakeContext } from './types.js';

export type MaybePromise<T> = T | Promise<T>;

export const AUTHENTICATE_NOW = Symbol('sockpass.authenticateNow');

type Authenticate<U> = (ctx: HandshakeContext) => Promise<AuthResult<U>>;
type AuthenticateNow<U> = (ctx: HandshakeContext) => MaybePromise<AuthResult<U>>;

/** An `authenticate` for a strategy object, carrying `now` as its fast path. */
export function withFastPath<U>(now: AuthenticateNow<U>): Authenticate<U> {
  const authenticate = async (ctx: HandshakeContext) => now(ctx);
  return Object.assign(authenticate, { [AUTHENTICATE_NOW]: now });
}

/** The fast path of a strategy's `authenticate`, if it has one. */
export function fastPathOf<U>(authenticate: Authenticate<U>): AuthenticateNow<U> | undefined {
  return (authenticate as Partial<Record<typeof AUTHENTICATE_NOW, AuthenticateNow<U>>>)[AUTHENTICATE_NOW];
}

/**
 * Calls `run` (app code or a strategy: it may answer at once, return a
 * promise, or throw) and hands its value to `then`: at once when it answered
 * synchronously, once it settles otherwise. A throw or a rejection goes to
 * `caught`, so the result never throws and a promise it returns never
 * rejects (unless `then` or `caught` does).
 */
export function settleNow<T, R>(
  run: () => MaybePromise<T>,
  then: (value: T) => MaybePromise<R>,
  caught: (cause: unknown) => MaybePromise<R>,
): MaybePromise<R> {
  let value: MaybePromise<T>;
  try {
    value = run();
  } catch (cause) {
    return caught(cause);
  }
  return isThenable(value) ? Promise.resolve(value).then(then, caught) : then(value);
}

/** True for anything `await` would wait on (a promise, or a foreign thenable). */
export function isThenable<T>(value: MaybePromise<T> | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
