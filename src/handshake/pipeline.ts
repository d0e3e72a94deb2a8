/**
 * The pipeline: runs a chain of named strategies on one handshake and turns
 * their results into one decision. The only place that knows what modes
 * `first`, `all` and `any` mean.
 *
 * - `first`: strategies run in order; the first that finds credentials decides
 *   (success or failure); when none does, a strategy that takes its
 *   credential in-band (the `authenticate` event) admits the socket to
 *   quarantine, else the handshake fails with `credentials_required`.
 * - `all`: every strategy must succeed and name the same user.
 * - `any`: Passport's fallthrough: strategies run in order, a failure moves
 *   on, the first success wins. When none succeeds the most specific answer
 *   is reported: any failure beats a missing credential (and an in-band
 *   strategy still to come), and among failures the first in chain order,
 *   the strategy the app listed as the one it expects. With no failure, an
 *   in-band strategy that passed admits the socket to quarantine, as in
 *   `first`.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, toAuthError } from '../errors.js';
import { fastPathOf, isThenable, type MaybePromise } from '../immediate.js';
import { issuedAtMs } from '../issued-at.js';
import type { AuthResult, AuthSuccess, Claims, HandshakeContext, Strategy } from '../types.js';

const debug = createDebug('sockpass:pipeline');

/**
 * How a chain decides: `first` (the first strategy that finds credentials
 * decides), `all` (every strategy must succeed, for the same user) or `any`
 * (Passport's fallthrough: the first strategy that succeeds wins).
 */
export type Mode = 'first' | 'all' | 'any';

export interface NamedStrategy<U> {
  name: string;
  strategy: Strategy<U>;
}

export type Decision<U> =
  | { kind: 'success'; strategy: string; result: AuthSuccess<U> }
  | { kind: 'fail'; error: AuthError }
  | { kind: 'deferred'; strategy: string; pending: Strategy<U> };

/**
 * Runs one strategy; a throw or a malformed result becomes a typed failure.
 * Synchronous when the strategy answers on its fast path (`immediate.ts`);
 * the promise it returns otherwise never rejects.
 *
 * `settleNow` written out: its three closures (and their shared context)
 * would be ~300 bytes allocated on every handshake (bench/handshake-cost.ts).
 */
export function runStrategy<U>(named: NamedStrategy<U>, ctx: HandshakeContext): MaybePromise<AuthResult<U>> {
  const { strategy } = named;
  let result: MaybePromise<AuthResult<U>>;
  try {
    const now = fastPathOf(strategy.authenticate);
    result = now !== undefined ? now.call(strategy, ctx) : strategy.authenticate(ctx);
  } catch (err) {
    return thrown(named, err);
  }
  if (!isThenable(result)) return checked(named, result);
  return Promise.resolve(result).then(
    (settled) => checked(named, settled),
    (err: unknown) => thrown(named, err),
  );
}

function thrown<U>(named: NamedStrategy<U>, err: unknown): AuthResult<U> {
  debug('strategy %s threw: %s', named.name, (err as Error)?.message);
  return { kind: 'fail', error: toAuthError(err, named.name) };
}

function checked<U>(named: NamedStrategy<U>, result: AuthResult<U>): AuthResult<U> {
  if (result === null || typeof result !== 'object') {
    return { kind: 'fail', error: new AuthError('server_error', 'authentication failed', { strategy: named.name }) };
  }
  if (result.kind === 'fail') result.error = toAuthError(result.error, named.name);
  return result;
}

/** The decision for a handshake; synchronous when every strategy it ran answered synchronously. */
export function decide<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  mode: Mode,
  userId: (user: U) => string | undefined,
): MaybePromise<Decision<U>> {
  if (mode === 'all') return decideAll(chain, ctx, userId);
  if (mode === 'any') return decideAny(chain, ctx, 0, undefined, undefined);
  return decideFirst(chain, ctx, 0, undefined);
}

/** `first` from chain[from] on; goes async at the first strategy that does, and only then. */
function decideFirst<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  from: number,
  pending: NamedStrategy<U> | undefined,
): MaybePromise<Decision<U>> {
  for (let i = from; i < chain.length; i++) {
    const named = chain[i]!;
    const result = runStrategy(named, ctx);
    if (isThenable(result)) {
      return result.then((settled) => decidedBy(named, settled) ?? decideFirst(chain, ctx, i + 1, pendingAfter(pending, named)));
    }
    const decision = decidedBy(named, result);
    if (decision !== undefined) return decision;
    pending = pendingAfter(pending, named);
  }
  if (pending !== undefined) return { kind: 'deferred', strategy: pending.name, pending: pending.strategy };
  return { kind: 'fail', error: new AuthError('credentials_required', 'no credentials were provided') };
}

/**
 * `any` from chain[from] on: a success decides, a failure is kept (the first
 * one) and the chain moves on; goes async at the first strategy that does.
 */
