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

const debug = createDebug('sockpass:ledger');

export type RevocationKind = 'user' | 'session' | 'token';

export interface Revocation {
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
  user?: string;
  session?: string;
  tokenId?: string;
  issuedAt?: number;
}

export interface RevocationLedger {
  /** Records a revocation. For a shared store, resolves only once it is stored and published; rejects (the app must know) when it cannot record. Merges with an existing entry of the same kind+id (latest `at`, latest `until`). */
  record(revocation: Revocation): Promise<void>;
  /** Hot path, synchronous, reads only this node's view (never waits on Redis). Returns the matching entry or undefined. */
  isRevoked(credential: CredentialFacts): Revocation | undefined;
  /** Resolves once this node's view is loaded (a shared store: initial load, and again after a reconnect resync). */
  ready(): Promise<void>;
  /** Stops subscriptions and timers; does not close the app's Redis client. */
  close(): Promise<void>;
  /** Number of live entries in this node's view (for tests and the bench). */
  readonly size: number;
  /**
   * Whether this node's view is known to be complete: always true in memory; for a shared
   * store, false from a lost connection until the resync after it has finished.
   */
  readonly trusted: boolean;
}

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

/** A heap node: which entry, and the `until` it had when pushed (a later merge leaves it stale). */
interface ExpiryNode {
  kind: RevocationKind;
  id: string;
  until: number;
}

/**
 * The in-memory store. Three Maps (one per kind) give O(1) lookups with no
 * key building on the hot path; a min-heap on `until` finds what to prune or
 * evict in O(log n). A merge that moves `until` pushes a new heap node and
 * leaves the old one stale (skipped when popped); the heap is rebuilt when
 * stale nodes outnumber live entries, so it stays O(entries) too.
 */
export class MemoryLedger implements RevocationLedger {
  readonly #entries: Record<RevocationKind, Map<string, Revocation>> = {
    user: new Map(),
    session: new Map(),
    token: new Map(),
  };
  #heap: ExpiryNode[] = [];
  #count = 0;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryLedgerOptions = {}) {
    const { maxEntries = Number.POSITIVE_INFINITY, pruneInterval = 60_000, now = Date.now } = options;
    if (!(maxEntries >= 1)) throw new TypeError('maxEntries must be at least 1');
    if (!(pruneInterval > 0)) throw new TypeError('pruneInterval must be a positive number of ms');
    this.#maxEntries = maxEntries;
    this.#now = now;
    // Unref'd: the sweep must never keep a process alive; writes and lookups prune too.
    this.#timer = setInterval(() => this.prune(), pruneInterval);
    this.#timer.unref();
  }

  get size(): number {
    this.prune();
    return this.#count;
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
   * mirror through here). Returns the entry as now held, or undefined when it
   * had already expired. The caller has validated it; with `owned`, the caller hands the object
   * over (no copy: the Redis mirror loads 100,000 of them at startup).
   */
  apply(revocation: Revocation, owned = false): Revocation | undefined {
    const now = this.#now();
    this.prune(now);
    if (revocation.until <= now) return undefined;
    const map = this.#entries[revocation.kind];
    const held = map.get(revocation.id);
    if (held !== undefined) {
      // Merge: the latest `at` revokes the most, the latest `until` keeps it longest.
      if (revocation.at > held.at) held.at = revocation.at;
      if (revocation.until > held.until) {
        held.until = revocation.until;
        this.#push({ kind: held.kind, id: held.id, until: held.until });
      }
      return held;
    }
    if (this.#count >= this.#maxEntries) this.#evictSoonest();
    const entry: Revocation = owned ? revocation : { kind: revocation.kind, id: revocation.id, at: revocation.at, until: revocation.until };
    map.set(entry.id, entry);
    this.#count++;
    this.#push({ kind: entry.kind, id: entry.id, until: entry.until });
    return entry;
  }

  isRevoked(credential: CredentialFacts): Revocation | undefined {
    const now = this.#now();
    const { tokenId, session, user, issuedAt } = credential;
    if (tokenId !== undefined) {
      const hit = this.#live(this.#entries.token, tokenId, now);
      if (hit !== undefined) return hit;
    }
    if (session !== undefined) {
      const hit = this.#live(this.#entries.session, session, now);
      if (hit !== undefined) return hit;
    }
    if (user !== undefined) {
      const hit = this.#live(this.#entries.user, user, now);
      // Unknown age: the credential may predate the revocation, so it is refused.
      if (hit !== undefined && (issuedAt === undefined || !(issuedAt > hit.at))) return hit;
    }
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
    return KINDS.flatMap((kind) => [...this.#entries[kind].values()].map((e) => ({ ...e })));
  }

  /** Drops every expired entry: O(k log n) for k expired. */
  prune(now: number = this.#now()): void {
    for (let head = this.#heap[0]; head !== undefined && head.until <= now; head = this.#heap[0]) {
      this.#pop();
      const map = this.#entries[head.kind];
      const held = map.get(head.id);
      // A stale node (the entry was merged to a later `until`) leaves the entry alone.
      if (held !== undefined && held.until <= now) {
        map.delete(head.id);
        this.#count--;
      }
    }
  }

  #live(map: Map<string, Revocation>, id: string, now: number): Revocation | undefined {
    const held = map.get(id);
    if (held === undefined) return undefined;
    if (held.until > now) return held;
    // Expired but not yet swept: forget it now; its heap node is skipped when popped.
    map.delete(id);
    this.#count--;
    return undefined;
  }

  #evictSoonest(): void {
    while (this.#heap.length > 0) {
      const head = this.#pop();
      const map = this.#entries[head.kind];
      const held = map.get(head.id);
      if (held !== undefined && held.until === head.until) {
        map.delete(head.id);
        this.#count--;
        debug('ledger full (%d entries): dropped the %s entry that expires soonest', this.#maxEntries, head.kind);
        return;
      }
    }
  }

  #push(node: ExpiryNode): void {
    if (this.#heap.length > 2 * this.#count + 64) this.#rebuild();
    const heap = this.#heap;
    let i = heap.push(node) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.until <= node.until) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = node;
  }

  #pop(): ExpiryNode {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && heap[right]!.until < heap[left]!.until ? right : left;
        if (heap[child]!.until >= last.until) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Drops stale heap nodes: one node per live entry, re-heaped. */
  #rebuild(): void {
    const nodes: ExpiryNode[] = [];
    for (const kind of KINDS) for (const e of this.#entries[kind].values()) nodes.push({ kind, id: e.id, until: e.until });
    nodes.sort((a, b) => a.until - b.until); // a sorted array is a valid min-heap
    this.#heap = nodes;
  }
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
