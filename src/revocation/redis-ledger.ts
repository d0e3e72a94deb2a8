/**
 * The revocation ledger for many nodes, on the app's own node-redis v5 client.
 *
 * Redis holds one key per entry (`<prefix><kind>:<id>` = `"<at>:<until>"`,
 * expiring at `until`, so Redis stays bounded with no sweeper). A Lua script
 * merges, stores and PUBLISHes in one atomic step, so `record()` resolves only
 * once the entry is both stored and on its way to every node.
 *
 * Every node answers `isRevoked` from a local mirror (the memory store) and
 * never waits on Redis. The mirror is loaded by SCAN in batches at startup (a
 * script returns each batch's keys with their values: one round trip each), and
 * kept current by pub/sub on a duplicate() connection. Pub/sub rather than
 * keyspace notifications: the message carries the entry (no GET round trip per
 * change), and it needs no `notify-keyspace-events` server setting, which
 * managed Redis services often forbid. Pub/sub loses what is published while a
 * node is cut off, so a node that reconnects reloads everything before it is
 * trusted again; merges are commutative (latest `at`, latest `until`), so
 * messages arriving during the reload are applied at once, in any order.
 *
 * sockpass does not import `redis`: the client is duck-typed.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import { MemoryLedger, assertRevocation, type CredentialFacts, type MemoryLedgerOptions, type Revocation, type RevocationKind, type RevocationLedger } from './ledger.js';
import { TIMED_OUT, withTimeout } from '../time.js';

const debug = createDebug('sockpass:redis-ledger');

/** The part of a node-redis v5 connection the subscriber uses. */
export interface LedgerRedisSubscriber {
  /** Opens the connection; retried with backoff while it fails. */
  connect(): Promise<unknown>;
  /** Subscribes to the ledger's channel (`<prefix>changes`); `listener` gets each published entry. */
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  /** Connection events: from `error`, `end` or `reconnecting` the node's view is not trusted until a reload after `ready` finishes. */
  on(event: 'error' | 'ready' | 'end' | 'reconnecting', listener: (...args: unknown[]) => void): unknown;
  /** False while the connection is down; a client without it is taken as connected. */
  readonly isReady?: boolean;
  /** Closes at once without waiting for pending commands (used by `close()`; preferred over `quit`). */
  destroy?(): void;
  /** Closes gracefully; used by `close()` only when there is no `destroy`. */
  quit?(): Promise<unknown>;
}

/** The part of the app's node-redis v5 client the ledger uses (`createClient()`, connected by the app). */
export interface LedgerRedisClient {
  /** Runs one raw command (`EVAL` of the record and load scripts), e.g. `['EVAL', script, '1', key, ...]`. */
  sendCommand(args: string[]): Promise<unknown>;
  /** A second connection for SUBSCRIBE (a subscribed connection can run nothing else). */
  duplicate(): LedgerRedisSubscriber;
  /** False while the client knows it is disconnected: `record()` then rejects with `store_unavailable` at once. */
  readonly isReady?: boolean;
}

/** Options of {@link redisLedger}; `maxEntries` caps the node's local mirror as in {@link MemoryLedgerOptions}. */
export interface RedisLedgerOptions extends Pick<MemoryLedgerOptions, 'maxEntries'> {
  /** The app's connected node-redis v5 client; the ledger never closes it. */
  client: LedgerRedisClient;
  /** Prefix of the ledger's keys and of its pub/sub channel. Default `sockpass:revoked:`. */
  prefix?: string;
  /**
   * Bound (ms) on one Redis round trip: `record()` rejects with `store_unavailable` after it, rather
   * than waiting in node-redis's offline queue for a Redis that may never come back. Default 2000.
   */
  timeout?: number;
  /** Keys per SCAN batch while loading (1 to 5,000); each batch is one round trip, applied in one synchronous step. Default 1000. */
  loadBatch?: number;
  /** Called with connection and load errors (the ledger keeps retrying); default: logged under `sockpass:redis-ledger`. */
  onError?: (error: unknown) => void;
}

// KEYS[1] entry key; ARGV: at, until, channel, kind, id. Merge with what is held, store with its own
// expiry, publish the merged entry; returns "<at>:<until>". '%.0f' keeps ms epochs out of Lua's
// exponent notation.
const RECORD_SCRIPT = `
local at = tonumber(ARGV[1])
local untl = tonumber(ARGV[2])
local held = redis.call('GET', KEYS[1])
if held then
  local sep = string.find(held, ':', 1, true)
  if sep then
    local hat = tonumber(string.sub(held, 1, sep - 1))
    local huntl = tonumber(string.sub(held, sep + 1))
    if hat and hat > at then at = hat end
    if huntl and huntl > untl then untl = huntl end
  end
end
local value = string.format('%.0f:%.0f', at, untl)
redis.call('SET', KEYS[1], value)
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', untl))
redis.call('PUBLISH', ARGV[3], value .. ':' .. ARGV[4] .. ':' .. ARGV[5])
return value
`;

