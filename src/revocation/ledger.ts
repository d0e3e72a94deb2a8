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
  /** Number of live entries in this node's view (for tests and the bench). */
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

/**
 * The ledgers of this package, whose `size` is exact: an empty one revokes
 * nothing, so the admission check can skip building the credential's facts.
 * A custom ledger is always asked.
 */
const EXACT_SIZE = new WeakSet<RevocationLedger>();

/** Marks a ledger of this package (`size` exact and cheap). */
export function sizeIsExact(ledger: RevocationLedger): void {
  EXACT_SIZE.add(ledger);
}

/** True when `ledger` is known to hold no revocation at all (the common case: nothing ever revoked). */
export function holdsNothing(ledger: RevocationLedger): boolean {
  return EXACT_SIZE.has(ledger) && ledger.size === 0;
}

/** Throws a TypeError for a revocation no store should hold (a programming error in the caller). */
export function assertRevocation(revocation: Revocation): void {
  const { kind, id, at, until } = revocation ?? ({} as Revocation);
  if (!KINDS.includes(kind)) throw new TypeError(`revocation kind must be one of ${KINDS.join(', ')}`);
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('revocation id must be a non-empty string');
  if (!Number.isFinite(at) || !Number.isFinite(until)) throw new TypeError('revocation at and until must be finite ms epochs');
  if (until < at) throw new TypeError('revocation until must not be before at');
}

/**
 * The in-memory store. Each entry lives in a numbered slot of parallel arrays
 * (its id in a plain array, kind / `at` / `until` in typed arrays), found
 * through one Map per kind (id → slot): O(1) lookups with no key building on
 * the hot path, and one heap object per entry (its id string) instead of four
 * (an object, two boxed doubles, the string). The mirror of a Redis ledger is
 * live heap that every major GC marks during handshakes, so this matters:
 * with 100,000 entries a full GC took ~25 ms longer with an object per entry,
 * and ~0.5 ms longer this way (8 MB of heap instead of 23 MB).
 *
 * A min-heap of (slot, `until` when pushed), also in typed arrays, finds what
 * to prune or evict in O(log n). A merge that moves `until` pushes the slot
 * again; a heap record whose slot was freed or moved on is skipped when
 * popped (one that matches a reused slot's `until` names an entry just as due,
 * so acting on it is still right), and the heap is rebuilt when such records
 * outnumber live entries.
 */
