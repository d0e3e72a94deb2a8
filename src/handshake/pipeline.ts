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
 * The one reading of what a strategy returned (at the handshake, in-band,
 * at refresh and revalidation): anything that is not an object with a known
 * `kind` is a `server_error`; a failure's error becomes an AuthError naming
 * the strategy.
 */
export function normalizeResult<U>(result: unknown, strategy: string): AuthResult<U> {
  if (result === null || typeof result !== 'object') return failure('server_error', 'authentication failed', strategy);
  const r = result as AuthResult<U>;
  if (r.kind === 'fail') return { kind: 'fail', error: toAuthError(r.error, strategy) };
  if (r.kind === 'pass') return r;
  if (r.kind !== 'success') return failure('server_error', 'authentication failed', strategy);
  return r;
}

/** What a strategy that threw is taken to have said. */
export function failureOf<U>(err: unknown, strategy: string): AuthResult<U> {
  debug('strategy %s threw: %s', strategy, (err as Error)?.message);
  return { kind: 'fail', error: toAuthError(err, strategy) };
}

function failure<U>(code: 'server_error', message: string, strategy: string): AuthResult<U> {
  return { kind: 'fail', error: new AuthError(code, message, { strategy }) };
}

/**
 * Runs one strategy on the handshake and reads its result (`normalizeResult`);
 * never rejects. `then` with a continuation rather than async functions:
 * every handshake runs this, and each async frame or promise step on the way
 * is an allocation per handshake.
 */
export function runStrategy<U, T = AuthResult<U>>(
  named: NamedStrategy<U>,
  ctx: HandshakeContext,
  andThen: (result: AuthResult<U>) => T | PromiseLike<T> = (result) => result as T,
): Promise<T> {
  let pending: Promise<unknown>;
  try {
    // A JavaScript strategy may return a plain result: taken as given.
    pending = Promise.resolve(named.strategy.authenticate(ctx));
  } catch (err) {
    pending = Promise.reject(err);
  }
  return pending.then(
    (r) => andThen(normalizeResult<U>(r, named.name)),
    (err: unknown) => andThen(failureOf<U>(err, named.name)),
  );
}

/** The decision for a handshake. */
export function decide<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  mode: Mode,
  userId: (user: U) => string | undefined,
): Promise<Decision<U>> {
  if (mode === 'all') return decideAll(chain, ctx, userId);
  if (mode === 'any') return decideAny(chain, ctx);
  return decideFirst(chain, ctx, 0, undefined);
}

/**
 * Mode `first`: in chain order, the first strategy that finds credentials
 * decides; `pending` is the first in-band strategy that passed, the one the
 * socket waits for when none decides.
 */
function decideFirst<U>(
  chain: readonly NamedStrategy<U>[],
  ctx: HandshakeContext,
  from: number,
  pending: NamedStrategy<U> | undefined,
): Promise<Decision<U>> {
  const named = chain[from];
  if (named === undefined) {
    if (pending !== undefined) return Promise.resolve({ kind: 'deferred', strategy: pending.name, pending: pending.strategy });
    return Promise.resolve({ kind: 'fail', error: new AuthError('credentials_required', 'no credentials were provided') });
  }
  return runStrategy(
    named,
    ctx,
    (result): Decision<U> | Promise<Decision<U>> =>
      decidedBy(named, result) ?? decideFirst(chain, ctx, from + 1, pending ?? (named.strategy.inBand !== undefined ? named : undefined)),
  );
}

/**
 * Mode `any`, Passport's fallthrough: a success decides, a failure is kept
 * (the first one) and the chain moves on; with no success, any failure beats
 * a missing credential, and an in-band strategy waits only when nothing failed.
 */
async function decideAny<U>(chain: readonly NamedStrategy<U>[], ctx: HandshakeContext): Promise<Decision<U>> {
  let failure: AuthError | undefined;
  let pending: NamedStrategy<U> | undefined;
  for (const named of chain) {
    const result = await runStrategy(named, ctx);
    if (result.kind === 'success') return { kind: 'success', strategy: named.name, result };
    if (result.kind === 'fail') failure ??= result.error;
    else if (pending === undefined && named.strategy.inBand !== undefined) pending = named;
  }
  if (failure !== undefined) return { kind: 'fail', error: failure };
  if (pending !== undefined) return { kind: 'deferred', strategy: pending.name, pending: pending.strategy };
  return { kind: 'fail', error: new AuthError('credentials_required', 'no credentials were provided') };
}

/** In mode `first`, a strategy that found credentials decides; one that passed does not. */
function decidedBy<U>(named: NamedStrategy<U>, result: AuthResult<U>): Decision<U> | undefined {
  if (result.kind === 'success') return { kind: 'success', strategy: named.name, result };
  if (result.kind === 'fail') return { kind: 'fail', error: result.error };
  return undefined;
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
 * chain order, the session and token ids are kept (the first of each), and the issue time is the oldest member's, or unknown (`null`)
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
    // The token's id, so `revoke({ token })` finds the socket and the ledger refuses the token again.
    if (s.tokenId !== undefined && merged.tokenId === undefined) merged.tokenId = s.tokenId;
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
