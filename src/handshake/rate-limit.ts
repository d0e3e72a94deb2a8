/**
 * Handshake rate limits, on rate-limiter-flexible (an optional peer
 * dependency, loaded when `handshakeLimits()` is called): refused handshakes
 * per client address and per credential subject over a window, and sockets
 * admitted to wait for an in-band credential (quarantine) per address.
 *
 * Spend, then refund. Before any strategy runs (no signature verified, no
 * session read, no key fetched) the handshake spends one point of its
 * address; with none left it is refused with `rate_limited` and `retryAfter`
 * (ms) in `err.data`. A success, a socket admitted to wait, and a failure of
 * the server's own (`key_unavailable`, `store_unavailable`, `server_error`)
 * give the point back; a refusal of the client's credential keeps it. So
 * handshakes that arrive together (hundreds of CONNECT packets in one
 * long-polling POST) are held to the limit: a point is taken atomically
 * before the work, never counted after it. See docs/operations.md for the
 * exact bound, per node and with Redis.
 *
 * The subject is charged only when a credential was verified: the refusal
 * names it (`AuthError.subject`, set by the JWT verifier for an expired, not
 * yet active, wrongly addressed or revoked token whose signature verified).
 * Before the strategy runs, the subjects the handshake names (decoded, not
 * verified) are only read: one over its limit refuses the handshake, which
 * harms nobody but the sender. A forged token naming a victim therefore
 * cannot lock the victim out; replaying a real but expired or revoked token
 * of the victim still can, which is why the subject limit is off by default.
 *
 * Memory by default (one process); with `redis` (the app's node-redis v5
 * client) every node shares the counts, with a deadline on each call: a
 * Redis that fails or hangs gives way to each node's own memory counts.
 *
 * @module
 */
import { AuthError, type AuthErrorCode } from '../errors.js';
import { loadOptionalPeer } from '../optional-peer.js';
import type { HandshakeContext } from '../types.js';
import { limitCounter, redisLane, type LimitCounter, type LimitRule, type RateLimiterFlexible } from './limit-counter.js';

export type { LimitRule };

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
  /**
   * Deadline of each call to Redis, ms. A call that fails or takes longer is
   * made on this node's memory counts instead, so a hung Redis neither stalls
   * handshakes nor switches the limits off. Default 200.
   */
  storeTimeout?: number;
}

/** The limits in force, defaults filled in: `false` where a limit is off. */
export interface HandshakeLimitRules {
  /** Refused handshakes per client address. */
  readonly address: Readonly<LimitRule> | false;
  /** Refused handshakes per verified token subject. */
  readonly subject: Readonly<LimitRule> | false;
  /** Sockets admitted to wait for an in-band credential, per address. */
  readonly pending: Readonly<LimitRule> | false;
}

/**
 * What the limits need to know of a handshake's decision: admitted,
 * admitted to wait for an in-band credential, or refused.
 */
export type HandshakeVerdict =
  | {
      /** Admitted. */
      kind: 'success';
    }
  | {
      /** Admitted to wait for an in-band credential. */
      kind: 'deferred';
    }
  | {
      /** Refused. */
      kind: 'fail';
      /** Why: its code says whether the client's credential or the server failed. */
      error: AuthError;
    };

/** Told of every handshake the limits refuse (the registry's metrics), by the limit that refused it. */
export interface RateLimitObserver {
  /** One handshake refused with `rate_limited` by the `address`, `subject` or `pending` limit. */
  rateLimited(limit: 'address' | 'subject' | 'pending'): void;
}

/** A refusal by the limits themselves: `rate_limited`, with `retryAfter`. */
export interface RateLimitedVerdict {
  /** Always a refusal. */
  kind: 'fail';
  /** Code `rate_limited`, with `retryAfter` (ms). */
  error: AuthError;
}

/** What `handshakeLimits()` returns; pass it as `new SockPass({ rateLimit })`. */
export interface HandshakeLimits {
  /** The limits in force, defaults filled in. */
  readonly rules: HandshakeLimitRules;
  /** Where the counts live: this process's memory, or Redis shared by every node (memory while Redis fails). */
  readonly store: 'memory' | 'redis';
  /**
   * Runs `decide` (the chain's strategies) for one handshake unless a limit
   * is reached, and charges its outcome: a point of the address is spent
   * before `decide` and given back unless the client's credential was
   * refused. The middleware calls it; an app does not need to.
   */
  decideWithin<D extends HandshakeVerdict>(ctx: HandshakeContext, decide: () => PromiseLike<D> | D, metrics?: RateLimitObserver): Promise<D | RateLimitedVerdict>;
}