export class MemoryLedger implements RevocationLedger {
  readonly #slotOf: Record<RevocationKind, Map<string, number>> = {
    user: new Map(),
    session: new Map(),
    token: new Map(),
  };
  #id: Array<string | undefined> = [];
  #kind = new Uint8Array(16);
  #at = new Float64Array(16);
  #until = new Float64Array(16);
  readonly #free: number[] = [];
  #heapSlot = new Int32Array(16);
  #heapUntil = new Float64Array(16);
  #heapSize = 0;
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
    sizeIsExact(this);
  }

  get size(): number {
    // Nothing to sweep in an empty heap: the admission check reads this twice per handshake.
    if (this.#heapSize > 0) this.prune();
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
   * mirror through here); one that has already expired is ignored. The caller
   * has validated it. Nothing keeps a reference to the object.
   */
  apply(revocation: Revocation): void {
    const now = this.#now();
    this.prune(now);
    if (revocation.until <= now) return;
    const map = this.#slotOf[revocation.kind];
    const held = map.get(revocation.id);
    if (held !== undefined) {
      // Merge: the latest `at` revokes the most, the latest `until` keeps it longest.
      if (revocation.at > this.#at[held]!) this.#at[held] = revocation.at;
      if (revocation.until > this.#until[held]!) {
        this.#until[held] = revocation.until;
        this.#push(held);
      }
      return;
    }
    if (this.#count >= this.#maxEntries) this.#evictSoonest();
    const slot = this.#allocate();
    this.#id[slot] = revocation.id;
    this.#kind[slot] = KINDS.indexOf(revocation.kind);
    this.#at[slot] = revocation.at;
    this.#until[slot] = revocation.until;
    map.set(revocation.id, slot);
    this.#count++;
    this.#push(slot);
  }

  isRevoked(credential: CredentialFacts): Revocation | undefined {
    const now = this.#now();
    const { tokenId, session, user, issuedAt } = credential;
    if (tokenId !== undefined) {
      const slot = this.#live(this.#slotOf.token, tokenId, now);
      if (slot !== undefined) return this.#entry(slot);
    }
    if (session !== undefined) {
      const slot = this.#live(this.#slotOf.session, session, now);
      if (slot !== undefined) return this.#entry(slot);
    }
    if (user !== undefined) {
      const slot = this.#live(this.#slotOf.user, user, now);
      // Unknown age: the credential may predate the revocation, so it is refused.
      if (slot !== undefined && (issuedAt === undefined || !(issuedAt > this.#at[slot]!))) return this.#entry(slot);
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
    return KINDS.flatMap((kind) => [...this.#slotOf[kind].values()].map((slot) => this.#entry(slot)));
  }

  /** Drops every expired entry: O(k log n) for k expired. */
  prune(now: number = this.#now()): void {
    while (this.#heapSize > 0 && this.#heapUntil[0]! <= now) {
      const slot = this.#popSlot();
      // A freed slot, or one merged to a later `until`, is left alone.
      if (this.#id[slot] !== undefined && this.#until[slot]! <= now) this.#forget(slot);
    }
  }

  #entry(slot: number): Revocation {
    return { kind: KINDS[this.#kind[slot]!]!, id: this.#id[slot]!, at: this.#at[slot]!, until: this.#until[slot]! };
  }

  #live(map: Map<string, number>, id: string, now: number): number | undefined {
    const slot = map.get(id);
    if (slot === undefined) return undefined;
    if (this.#until[slot]! > now) return slot;
    // Expired but not yet swept: forget it now; its heap record is skipped when popped.
    this.#forget(slot);
    return undefined;
  }

  #forget(slot: number): void {
    this.#slotOf[KINDS[this.#kind[slot]!]!].delete(this.#id[slot]!);
    this.#id[slot] = undefined;
    this.#free.push(slot);
    this.#count--;
  }

  #allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    const slot = this.#id.length;
    this.#id.push(undefined);
    if (slot >= this.#at.length) {
      this.#kind = grown(this.#kind);
      this.#at = grown(this.#at);
      this.#until = grown(this.#until);
    }
    return slot;
  }

  #evictSoonest(): void {
    while (this.#heapSize > 0) {
      const until = this.#heapUntil[0]!;
      const slot = this.#popSlot();
      if (this.#id[slot] !== undefined && this.#until[slot] === until) {
        debug('ledger full (%d entries): dropped the %s entry that expires soonest', this.#maxEntries, KINDS[this.#kind[slot]!]);
        this.#forget(slot);
        return;
      }
    }
  }

  #push(slot: number): void {
    if (this.#heapSize > 2 * this.#count + 64) this.#rebuild();
    if (this.#heapSize >= this.#heapSlot.length) {
      this.#heapSlot = grown(this.#heapSlot);
      this.#heapUntil = grown(this.#heapUntil);
    }
    const slots = this.#heapSlot;
    const untils = this.#heapUntil;
    const until = this.#until[slot]!;
    let i = this.#heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (untils[parent]! <= until) break;
      slots[i] = slots[parent]!;
      untils[i] = untils[parent]!;
      i = parent;
    }
    slots[i] = slot;
    untils[i] = until;
  }

  /** Takes the heap's top record out and returns its slot. */
  #popSlot(): number {
    const slots = this.#heapSlot;
    const untils = this.#heapUntil;
    const top = slots[0]!;
    const n = --this.#heapSize;
    if (n > 0) {
      const lastSlot = slots[n]!;
      const lastUntil = untils[n]!;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && untils[right]! < untils[left]! ? right : left;
        if (untils[child]! >= lastUntil) break;
        slots[i] = slots[child]!;
        untils[i] = untils[child]!;
        i = child;
      }
      slots[i] = lastSlot;
      untils[i] = lastUntil;
    }
    return top;
  }

  /** One record per live entry, sorted by `until` (a sorted array is a valid min-heap). */
  #rebuild(): void {
    const live: number[] = [];
    for (const kind of KINDS) for (const slot of this.#slotOf[kind].values()) live.push(slot);
    live.sort((a, b) => this.#until[a]! - this.#until[b]!);
    for (let i = 0; i < live.length; i++) {
      this.#heapSlot[i] = live[i]!;
      this.#heapUntil[i] = this.#until[live[i]!]!;
    }
    this.#heapSize = live.length;
  }
}

/** A typed array twice as long, with the same contents. */
function grown<T extends Uint8Array | Int32Array | Float64Array>(array: T): T {
  const bigger = new (array.constructor as new (length: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
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
