/**
 * The revocation ledger: what `auth.revoke()` records and every admission
 * point consults (a user's credentials issued up to a moment, a session id, a
 * single token by `jti`). This file holds the interface and the in-memory
 * store, which is the default and also the local mirror of the Redis store.
 *
 * Entries expire on their own (`until`), so the ledger is bounded by the
 * revocations of one credential lifetime; `maxEntries` caps it outright.
 *
 * @module
 */
import createDebug from 'debug';
import { DeadlineQueue, type Deadlined } from '../life/deadline-queue.js';

const debug = createDebug('sockpass:ledger');

/**
 * What a revocation names: `user` (every credential of a user id issued at or
 * before the entry's `at`), `session` (a session id), `token` (a JWT's `jti`).
 */
export type RevocationKind = 'user' | 'session' | 'token';

/** One ledger entry: what `auth.revoke()` records, and what a lookup returns when a credential matches. */
export interface Revocation {
  /** Whether `id` is a user id, a session id or a token id. */
  kind: RevocationKind;
  /** user id, session id, or token id (JWT `jti`) */
  id: string;
  /** ms epoch when recorded. For `user`: credentials issued at or before `at` are revoked (iat has 1 s granularity: compare iat*1000 <= at). */
  at: number;
  /** ms epoch after which the entry may be forgotten (entries expire on their own, so the ledger stays bounded) */
  until: number;
}

/**
 * What the admission check knows about a credential. `issuedAt` undefined = unknown age: any live `user` entry applies.
 * `issuedAt` is a ms epoch: a JWT's `iat * 1000`, a session's creation time.
 */
export interface CredentialFacts {
  /** The user id (as `userId` returns it), matched against `user` entries. */
  user?: string;
  /** The session id the credential came from, matched against `session` entries. */
  session?: string;
  /** The JWT's `jti`, matched against `token` entries. */
  tokenId?: string;
  /** When the credential was issued, ms epoch; compared with a `user` entry's `at`. Undefined: unknown, so a live `user` entry applies. */
  issuedAt?: number;
}

/**
 * Where revocations are recorded and looked up: {@link memoryLedger} (the
 * default, one process) or {@link redisLedger} (every node). Pass it as
 * `new SockPass({ ledger })`. Lookups are synchronous and read this node's
 * view only; recording may wait on a shared store.
 */
export interface RevocationLedger {
  /** Records a revocation. For a shared store, resolves only once it is stored and published; rejects (the app must know) when it cannot record. Merges with an existing entry of the same kind+id (latest `at`, latest `until`). */
  record(revocation: Revocation): Promise<void>;
  /** Hot path, synchronous, reads only this node's view (never waits on Redis). Returns the matching entry or undefined. */
  isRevoked(credential: CredentialFacts): Revocation | undefined;
  /** Resolves once this node's view is loaded (a shared store: initial load, and again after a reconnect resync). */
  ready(): Promise<void>;
  /** Stops subscriptions and timers; does not close the app's Redis client. */
  close(): Promise<void>;
  /**
   * Number of live entries in this node's view. While it is 0 sockpass does
   * not ask `isRevoked` (nothing can be revoked), so a ledger must count every
   * entry `isRevoked` could answer with.
   */
  readonly size: number;
  /**
   * Whether this node's view is known to be complete: always true in memory; for a shared
   * store, false from a lost connection until the resync after it has finished.
   */
  readonly trusted: boolean;
}