// One load batch in one round trip: SCAN, then the values of the keys it found, as
// [cursor, key1, value1, key2, value2, …] (a key that expired in between is left out).
const LOAD_SCRIPT = `
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local keys = page[2]
local out = { page[1] }
if #keys > 0 then
  local values = redis.call('MGET', unpack(keys))
  for i = 1, #keys do
    if values[i] then
      out[#out + 1] = keys[i]
      out[#out + 1] = values[i]
    end
  end
end
return out
`;

const KINDS = new Set<string>(['user', 'session', 'token']);
const RETRY_MIN = 100;
const RETRY_MAX = 5_000;

/**
 * `"<kind>:<id>"` and `"<at>:<until>"` → a revocation, or undefined when malformed (the id may hold
 * colons). Redis content is trusted no more than the network: a bad entry is skipped, never thrown.
 */
function toRevocation(target: string, times: string): Revocation | undefined {
  const sep = target.indexOf(':');
  const kind = target.slice(0, sep);
  const id = target.slice(sep + 1);
  const mid = times.indexOf(':');
  const at = Number(times.slice(0, mid));
  const until = Number(times.slice(mid + 1));
  if (sep <= 0 || !KINDS.has(kind) || id.length === 0) return undefined;
  if (mid <= 0 || !Number.isFinite(at) || !Number.isFinite(until) || until < at) return undefined;
  return { kind: kind as RevocationKind, id, at, until };
}

/** A message is `"<at>:<until>:<kind>:<id>"`: the stored value, then the target. */
function parseMessage(message: string): Revocation | undefined {
  const second = message.indexOf(':', message.indexOf(':') + 1);
  return second <= 0 ? undefined : toRevocation(message.slice(second + 1), message.slice(0, second));
}

/** A reply as text: an app client may map strings to Buffers (`typeMapping`). */
function asText(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : undefined;
}

