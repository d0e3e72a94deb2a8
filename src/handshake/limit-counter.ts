/**
 * One limit's counts on rate-limiter-flexible: `points` per window of
 * `duration` seconds, kept in this process's memory, and with Redis also in
 * Redis for every node.
 *
 * A point is spent before the work it pays for, so handshakes that arrive
 * together cannot all read "not over yet": each store's increment is atomic
 * (synchronous in memory, one Lua script in Redis). The caller then keeps the
 * point (a refusal) or gives it back (a success).
 *
 * With Redis, the node's own memory count is spent first and always: it
 * holds each node to `points` whatever Redis does, and refuses a burst on
 * the spot once the node has spent its points, so Redis sees at most
 * `points` calls per key per node per window. Redis then holds every node
 * together to `points`.
 *
 * Redis gets a deadline on every call. A Redis that errors, or does not
 * answer in time (a frozen server, a half-open connection: node-redis still
 * says ready), is left out of that call: the node's count alone decides.
 * While a call is overdue the next ones skip Redis at once, with one probe
 * a second. A point that lands in Redis after its deadline is given back
 * there when it lands: its handshake was judged without it.
 *
 * @module
 */
import createDebug from 'debug';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

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
const LATE: unique symbol = Symbol('sockpass.limitStoreLate');

/**
 * The work's value, or LATE once `ms` have passed and the loop has polled
 * for I/O once more: a reply that reached the socket while the loop was busy
 * (a burst of handshakes) is not taken for a hung Redis.
 */
function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T | typeof LATE> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => setImmediate(() => settled || ((settled = true), resolve(LATE))), ms);
    work.then(
      (value) => settled || ((settled = true), clearTimeout(timer), resolve(value)),
      (err: unknown) => settled || ((settled = true), clearTimeout(timer), reject(err)),
    );
  });
}

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
    const started = Date.now();
    try {
      const value = await withinDeadline(work, lane.timeout);
      if (value !== LATE) return value;
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
        debug('%s limit: Redis answered %d ms late', name, Date.now() - started - lane.timeout);
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

  /** A point spent in each of `where` (memory, and Redis when it answered): kept or given back in all of them. */
  const spent = (key: string, where: Array<{ store: Store; res: RateLimiterRes }>): Spend => {
    const now = Date.now();
    const windows = where.map(({ store, res }) => ({ store, res, ends: now + res.msBeforeNext }));
    return {
      over: false,
      keep() {
        // Each count that this refusal brought to its last point blocks its own key.
        for (const { store, res } of windows) {
          if (rule.blockDuration !== undefined && res.consumedPoints >= rule.points) {
            store.block(key, rule.blockDuration).catch(ignore(`${name} block`));
          }
        }
      },
      refund() {
        for (const { store, ends } of windows) refundOn(store, key, ends);
      },
    };
  };
  const over = (res: RateLimiterRes): Spend => ({ over: true, retryAfter: Math.max(1, res.msBeforeNext) });

  return {
    async spend(key) {
      // This node's count first: it holds every node to `points` on its own, whatever Redis does, and a
      // burst is refused here without a call to Redis once the node has spent its points.
      const local = await answered(memory.consume(key));
      if (local.over) return over(local.res);
      const remote = await onRedis(
        (store) => answered(store.consume(key)),
        // Landed after its deadline: this handshake was judged on the node's count alone.
        (late) => refundOn(shared!, key, Date.now() + late.res.msBeforeNext),
      );
      if (remote === UNAVAILABLE) return spent(key, [{ store: memory, res: local.res }]);
      // Over in Redis: refused, and the node's point stays spent, as any refused handshake's.
      if (remote.over) return over(remote.res);
      return spent(key, [
        { store: memory, res: local.res },
        { store: shared!, res: remote.res },
      ]);
    },
    async wait(key) {
      const local = await memory.get(key);
      if (local !== null && local.consumedPoints >= rule.points) return Math.max(1, local.msBeforeNext);
      const remote = await onRedis((store) => store.get(key), () => {});
      if (remote === UNAVAILABLE || remote === null || remote.consumedPoints < rule.points) return undefined;
      return Math.max(1, remote.msBeforeNext);
    },
  };
}