function decideAny<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  from: number,
  failure: AuthError | undefined,
  pending: NamedStrategy<U> | undefined,
): MaybePromise<Decision<U>> {
  for (let i = from; i < chain.length; i++) {
    const named = chain[i]!;
    const result = runStrategy(named, ctx);
    if (isThenable(result)) {
      return result.then((settled) =>
        settled.kind === 'success'
          ? ({ kind: 'success', strategy: named.name, result: settled } as const)
          : decideAny(chain, ctx, i + 1, failure ?? failureOf(settled), pendingAfter(pending, named)),
      );
    }
    if (result.kind === 'success') return { kind: 'success', strategy: named.name, result };
    failure ??= failureOf(result);
    pending = pendingAfter(pending, named);
  }
  if (failure !== undefined) return { kind: 'fail', error: failure };
  if (pending !== undefined) return { kind: 'deferred', strategy: pending.name, pending: pending.strategy };
  return { kind: 'fail', error: new AuthError('credentials_required', 'no credentials were provided') };
}

function failureOf<U>(result: AuthResult<U>): AuthError | undefined {
  return result.kind === 'fail' ? result.error : undefined;
}

/** In mode `first`, a strategy that found credentials decides; one that passed does not. */
function decidedBy<U>(named: NamedStrategy<U>, result: AuthResult<U>): Decision<U> | undefined {
  if (result.kind === 'success') return { kind: 'success', strategy: named.name, result };
  if (result.kind === 'fail') return { kind: 'fail', error: result.error };
  return undefined;
}

/** The first in-band strategy that passed is the one the socket waits for. */
function pendingAfter<U>(pending: NamedStrategy<U> | undefined, named: NamedStrategy<U>): NamedStrategy<U> | undefined {
  return pending === undefined && named.strategy.inBand !== undefined ? named : pending;
}

async function decideAll<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  userId: (user: U) => string | undefined,
): Promise<Decision<U>> {
  const results = await Promise.all(chain.map((named) => runStrategy(named, ctx)));
  const successes: AuthSuccess<U>[] = [];
  for (const [i, result] of results.entries()) {
    const name = chain[i]!.name;
    if (result.kind === 'fail') return { kind: 'fail', error: result.error };
    if (result.kind === 'pass') {
      return { kind: 'fail', error: new AuthError('credentials_required', 'a required credential is missing', { strategy: name }) };
    }
    successes.push(result);
  }
  const first = successes[0]!;
  const id = userId(first.user);
  for (const [i, other] of successes.entries()) {
    if (userId(other.user) !== id || id === undefined) {
      return {
        kind: 'fail',
        error: new AuthError('user_mismatch', 'credentials name different users', { strategy: chain[i]!.name }),
      };
    }
  }
  return { kind: 'success', strategy: chain.map((n) => n.name).join('+'), result: mergeSuccesses(successes) };
}

/**
 * One success out of several: the soonest expiry wins, claims are merged in
 * chain order, and the issue time is the oldest member's, or unknown (`null`)
 * when any member's age is unknown: the merged claims' `iat` speaks for one
 * member only.
 */
function mergeSuccesses<U>(successes: AuthSuccess<U>[]): AuthSuccess<U> {
  const merged: AuthSuccess<U> = { kind: 'success', user: successes[0]!.user, claims: {}, expiresAt: null, issuedAt: null };
  const revalidators: NonNullable<AuthSuccess<U>['revalidate']>[] = [];
  let oldest: number | undefined = Number.POSITIVE_INFINITY;
  for (const s of successes) {
    const issued = issuedAtMs(s);
    oldest = issued === undefined || oldest === undefined ? undefined : Math.min(oldest, issued);
    mergeClaims(merged.claims!, s.claims);
    if (s.expiresAt && (!merged.expiresAt || s.expiresAt < merged.expiresAt)) merged.expiresAt = s.expiresAt;
    if (s.session !== undefined && merged.session === undefined) merged.session = s.session;
    if (s.revalidate) revalidators.push(s.revalidate);
  }
  if (oldest !== undefined) merged.issuedAt = new Date(oldest);
  if (revalidators.length > 0) {
    merged.revalidate = async () => {
      for (const revalidate of revalidators) {
        const r = await revalidate();
        if (r.kind !== 'success') return r;
      }
      return merged;
    };
  }
  return merged;
}

/**
 * Copies claims as own data properties. `Object.assign` would run setters: a
 * signed top-level `__proto__` claim would become the prototype of the
 * merged claims, and guards would read inherited values.
 */
function mergeClaims(target: Claims, source: Claims | undefined): void {
  if (source === undefined) return;
  for (const key of Object.keys(source)) {
    Object.defineProperty(target, key, { value: source[key], enumerable: true, writable: true, configurable: true });
  }
}