/** Failures of the server's own, not of the client's credential: never charged to the client. */
const SERVER_SIDE: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>(['key_unavailable', 'store_unavailable', 'server_error']);

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
  const rules: HandshakeLimitRules = {
    address: checkRule('address', options.address ?? { points: 30, duration: 60 }),
    subject: checkRule('subject', options.subject ?? false),
    pending: checkRule('pending', options.pending ?? { points: 60, duration: 60 }),
  };
  const storeTimeout = options.storeTimeout ?? 200;
  if (!Number.isFinite(storeTimeout) || storeTimeout <= 0) throw new TypeError('sockpass: `storeTimeout` must be a positive number of ms');
  const flexible = loadOptionalPeer<RateLimiterFlexible>('rate-limiter-flexible', 'handshakeLimits()');
  const prefix = options.keyPrefix ?? 'sockpass';
  const lane = options.redis === undefined ? undefined : redisLane(options.redis, storeTimeout);
  const counter = (name: keyof HandshakeLimitRules): LimitCounter | undefined => {
    const rule = rules[name];
    return rule === false ? undefined : limitCounter(flexible, name, rule, prefix, lane);
  };
  const byAddress = counter('address');
  const bySubject = counter('subject');
  const pending = counter('pending');
  const header = options.trustedProxyHeader?.toLowerCase();

  async function decideWithin<D extends HandshakeVerdict>(ctx: HandshakeContext, decide: () => PromiseLike<D> | D, metrics?: RateLimitObserver): Promise<D | RateLimitedVerdict> {
    const address = clientAddress(ctx, header);
    if (bySubject !== undefined) {
      // Read only: the handshake's own (unverified) subjects, so an over-limit subject is refused before any work.
      for (const subject of namedSubjects(ctx)) {
        const wait = await bySubject.wait(subject);
        if (wait !== undefined) return refuse(metrics, 'subject', wait, 'too many refused handshakes; retry later');
      }
    }
    const point = byAddress === undefined ? undefined : await byAddress.spend(address);
    if (point?.over === true) return refuse(metrics, 'address', point.retryAfter, 'too many refused handshakes; retry later');

    let decision: D;
    try {
      decision = await decide();
    } catch (err) {
      point?.refund();
      throw err;
    }
    if (decision.kind !== 'fail' || SERVER_SIDE.has(decision.error.code)) point?.refund();
    else point?.keep();

    if (decision.kind === 'fail') {
      const subject = chargeableSubject(decision.error);
      if (bySubject !== undefined && subject !== undefined) {
        const spent = await bySubject.spend(subject);
        if (!spent.over) spent.keep();
      }
    } else if (decision.kind === 'deferred' && pending !== undefined) {
      const waiting = await pending.spend(address);
      if (waiting.over) return refuse(metrics, 'pending', waiting.retryAfter, 'too many sockets waiting to authenticate; retry later');
      waiting.keep();
    }
    return decision;
  }
  return { rules, store: lane === undefined ? 'memory' : 'redis', decideWithin };
}

function refuse(metrics: RateLimitObserver | undefined, limit: 'address' | 'subject' | 'pending', retryAfter: number, message: string): RateLimitedVerdict {
  metrics?.rateLimited(limit);
  return { kind: 'fail', error: new AuthError('rate_limited', message, { retryAfter }) };
}

/** The subject a refusal may be charged to: only one a verifier vouched for, on a refusal of the client's credential. */
function chargeableSubject(error: AuthError): string | undefined {
  const { subject } = error;
  if (SERVER_SIDE.has(error.code) || typeof subject !== 'string') return undefined;
  return subject.length > 0 && subject.length <= MAX_KEY_LENGTH ? subject : undefined;
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
 * The `sub` of every JWT the handshake carries where the JWT strategies read
 * one (auth `token`, `Authorization: Bearer`, `?token=`), decoded and NOT
 * verified; distinct, bounded in size. For reading counts only, never for
 * charging them.
 */
export function namedSubjects(ctx: HandshakeContext): string[] {
  const authorization = ctx.headers.authorization;
  const candidates = [
    ctx.auth.token,
    typeof authorization === 'string' && /^bearer /i.test(authorization) ? authorization.slice(7) : undefined,
    ctx.query.token,
  ];
  const subjects: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string' || candidate.length > MAX_TOKEN_LENGTH) continue;
    const token = /^bearer /i.test(candidate) ? candidate.slice(7) : candidate;
    const payload = token.split('.', 3)[1];
    if (payload === undefined) continue;
    try {
      const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown } | null)?.sub;
      if (typeof sub === 'string' && sub.length > 0 && sub.length <= MAX_KEY_LENGTH && !subjects.includes(sub)) subjects.push(sub);
    } catch {
      // not a JWT: no subject
    }
  }
  return subjects;
}

function checkRule(name: string, rule: LimitRule | false): Readonly<LimitRule> | false {
  if (rule === false) return false;
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (typeof rule !== 'object' || rule === null || !ok(rule.points) || !ok(rule.duration) || (rule.blockDuration !== undefined && !ok(rule.blockDuration))) {
    throw new TypeError(`sockpass: rate limit \`${name}\` needs { points, duration } as positive integers (duration in seconds)`);
  }
  const { points, duration, blockDuration } = rule;
  return Object.freeze(blockDuration === undefined ? { points, duration } : { points, duration, blockDuration });
}
