/**
 * Handshake rate limits, on rate-limiter-flexible: refused handshakes per
 * client address and per credential subject over a window, and sockets
 * admitted to wait for an in-band credential (quarantine) per address.
 *
 * The check comes first, before any strategy runs (no signature verified, no
 * session read, no key fetched): one `get` per enabled limit. Only a refusal
 * spends a point, so a client that authenticates pays the `get` and nothing
 * else. Over the limit the handshake is refused with `rate_limited` and
 * `retryAfter` (ms) in `err.data`.
 *
 * The subject is read before verification: the unverified `sub` of the
 * token, decoded only. Anyone can forge a token naming a victim's `sub`, so
 * a subject spends a point only on refusals of tokens whose signature
 * verified (expired, not yet active, wrong audience or issuer, revoked):
 * forged tokens cannot lock the victim out. Replaying a real but expired or
 * revoked token of the victim still can; that is why the subject limit is
 * off by default.
 *
 * Memory by default (one process); with `redis` (the app's node-redis v5
 * client) every node shares the counts, and if Redis fails each node falls
 * back to its own memory limits (rate-limiter-flexible's `insuranceLimiter`).
 *
 * @module
 */
import createDebug from 'debug';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { AuthError, type AuthErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Decision } from './pipeline.js';
import { TIMED_OUT, withTimeout } from '../time.js';
import type { HandshakeContext } from '../types.js';

const debug = createDebug('sockpass:rate-limit');

/** `points` events per `duration` seconds; over it, refused for the rest of the window (or `blockDuration` seconds). */
export interface LimitRule {
  /** Events allowed per window: a positive integer. */
  points: number;
  /** Length of the window, in seconds (a positive integer), counted from the first event. */
  duration: number;
  /** Seconds a key stays refused once over the limit (a positive integer). Default: the rest of the window. */
  blockDuration?: number;
}

/**
 * Options of {@link handshakeLimits}: which limits apply (by client address, by
 * token subject, on sockets waiting for an in-band credential), and where the
 * counts live (memory, or Redis shared by every node).
 */
export interface HandshakeLimitsOptions {
  /** Refused handshakes per client address. Default 30 per 60 s; `false` turns it off. */
  address?: LimitRule | false;
  /**
   * Refused handshakes per token subject (`sub`), counting only tokens whose
   * signature verified. Default off: see the module notes on lock-outs.
   */
  subject?: LimitRule | false;
  /** Sockets admitted to wait for an in-band credential, per address. Default 60 per 60 s; `false` turns it off. */
  pending?: LimitRule | false;
  /** A node-redis v5 client (connected) to share the counts between nodes. Default: memory, this process only. */
  redis?: object;
  /** Prefix of the limiter keys (in Redis). Default `sockpass`. */
  keyPrefix?: string;
  /**
   * Header set by the trusted reverse proxy in front of the server, e.g.
   * `x-forwarded-for`: its last entry (the address the proxy saw) is the
   * client address. Only when every connection comes through that proxy,
   * otherwise clients choose their own address.
   */
  trustedProxyHeader?: string;
  /** Longest wait for the store (Redis) before the check is skipped. Default 500 ms. */
  storeTimeout?: number;
}

/** What `handshakeLimits()` returns; pass it as `new SockPass({ rateLimit })`. */
export interface HandshakeLimits {
  /**
   * Runs `decide` unless a limit is reached, and spends points on its refusal
   * or deferral. The registry calls it; an app only passes the object along
   * (kept in the declarations, so `{}` is not taken for a HandshakeLimits).
   */
  readonly decideWithin: <U>(ctx: HandshakeContext, decide: () => Promise<Decision<U>>, metrics?: Metrics) => Promise<Decision<U>>;
}

/** Refusals that come after the token's signature verified: only these may count against its subject. */
const VERIFIED_REFUSALS: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>([
  'token_expired',
  'token_not_active',
  'invalid_audience',
  'invalid_issuer',
  'token_revoked',
  'user_mismatch',
  'forbidden',
]);

const MAX_KEY_LENGTH = 256;
const MAX_TOKEN_LENGTH = 8192;

/**
 * @example
 * ```ts
 * const auth = new SockPass<User>({ rateLimit: handshakeLimits({ address: { points: 20, duration: 60 }, redis: redisClient }) });
 * // over the limit: connect_error with err.data = { code: 'rate_limited', retryAfter: 41200, … }
 * ```
 */