/** Options of {@link memoryLedger} (and of the local mirror a Redis ledger keeps). */
export interface MemoryLedgerOptions {
  /**
   * Hard cap on live entries. When a new entry would exceed it, the entry that
   * expires soonest is dropped first (it is the one closest to harmless: its
   * credentials are closest to expiring anyway). Default: no cap; the ledger
   * is then bounded by the revocations recorded within one entry lifetime.
   */
  maxEntries?: number;
  /** How often (ms) expired entries are swept by an unref'd timer; they are also pruned on every write and lookup. Default 60 000. */
  pruneInterval?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

const KINDS: readonly RevocationKind[] = ['user', 'session', 'token'];

/** Throws a TypeError for a revocation no store should hold (a programming error in the caller). */
export function assertRevocation(revocation: Revocation): void {
  const { kind, id, at, until } = revocation ?? ({} as Revocation);
  if (!KINDS.includes(kind)) throw new TypeError(`revocation kind must be one of ${KINDS.join(', ')}`);
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('revocation id must be a non-empty string');
  if (!Number.isFinite(at) || !Number.isFinite(until)) throw new TypeError('revocation at and until must be finite ms epochs');
  if (until < at) throw new TypeError('revocation until must not be before at');
}

/** One live entry, queued by its `until` in the ledger's deadline queue. */
interface Entry extends Revocation, Deadlined {}

/**
 * The in-memory store: one Map per kind (id → entry), and the entries in a
 * deadline queue ordered by `until`, so pruning and eviction find the entry
 * that expires soonest in O(log n).
 */
export class MemoryLedger implements RevocationLedger {
  readonly #byKind: Record<RevocationKind, Map<string, Entry>> = {
    user: new Map(),
    session: new Map(),
    token: new Map(),
  };
  readonly #expiring: DeadlineQueue<Entry>;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryLedgerOptions = {}) {
    const { maxEntries = Number.POSITIVE_INFINITY, pruneInterval = 60_000, now = Date.now } = options;
    if (!(maxEntries >= 1)) throw new TypeError('maxEntries must be at least 1');
    if (!(pruneInterval > 0)) throw new TypeError('pruneInterval must be a positive number of ms');
    this.#maxEntries = maxEntries;
    this.#now = now;
    this.#expiring = new DeadlineQueue<Entry>(undefined, { now });
    // Unref'd: the sweep must never keep a process alive; writes and lookups prune too.
    this.#timer = setInterval(() => this.prune(), pruneInterval);
    this.#timer.unref();
  }

  get size(): number {
    if (this.#expiring.size === 0) return 0;
    this.prune();
    return this.#expiring.size;
  }

  get trusted(): boolean {
    return true;
  }

  record(revocation: Revocation): Promise<void> {
    try {
      assertRevocation(revocation);
    } catch (err) {
      return Promise.reject(err);
    }
    this.apply(revocation);
    return Promise.resolve();
  }

  /**
   * Merges `revocation` into the view, synchronously (the Redis store feeds its
   * mirror through here); one that has already expired is ignored. The caller
   * has validated it. Nothing keeps a reference to the object.
   */
  apply(revocation: Revocation): void {
    const now = this.#now();
    this.prune(now);
    if (revocation.until <= now) return;
    const map = this.#byKind[revocation.kind];
    const held = map.get(revocation.id);
    if (held !== undefined) {
      // Merge: the latest `at` revokes the most, the latest `until` keeps it longest.
      held.at = Math.max(held.at, revocation.at);
      if (revocation.until > held.until) {
        held.until = revocation.until;
        this.#expiring.schedule(held, held.until);
      }
      return;
    }
    if (this.#expiring.size >= this.#maxEntries) this.#evictSoonest();
    const entry: Entry = { kind: revocation.kind, id: revocation.id, at: revocation.at, until: revocation.until, heapIndex: -1 };
    map.set(entry.id, entry);
    this.#expiring.schedule(entry, entry.until);
  }

  isRevoked(credential: CredentialFacts): Revocation | undefined {
    // Nothing revoked (the usual state): no clock read, no pruning.
    if (this.#expiring.size === 0) return undefined;
    this.prune();
    const { tokenId, session, user, issuedAt } = credential;
    const token = tokenId === undefined ? undefined : this.#byKind.token.get(tokenId);
    if (token !== undefined) return copy(token);
    const sess = session === undefined ? undefined : this.#byKind.session.get(session);
    if (sess !== undefined) return copy(sess);
    const entry = user === undefined ? undefined : this.#byKind.user.get(user);
    // Unknown age: the credential may predate the revocation, so it is refused.
    if (entry !== undefined && (issuedAt === undefined || !(issuedAt > entry.at))) return copy(entry);
    return undefined;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  /** Every live entry (a snapshot), for tests and diagnostics. */
  entries(): Revocation[] {
    this.prune();
    return KINDS.flatMap((kind) => [...this.#byKind[kind].values()].map(copy));
  }

  /** Drops every expired entry: O(k log n) for k expired. */
  prune(now: number = this.#now()): void {
    for (let entry = this.#expiring.popDue(now); entry !== undefined; entry = this.#expiring.popDue(now)) this.#byKind[entry.kind].delete(entry.id);
  }

  #evictSoonest(): void {
    const entry = this.#expiring.pop();
    if (entry === undefined) return;
    debug('ledger full (%d entries): dropped the %s entry that expires soonest', this.#maxEntries, entry.kind);
    this.#byKind[entry.kind].delete(entry.id);
  }
}

function copy(entry: Entry): Revocation {
  return { kind: entry.kind, id: entry.id, at: entry.at, until: entry.until };
}

/**
 * The default ledger: one process, nothing to start.
 *
 * @example
 * ```ts
 * const ledger = memoryLedger({ maxEntries: 100_000 });
 * await ledger.record({ kind: 'user', id: '42', at: Date.now(), until: Date.now() + 3_600_000 });
 * ledger.isRevoked({ user: '42', issuedAt: tokenIat * 1000 }); // the entry: refuse with token_revoked
 * ```
 */
export function memoryLedger(options?: MemoryLedgerOptions): RevocationLedger {
  return new MemoryLedger(options);
}