/** A lone surrogate would come back from Redis (UTF-8) as U+FFFD: another id on every other node. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** SCAN's MATCH is a glob: the prefix must match itself only. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

class RedisLedger implements RevocationLedger {
  readonly #mirror: MemoryLedger;
  readonly #client: LedgerRedisClient;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #timeout: number;
  readonly #loadBatch: number;
  readonly #onError: (error: unknown) => void;
  #subscriber: LedgerRedisSubscriber | undefined;
  #trusted = false;
  /** Bumped whenever the subscription may have missed a message: a load started before is not enough. */
  #epoch = 0;
  #syncing = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_MIN;
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(options: RedisLedgerOptions) {
    const { client, prefix = 'sockpass:revoked:', timeout = 2_000, loadBatch = 1_000, onError, maxEntries } = options;
    if (typeof client?.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
      throw new TypeError('redisLedger needs a node-redis v5 client (createClient()) as `client`');
    }
    if (!(timeout > 0)) throw new TypeError('timeout must be a positive number of ms');
    // Lua's unpack() of one batch's keys runs out of stack near 8,000.
    if (!(loadBatch >= 1 && loadBatch <= 5_000)) throw new TypeError('loadBatch must be between 1 and 5000');
    this.#mirror = new MemoryLedger({ maxEntries });
    this.#client = client;
    this.#prefix = prefix;
    this.#channel = `${prefix}changes`;
    this.#timeout = timeout;
    this.#loadBatch = Math.floor(loadBatch);
    this.#onError = onError ?? ((err) => debug('redis ledger error: %s', (err as Error)?.message ?? err));
    void this.#start();
  }

  get size(): number {
    return this.#mirror.size;
  }

  get trusted(): boolean {
    return this.#trusted;
  }

  isRevoked(credential: CredentialFacts): Revocation | undefined {
    return this.#mirror.isRevoked(credential);
  }

  async record(revocation: Revocation): Promise<void> {
    assertRevocation(revocation);
    if (LONE_SURROGATE.test(revocation.id)) throw new TypeError('revocation id must be well-formed Unicode (Redis stores it as UTF-8)');
    if (this.#closed) throw new AuthError('store_unavailable', 'the revocation ledger is closed');
    if (revocation.until <= Date.now()) return;
    // Fail at once when the client knows it is down; the timeout covers the rest (a half-open socket).
    if (this.#client.isReady === false) throw new AuthError('store_unavailable', 'the revocation ledger cannot reach Redis');
    const { kind, id, at, until } = revocation;
    const args = ['EVAL', RECORD_SCRIPT, '1', `${this.#prefix}${kind}:${id}`, String(at), String(until), this.#channel, kind, id];
    let reply: unknown;
    try {
      reply = await withTimeout(this.#client.sendCommand(args), this.#timeout);
    } catch (cause) {
      throw new AuthError('store_unavailable', 'the revocation ledger could not record in Redis', { cause });
    }
    if (reply === TIMED_OUT) throw new AuthError('store_unavailable', `the revocation ledger got no answer from Redis within ${this.#timeout} ms`);
    const stored = asText(reply);
    const merged = stored === undefined ? undefined : toRevocation(`${kind}:${id}`, stored);
    // This node sees its own revocation at once, without waiting for its own message.
    this.#mirror.apply(merged ?? revocation);
  }

  ready(): Promise<void> {
    if (this.#trusted) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the revocation ledger is closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#trusted = false;
    clearTimeout(this.#retry);
    for (const w of this.#waiters.splice(0)) w.reject(new Error('the revocation ledger is closed'));
    await this.#mirror.close();
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    // destroy(): a close() that waits for pending commands could hang on a Redis that is down.
    if (sub?.destroy !== undefined) sub.destroy();
    else await sub?.quit?.().catch(() => undefined);
  }

  /** Opens the subscription, then loads; retried with backoff until it works or the ledger closes. */
  async #start(): Promise<void> {
    try {
      const sub = this.#client.duplicate();
      this.#subscriber = sub;
      sub.on('error', (err: unknown) => {
        this.#untrust();
        this.#onError(err);
        // An error that did not drop the connection brings no 'ready': reload now.
        if (sub.isReady === true) void this.#resync();
      });
      sub.on('reconnecting', () => this.#untrust());
      sub.on('end', () => this.#untrust());
      await sub.connect();
      // node-redis resubscribes before it emits 'ready' again, so a reload from then on misses nothing.
      await sub.subscribe(this.#channel, this.#onMessage);
      if (this.#closed) return void sub.destroy?.();
      sub.on('ready', () => {
        this.#untrust();
        void this.#resync();
      });
      void this.#resync();
    } catch (err) {
      if (this.#closed) return; // close() destroyed the connection under connect()
      this.#onError(err);
      const sub = this.#subscriber;
      this.#subscriber = undefined;
      sub?.destroy?.();
      this.#later(() => void this.#start());
    }
  }

  readonly #onMessage = (message: string | Buffer): void => {
    const revocation = parseMessage(String(message));
    if (revocation === undefined) return void debug('ignored a malformed ledger message');
    this.#mirror.apply(revocation);
  };

  #untrust(): void {
    this.#epoch++;
    if (this.#trusted) debug('mirror no longer trusted: the subscription was interrupted');
    this.#trusted = false;
  }

  /** Reloads every entry; trusted only if the subscription stayed up for the whole load. */
  async #resync(): Promise<void> {
    if (this.#syncing || this.#closed) return;
    this.#syncing = true;
    try {
      for (;;) {
        if (this.#closed || !this.#subscribed()) return; // the next 'ready' starts over
        const epoch = this.#epoch;
        const started = Date.now();
        await this.#load();
        if (this.#closed) return;
        if (epoch === this.#epoch && this.#subscribed()) {
          this.#trusted = true;
          this.#retryDelay = RETRY_MIN;
          debug('mirror loaded and trusted: %d entries in %d ms', this.#mirror.size, Date.now() - started);
          for (const w of this.#waiters.splice(0)) w.resolve();
          return;
        }
      }
    } catch (err) {
      this.#onError(err);
      // A 'ready' meanwhile may already have resynced.
      this.#later(() => void (this.#trusted ? undefined : this.#resync()));
    } finally {
      this.#syncing = false;
    }
  }

  /** Whether the subscription is up (a client without `isReady` is taken at its word). */
  #subscribed(): boolean {
    return this.#subscriber !== undefined && this.#subscriber.isReady !== false;
  }

  /** SCAN in batches (with the values, server-side), apply each batch: the event loop gets a turn between batches. */
  async #load(): Promise<void> {
    const match = `${globEscape(this.#prefix)}*`;
    let cursor = '0';
    do {
      const page = await this.#bounded(['EVAL', LOAD_SCRIPT, '0', cursor, match, String(this.#loadBatch)]);
      if (!Array.isArray(page) || page.length % 2 !== 1) throw new Error('unexpected reply to the ledger load script');
      cursor = asText(page[0]) ?? String(page[0]);
      for (let i = 1; i < page.length; i += 2) {
        const key = asText(page[i]);
        const value = asText(page[i + 1]);
        const revocation = key === undefined || value === undefined ? undefined : toRevocation(key.slice(this.#prefix.length), value);
        if (revocation !== undefined) this.#mirror.apply(revocation);
      }
    } while (cursor !== '0' && !this.#closed);
  }

  async #bounded(args: string[]): Promise<unknown> {
    const reply = await withTimeout(this.#client.sendCommand(args), this.#timeout);
    if (reply === TIMED_OUT) throw new Error(`no answer from Redis within ${this.#timeout} ms`);
    return reply;
  }

  #later(work: () => void): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(work, this.#retryDelay);
    this.#retry.unref();
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX);
  }
}

/**
 * The revocation ledger shared by every node on one Redis. Create it once per
 * process, with the client the app already has (the one connect-redis and the
 * adapter use); await `ready()` before serving so the mirror is loaded.
 *
 * @example
 * ```ts
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const ledger = redisLedger({ client });
 * await ledger.ready();
 * const auth = new SockPass({ ledger });
 * ```
 */
export function redisLedger(options: RedisLedgerOptions): RevocationLedger {
  return new RedisLedger(options);
}