export function handshakeLimits(options: HandshakeLimitsOptions = {}): HandshakeLimits {
  const prefix = options.keyPrefix ?? 'sockpass';
  const storeTimeout = options.storeTimeout ?? 500;
  const limiter = (name: string, rule: LimitRule | false | undefined, fallback: LimitRule | false): RateLimiterAbstract | undefined => {
    const r = rule ?? fallback;
    if (r === false) return undefined;
    checkRule(name, r);
    const base = { keyPrefix: `${prefix}:${name}`, points: r.points, duration: r.duration, blockDuration: r.blockDuration };
    if (options.redis === undefined) return new RateLimiterMemory(base);
    return new RateLimiterRedis({
      ...base,
      storeClient: options.redis,
      useRedisPackage: true, // node-redis v4+: eval(script, { keys, arguments }), multi().pTTL()
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(base),
    });
  };
  const byAddress = limiter('address', options.address, { points: 30, duration: 60 });
  const bySubject = limiter('subject', options.subject, false);
  const pending = limiter('pending', options.pending, { points: 60, duration: 60 });
  const header = options.trustedProxyHeader?.toLowerCase();
  const addressOf = (ctx: HandshakeContext) => clientAddress(ctx, header);

  const decideWithin = async <U>(ctx: HandshakeContext, decide: () => Promise<Decision<U>>, metrics?: Metrics): Promise<Decision<U>> => {
    const address = addressOf(ctx);
    const subject = bySubject === undefined ? undefined : unverifiedSubject(ctx);
    const byAddressWait = await overLimit(byAddress, address, storeTimeout);
    if (byAddressWait !== undefined) return refuse(metrics, 'address', byAddressWait, 'too many refused handshakes; retry later');
    const bySubjectWait = await overLimit(bySubject, subject, storeTimeout);
    if (bySubjectWait !== undefined) return refuse(metrics, 'subject', bySubjectWait, 'too many refused handshakes; retry later');

    const decision = await decide();
    if (decision.kind === 'fail') {
      const { code } = decision.error;
      await spend(byAddress, address, storeTimeout);
      if (VERIFIED_REFUSALS.has(code)) await spend(bySubject, subject, storeTimeout);
    } else if (decision.kind === 'deferred') {
      const over = await spend(pending, address, storeTimeout);
      if (over !== undefined) return refuse(metrics, 'pending', over, 'too many sockets waiting to authenticate; retry later');
    }
    return decision;
  };
  return { decideWithin };
}

function refuse<U>(metrics: Metrics | undefined, limit: 'address' | 'subject' | 'pending', retryAfter: number, message: string): Decision<U> {
  metrics?.rateLimited(limit);
  return { kind: 'fail', error: new AuthError('rate_limited', message, { retryAfter }) };
}

/** Ms to wait when `key` has spent its points, else undefined. A store that fails or is slow never blocks a handshake. */
async function overLimit(limiter: RateLimiterAbstract | undefined, key: string | undefined, bound: number): Promise<number | undefined> {
  if (limiter === undefined || key === undefined) return undefined;
  try {
    const res = await withTimeout(limiter.get(key), bound);
    if (res === TIMED_OUT || res === null) return undefined;
    return res.consumedPoints >= limiter.points ? Math.max(1, res.msBeforeNext) : undefined;
  } catch (err) {
    debug('limit check failed: %s', (err as Error)?.message);
    return undefined;
  }
}

/** Spends one point of `key`; the ms to wait when that went over the limit. */
async function spend(limiter: RateLimiterAbstract | undefined, key: string | undefined, bound: number): Promise<number | undefined> {
  if (limiter === undefined || key === undefined) return undefined;
  try {
    await withTimeout(limiter.consume(key), bound);
    return undefined;
  } catch (err) {
    // consume() rejects with a RateLimiterRes when over the limit, with an Error when the store failed.
    if (err instanceof Error) {
      debug('limit update failed: %s', err.message);
      return undefined;
    }
    return Math.max(1, (err as RateLimiterRes).msBeforeNext);
  }
}

/** The client address: the handshake's, or the last entry of the trusted proxy's header. */
export function clientAddress(ctx: HandshakeContext, trustedHeader?: string): string {
  if (trustedHeader !== undefined) {
    const value = ctx.headers[trustedHeader];
    const last = (Array.isArray(value) ? value[value.length - 1] : value)?.split(',').pop()?.trim();
    if (last !== undefined && last.length > 0) return last.slice(0, MAX_KEY_LENGTH);
  }
  return ctx.address;
}

/**
 * The `sub` of the JWT in the handshake (auth `token`, `Authorization:
 * Bearer`, or `?token=`), decoded and NOT verified; bounded in size.
 */
export function unverifiedSubject(ctx: HandshakeContext): string | undefined {
  const authorization = ctx.headers.authorization;
  const candidates = [
    ctx.auth.token,
    typeof authorization === 'string' && /^bearer /i.test(authorization) ? authorization.slice(7) : undefined,
    ctx.query.token,
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string' || candidate.length > MAX_TOKEN_LENGTH) continue;
    const token = /^bearer /i.test(candidate) ? candidate.slice(7) : candidate;
    const payload = token.split('.', 3)[1];
    if (payload === undefined) continue;
    try {
      const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown } | null)?.sub;
      if (typeof sub === 'string' && sub.length > 0 && sub.length <= MAX_KEY_LENGTH) return sub;
    } catch {
      // not a JWT: no subject
    }
  }
  return undefined;
}

function checkRule(name: string, rule: LimitRule): void {
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (typeof rule !== 'object' || rule === null || !ok(rule.points) || !ok(rule.duration) || (rule.blockDuration !== undefined && !ok(rule.blockDuration))) {
    throw new TypeError(`sockpass: rate limit \`${name}\` needs { points, duration } as positive integers (duration in seconds)`);
  }
}
