/**
 * One limit's counts on rate-limiter-flexible: `points` per window of
 * `duration` seconds, kept in this process's memory, or in Redis for every
 * node.
 *
 * A point is spent before the work it pays for, so handshakes that arrive
 * together cannot all read "not over yet": the store's increment is atomic
 * (synchronous in memory, one Lua script in Redis). The caller then keeps the
 * point (a refusal) or gives it back (a success).
 *
 * Redis gets a deadline on every call. A Redis that errors, or does not
 * answer in time (a frozen server, a half-open connection: node-redis still
 * says ready), gives way to this node's memory counts for that call; while a
 * call is overdue the next ones go to memory at once, with one probe of Redis
 * a second. A point that lands in Redis after its deadline is given back
 * there when it lands: the handshake it belonged to was counted in memory.
 *
 * @module
 */
import createDebug from 'debug';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { TIMED_OUT, withTimeout } from '../timeout.js';

const debug = createDebug('sockpass:rate-limit');

/** `points` events per `duration` seconds; over it, refused for the rest of the window (or `blockDuration` seconds). */
export interface LimitRule {
  /** Events allowed per window: a positive integer. */
  points: number;
  /** Length of the window, in seconds (a positive integer), counted from the first event. */
  duration: number;
  /**
   * Seconds a key stays refused once it has spent its last point on a
   * refusal (a positive integer), even past the end of the window. Default:
   * refused for the rest of the window only.
   */
  blockDuration?: number;
}

/** The package's exports this file uses: loaded by the caller only when limits are configured. */
export type RateLimiterFlexible = Pick<typeof import('rate-limiter-flexible'), 'RateLimiterMemory' | 'RateLimiterRedis'>;

/** How long an overdue Redis is skipped before it is tried again. */
const PROBE_INTERVAL_MS = 1000;

/** Where one call went: the store to give a point back to. */
type Store = RateLimiterAbstract;

/** The answer to spending a point. */
export type Spend =
  /** None was left: refuse, and say when to come back. */
  | { over: true; retryAfter: number }
  /** Spent. `keep()` for a refusal (it starts `blockDuration` when it was the last point), `refund()` for anything else. */
  | { over: false; keep(): void; refund(): void };

export interface LimitCounter {
  /** Spends one point of `key`, atomically. */
  spend(key: string): Promise<Spend>;
  /** Ms to wait when `key` has no point left, else undefined. Spends nothing. */
  wait(key: string): Promise<number | undefined>;
}

/** A node-redis client shared by every limit of one `handshakeLimits()`, and how it has been answering. */
export interface RedisLane {
  readonly client: object;
  /** Deadline of one call, ms. */
  readonly timeout: number;
  /** Calls past their deadline that have not settled yet. */
  overdue: number;
  /** While calls are overdue, Redis is tried again only after this (ms since epoch). */
  probeAt: number;
}

export function redisLane(client: object, timeout: number): RedisLane {
  return { client, timeout, overdue: 0, probeAt: 0 };
}

const UNAVAILABLE: unique symbol = Symbol('sockpass.limitStoreUnavailable');

/** consume() rejects with a RateLimiterRes when over the limit: both are answers; an Error is a store failure. */
async function answered(work: Promise<RateLimiterRes>): Promise<{ res: RateLimiterRes; over: boolean }> {
  try {
    return { res: await work, over: false };
  } catch (err) {
    if (err instanceof Error) throw err;
    return { res: err as RateLimiterRes, over: true };
  }
}

const ignore = (what: string) => (err: unknown) => debug('%s failed: %s', what, (err as Error)?.message);

export function limitCounter(flexible: RateLimiterFlexible, name: string, rule: LimitRule, keyPrefix: string, lane: RedisLane | undefined): LimitCounter {
  // No blockDuration here: the block starts when a kept refusal took the last point (keep()), not on any
  // crossing consume, so a burst of valid handshakes in flight together never blocks an address.
  const options = { keyPrefix: `${keyPrefix}:${name}`, points: rule.points, duration: rule.duration };
  const memory: Store = new flexible.RateLimiterMemory(options);
  const shared: Store | undefined =
    lane === undefined
      ? undefined
      : new flexible.RateLimiterRedis({
          ...options,
          storeClient: lane.client,
          useRedisPackage: true, // node-redis v4+: eval(script, { keys, arguments }), multi().pTTL()
          rejectIfRedisNotReady: true, // a disconnected client fails at once instead of queueing
        });

  /** `call` on Redis within the deadline; UNAVAILABLE (use memory) when it failed, was late, or Redis is overdue. */
  async function onRedis<T>(call: (store: Store) => Promise<T>, late: (value: T) => void): Promise<T | typeof UNAVAILABLE> {
    if (shared === undefined || lane === undefined) return UNAVAILABLE;
    if (lane.overdue > 0 && Date.now() < lane.probeAt) return UNAVAILABLE;
    const work = call(shared);
    try {
      const value = await withTimeout(work, lane.timeout);
      if (value !== TIMED_OUT) return value;
    } catch (err) {
      ignore(`${name} limit on Redis`)(err);
      return UNAVAILABLE;
    }
    debug('%s limit: Redis gave no answer within %d ms; this node counts in memory', name, lane.timeout);
    lane.overdue++;
    lane.probeAt = Date.now() + PROBE_INTERVAL_MS;
    work.then(
      (value) => {
        lane.overdue--;
        late(value);
      },
      () => lane.overdue--,
    );
    return UNAVAILABLE;
  }

  /**
   * Gives one point back, unless the window it was spent in has ended (the
   * point ended with it): a refund never leaves a point to spare in the next
   * window. Redis's TTL started a round trip before this node's clock, so a
   * refund that still arrives after the key expired is taken back there.
   */
  const refundOn = (store: Store, key: string, windowEnds: number) => {
    if (Date.now() >= windowEnds) return;
    store
      .reward(key, 1)
      .then((res) => (res.consumedPoints < 0 ? store.penalty(key, 1) : undefined))
      .catch(ignore(`${name} refund`));
  };

  const spent = (store: Store, key: string, res: RateLimiterRes): Spend => {
    const windowEnds = Date.now() + res.msBeforeNext;
    return {
      over: false,
      keep() {
        if (rule.blockDuration !== undefined && res.consumedPoints >= rule.points) {
          store.block(key, rule.blockDuration).catch(ignore(`${name} block`));
        }
      },
      refund: () => refundOn(store, key, windowEnds),
    };
  };

  return {
    async spend(key) {
      const remote = await onRedis(
        (store) => answered(store.consume(key)),
        // Landed after its deadline: this handshake was counted in memory instead.
        (late) => refundOn(shared!, key, Date.now() + late.res.msBeforeNext),
      );
      const store = remote === UNAVAILABLE ? memory : shared!;
      const { res, over } = remote === UNAVAILABLE ? await answered(memory.consume(key)) : remote;
      if (over) return { over: true, retryAfter: Math.max(1, res.msBeforeNext) };
      return spent(store, key, res);
    },
    async wait(key) {
      const remote = await onRedis((store) => store.get(key), () => {});
      const res = remote === UNAVAILABLE ? await memory.get(key) : remote;
      if (res === null || res.consumedPoints < rule.points) return undefined;
      return Math.max(1, res.msBeforeNext);
    },
  };
}
