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
 * A link can also stall without closing (a hung Redis, a hop that stops
 * forwarding): no connection event ever comes. A heartbeat notices: every
 * `heartbeat` ms the node PUBLISHes to its own echo channel on the command
 * connection (the reply is the ping) and waits for the message to come back
 * through the subscriber (a stalled subscriber is what loses revocations).
 * Both within `timeout`, or the mirror is untrusted, the subscriber is
 * replaced by a fresh connection, and the next beat that comes back resyncs.
 *
 * On a Redis Cluster (node-redis `createCluster`) the ledger is spread over
 * BUCKETS hash tags: an entry's key, the channel its change is published on
 * and the node's echo channel of that bucket share one slot, so the record
 * script (merge, store, SPUBLISH) stays atomic on one master, and sharded
 * pub/sub carries each change on the shard that stores it. The load SCANs
 * every master.
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
  /** Subscribes to the ledger's channels (changes, and this node's echo); `listener` gets each message. */
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
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

/**
 * The part of a node-redis v5 cluster connection (`createCluster().duplicate()`) the ledger opens for
 * itself: its sharded subscriptions, and its commands while it is up (a fresh one learns the
 * topology anew, which is how the ledger follows a failover).
 */
export interface LedgerRedisClusterSubscriber extends Omit<LedgerRedisCluster, 'duplicate'> {
  /** Discovers the cluster and opens its connections. */
  connect(): Promise<unknown>;
  /** Sharded subscribe (SSUBSCRIBE, Redis 7); the channels of one call share one slot. */
  sSubscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  /** Connection events: any of these untrusts the mirror until a heartbeat comes back and a reload finishes. */
  on(event: 'error' | 'node-error' | 'node-reconnecting' | 'node-disconnect' | 'disconnect', listener: (...args: unknown[]) => void): unknown;
  /** False once closed; a connection without it is taken as open. */
  readonly isOpen?: boolean;
  /** Closes every connection at once (used by `close()` and to replace a stalled connection). */
  destroy?(): void;
}

/** A node of the cluster, as `masters` lists it. */
export interface LedgerClusterNode {
  /** `host:port`, for logs. */
  readonly address?: string;
}

/** One node's own connection, as `nodeClient()` gives it: the load runs its SCAN there. */
export interface LedgerClusterNodeClient {
  /** Runs one raw command on that node (`EVAL` of the load script). */
  sendCommand(args: string[]): Promise<unknown>;
}

/** The part of the app's node-redis v5 cluster client (`createCluster()`, connected by the app) the ledger uses. */
export interface LedgerRedisCluster {
  /** Runs one raw command on the master of `firstKey`'s slot. */
  sendCommand(firstKey: string, isReadonly: boolean, args: string[]): Promise<unknown>;
  /** The masters now; the load SCANs each. */
  readonly masters: readonly LedgerClusterNode[];
  /** The connection to one node, for its SCAN. */
  nodeClient(node: LedgerClusterNode): Promise<LedgerClusterNodeClient>;
  /** A second cluster connection for the sharded subscriptions. */
  duplicate(): LedgerRedisClusterSubscriber;
  /** False while the client is closed: `record()` then rejects with `store_unavailable` at once. */
  readonly isOpen?: boolean;
}

/** Options of {@link redisLedger}; `maxEntries` caps the node's local mirror as in {@link MemoryLedgerOptions}. */
export interface RedisLedgerOptions extends Pick<MemoryLedgerOptions, 'maxEntries'> {
  /** The app's connected node-redis v5 client or cluster client (`createCluster`); the ledger never closes it. */
  client: LedgerRedisClient | LedgerRedisCluster;
  /** Prefix of the ledger's keys and of its pub/sub channel. Default `sockpass:revoked:`. */
  prefix?: string;
  /**
   * Bound (ms) on one Redis round trip: `record()` rejects with `store_unavailable` after it, rather
   * than waiting in node-redis's offline queue for a Redis that may never come back. Default 2000.
   */
  timeout?: number;
  /**
   * How often (ms) the node checks that Redis answers and that its subscriber still receives. A beat
   * not back within `timeout` untrusts the mirror, so a stalled link is noticed within
   * `heartbeat + timeout` ms. Default 1000.
   */
  heartbeat?: number;
  /** Keys per SCAN batch while loading (1 to 5,000); each batch is one round trip, applied in one synchronous step. Default 1000. */
  loadBatch?: number;
  /** Called with connection and load errors (the ledger keeps retrying); default: logged under `sockpass:redis-ledger`. */
  onError?: (error: unknown) => void;
}

// KEYS[1] entry key; ARGV: at, until, channel, kind, id, PUBLISH or SPUBLISH (a cluster: the channel shares the key's slot). Merge with what is held, store with its own
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
redis.call(ARGV[6], ARGV[3], value .. ':' .. ARGV[4] .. ':' .. ARGV[5])
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

// A cluster master's batch: its keys span many slots (all local), so a GET each rather than one MGET,
// and the flag lets one script touch them.
const CLUSTER_LOAD_SCRIPT = `#!lua flags=no-writes,allow-cross-slot-keys
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local keys = page[2]
local out = { page[1] }
for i = 1, #keys do
  local value = redis.call('GET', keys[i])
  if value then
    out[#out + 1] = keys[i]
    out[#out + 1] = value
  end
end
return out
`;

/**
 * Hash tags a cluster ledger is spread over: enough to share the ledger among the masters of a
 * usual cluster, few enough that each node's subscriptions and echoes stay cheap. Every node must
 * agree on it (it places keys).
 */
const BUCKETS = 16;

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

/** 32-bit FNV-1a of a target: its bucket on a cluster. Every node computes the same. */
function bucketOf(target: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < target.length; i++) {
    h ^= target.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}

function isCluster(client: LedgerRedisClient | LedgerRedisCluster): client is LedgerRedisCluster {
  return 'masters' in client && typeof (client as LedgerRedisCluster).nodeClient === 'function';
}

/** Where the ledger's keys and channels are, on one Redis or spread over a cluster's slots. */
interface Layout {
  /** `PUBLISH` on one Redis, `SPUBLISH` (sharded, Redis 7) on a cluster. */
  readonly publish: 'PUBLISH' | 'SPUBLISH';
  keyOf(target: string): string;
  /** The channel a change of this target is published on (same slot as its key on a cluster). */
  channelOf(target: string): string;
  /** What one subscribe call takes, per slot: the changes channel and this node's echo channel. */
  readonly groups: ReadonlyArray<{ changes: string; echo: string }>;
  /** `"<kind>:<id>"` of a key the load found, or undefined when it is not the ledger's. */
  targetOf(key: string): string | undefined;
  /** SCAN's MATCH for the ledger's keys. */
  readonly match: string;
}

function singleLayout(prefix: string, nonce: string): Layout {
  const changes = `${prefix}changes`;
  return {
    publish: 'PUBLISH',
    keyOf: (target) => `${prefix}${target}`,
    channelOf: () => changes,
    groups: [{ changes, echo: `${prefix}echo:${nonce}` }],
    targetOf: (key) => (key.startsWith(prefix) ? key.slice(prefix.length) : undefined),
    match: `${globEscape(prefix)}*`,
  };
}

function clusterLayout(prefix: string, nonce: string): Layout {
  const tag = (bucket: number) => `{${prefix}${bucket}}`;
  const groups = Array.from({ length: BUCKETS }, (_, b) => ({ changes: `${tag(b)}changes`, echo: `${tag(b)}echo:${nonce}` }));
  return {
    publish: 'SPUBLISH',
    keyOf: (target) => `${tag(bucketOf(target))}${target}`,
    channelOf: (target) => groups[bucketOf(target)]!.changes,
    groups,
    targetOf(key) {
      const open = `{${prefix}`;
      const close = key.indexOf('}', open.length);
      if (!key.startsWith(open) || close < 0) return undefined;
      const bucket = key.slice(open.length, close);
      return /^\d+$/.test(bucket) && Number(bucket) < BUCKETS ? key.slice(close + 1) : undefined;
    },
    match: `{${globEscape(prefix)}*`,
  };
}

type Subscriber = LedgerRedisSubscriber | LedgerRedisClusterSubscriber;

class RedisLedger implements RevocationLedger {
  readonly #mirror: MemoryLedger;
  readonly #client: LedgerRedisClient | LedgerRedisCluster;
  readonly #cluster: boolean;
  readonly #layout: Layout;
  readonly #echoes: ReadonlySet<string>;
  readonly #timeout: number;
  readonly #heartbeat: number;
  readonly #loadBatch: number;
  readonly #onError: (error: unknown) => void;
  #subscriber: Subscriber | undefined;
  #trusted = false;
  /** Bumped whenever the subscription may have missed a message: a load started before is not enough. */
  #epoch = 0;
  #syncing = false;
  #closed = false;
  /** Retries of opening the subscriber and of a failed reload: separate, so that one never cancels the other. */
  #retry: Record<'start' | 'resync', NodeJS.Timeout | undefined> = { start: undefined, resync: undefined };
  #retryDelay = RETRY_MIN;
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #beatTimer: NodeJS.Timeout | undefined;
  #beatSeq = 0;
  /** The beat in flight: its token, and the echo channels it has not come back on yet. */
  #beat: { token: string; missing: Set<string>; back: () => void } | undefined;

  constructor(options: RedisLedgerOptions) {
    const { client, prefix = 'sockpass:revoked:', timeout = 2_000, heartbeat = 1_000, loadBatch = 1_000, onError, maxEntries } = options;
    const cluster = client !== null && typeof client === 'object' && isCluster(client);
    if (typeof client?.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
      throw new TypeError('redisLedger needs a node-redis v5 client (createClient() or createCluster()) as `client`');
    }
    if (!(timeout > 0)) throw new TypeError('timeout must be a positive number of ms');
    if (!(heartbeat > 0)) throw new TypeError('heartbeat must be a positive number of ms');
    // Lua's unpack() of one batch's keys runs out of stack near 8,000.
    if (!(loadBatch >= 1 && loadBatch <= 5_000)) throw new TypeError('loadBatch must be between 1 and 5000');
    // A brace in the prefix would become the hash tag and put every entry in one slot.
    if (cluster && /[{}]/.test(prefix)) throw new TypeError('on a Redis Cluster the prefix must not contain { or }');
    const nonce = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    this.#mirror = new MemoryLedger({ maxEntries });
    this.#client = client;
    this.#cluster = cluster;
    this.#layout = cluster ? clusterLayout(prefix, nonce) : singleLayout(prefix, nonce);
    this.#echoes = new Set(this.#layout.groups.map((g) => g.echo));
    this.#timeout = timeout;
    this.#heartbeat = heartbeat;
    this.#loadBatch = Math.floor(loadBatch);
    this.#onError = onError ?? ((err) => debug('redis ledger error: %s', (err as Error)?.message ?? err));
    void this.#start();
    this.#scheduleBeat(heartbeat);
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
    if (this.#clientDown()) throw new AuthError('store_unavailable', 'the revocation ledger cannot reach Redis');
    const { kind, id, at, until } = revocation;
    const target = `${kind}:${id}`;
    const key = this.#layout.keyOf(target);
    const args = ['EVAL', RECORD_SCRIPT, '1', key, String(at), String(until), this.#layout.channelOf(target), kind, id, this.#layout.publish];
    let reply: unknown;
    try {
      reply = await withTimeout(this.#command(key, args), this.#timeout);
    } catch (cause) {
      throw new AuthError('store_unavailable', 'the revocation ledger could not record in Redis', { cause });
    }
    if (reply === TIMED_OUT) throw new AuthError('store_unavailable', `the revocation ledger got no answer from Redis within ${this.#timeout} ms`);
    const stored = asText(reply);
    const merged = stored === undefined ? undefined : toRevocation(target, stored);
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
    clearTimeout(this.#retry.start);
    clearTimeout(this.#retry.resync);
    clearTimeout(this.#beatTimer);
    this.#beat?.back();
    for (const w of this.#waiters.splice(0)) w.reject(new Error('the revocation ledger is closed'));
    await this.#mirror.close();
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    await this.#drop(sub);
  }

  #clientDown(): boolean {
    const c = this.#client as { isReady?: boolean; isOpen?: boolean };
    return this.#cluster ? c.isOpen === false : c.isReady === false;
  }

  /**
   * The cluster connection commands go through: the ledger's own while it is up, else the app's.
   * node-redis 5 does not relearn a cluster's topology when a master dies (commands to its slots wait
   * for it), so a connection the ledger can replace is the one that follows a failover.
   */
  #clusterCommands(): Omit<LedgerRedisCluster, 'duplicate'> {
    return this.#subscribed() ? (this.#subscriber as LedgerRedisClusterSubscriber) : (this.#client as LedgerRedisCluster);
  }

  /** One command: on a cluster, routed to the master of `key`'s slot. */
  #command(key: string, args: string[]): Promise<unknown> {
    return this.#cluster ? this.#clusterCommands().sendCommand(key, false, args) : (this.#client as LedgerRedisClient).sendCommand(args);
  }

  /** destroy(): a close that waits for pending commands could hang on a Redis that is down. */
  async #drop(sub: Subscriber | undefined): Promise<void> {
    if (sub?.destroy !== undefined) sub.destroy();
    else await (sub as LedgerRedisSubscriber | undefined)?.quit?.().catch(() => undefined);
  }

  /** Opens the subscription, then loads; retried with backoff until it works or the ledger closes. */
  async #start(): Promise<void> {
    const sub = this.#client.duplicate();
    this.#subscriber = sub;
    const mine = () => this.#subscriber === sub;
    const on = (event: string, listener: (...args: unknown[]) => void) => (sub as { on(e: string, l: (...a: unknown[]) => void): unknown }).on(event, listener);
    try {
      on('error', (err: unknown) => {
        if (!mine()) return;
        this.#untrust('a subscriber error');
        this.#onError(err);
        // An error that did not drop the connection brings no 'ready': reload now.
        if (this.#subscribed()) void this.#resync();
      });
      if (this.#cluster) {
        const lost = () => mine() && this.#untrust('a cluster node connection was interrupted');
        on('node-error', lost);
        on('node-reconnecting', lost);
        on('node-disconnect', lost);
        on('disconnect', lost);
      } else {
        on('reconnecting', () => mine() && this.#untrust('the subscriber reconnects'));
        on('end', () => mine() && this.#untrust('the subscriber connection ended'));
      }
      await this.#bounded(sub.connect(), 'connecting the subscriber');
      // node-redis resubscribes before it emits 'ready' again, so a reload from then on misses nothing.
      for (const { changes, echo } of this.#layout.groups) {
        const channels = [changes, echo];
        const subscribed = this.#cluster ? (sub as LedgerRedisClusterSubscriber).sSubscribe(channels, this.#onMessage) : (sub as LedgerRedisSubscriber).subscribe(channels, this.#onMessage);
        await this.#bounded(subscribed, 'subscribing');
      }
      if (this.#closed || !mine()) return void (await this.#drop(sub));
      if (!this.#cluster) {
        (sub as LedgerRedisSubscriber).on('ready', () => {
          if (!mine()) return;
          this.#untrust('the subscriber reconnected');
          void this.#resync();
        });
      }
      void this.#resync();
    } catch (err) {
      // close() or a replacement destroyed the connection under connect(), or took its place.
      if (this.#closed || !mine()) return void (await this.#drop(sub));
      this.#onError(err);
      this.#subscriber = undefined;
      this.#later('start', () => void this.#start());
      await this.#drop(sub);
    }
  }

  readonly #onMessage = (message: string | Buffer, channel: string | Buffer): void => {
    const text = String(message);
    const on = String(channel);
    if (this.#echoes.has(on)) {
      const beat = this.#beat;
      if (beat === undefined || beat.token !== text) return; // a beat that already missed
      beat.missing.delete(on);
      if (beat.missing.size === 0) beat.back();
      return;
    }
    const revocation = parseMessage(text);
    if (revocation === undefined) return void debug('ignored a malformed ledger message');
    this.#mirror.apply(revocation);
  };

  #untrust(why: string): void {
    this.#epoch++;
    if (this.#trusted) debug('mirror no longer trusted: %s', why);
    this.#trusted = false;
  }

  #scheduleBeat(delay: number): void {
    if (this.#closed) return;
    this.#beatTimer = setTimeout(() => void this.#beatOnce(), delay);
    this.#beatTimer.unref();
  }

  /**
   * One heartbeat: PUBLISH this node's token on its echo channel(s) through the command connection,
   * and wait for it to come back through the subscriber, both within `timeout`. A beat that does not
   * come back untrusts the mirror; one whose PUBLISH was answered but whose echo never arrived means
   * the subscriber's link stalled (nothing will ever close it), so the subscriber is replaced (on a
   * cluster, after any miss: the ledger's own connection carried both). A beat that comes back to an
   * untrusted mirror starts the resync.
   */
  async #beatOnce(): Promise<void> {
    const started = Date.now();
    // No subscriber and none on its way (nothing should leave it so, but nothing else would notice): open one.
    if (this.#subscriber === undefined && this.#retry.start === undefined) void this.#start();
    // Not subscribed: the subscriber is (re)connecting, and that path resyncs when it is up.
    else if (this.#subscribed()) {
      const token = String(++this.#beatSeq);
      const echoes = [...this.#echoes];
      let back!: () => void;
      const returned = new Promise<void>((resolve) => (back = resolve));
      this.#beat = { token, missing: new Set(echoes), back };
      let answered = false;
      const published = Promise.all(echoes.map((ch) => this.#command(ch, [this.#layout.publish, ch, token]))).then(() => {
        answered = true;
      });
      let ok = false;
      try {
        ok = (await withTimeout(Promise.all([published, returned]), this.#timeout)) !== TIMED_OUT;
      } catch (err) {
        this.#onError(err);
      }
      published.catch(() => undefined);
      this.#beat = undefined;
      if (this.#closed) return;
      if (!ok) {
        this.#untrust(answered ? 'the heartbeat did not come back through the subscriber' : 'Redis did not answer the heartbeat');
        // On a cluster the beat ran on the ledger's own connection: a fresh one also relearns the topology.
        if (answered || this.#cluster) this.#replaceSubscriber();
      } else if (!this.#trusted && !this.#syncing) {
        void this.#resync();
      }
    }
    this.#scheduleBeat(Math.max(0, this.#heartbeat - (Date.now() - started)));
  }

  /** A subscriber whose link stalled: a fresh connection, which loads again once it is subscribed. */
  #replaceSubscriber(): void {
    const old = this.#subscriber;
    if (old === undefined) return;
    debug('replacing a stalled subscriber connection');
    this.#subscriber = undefined;
    void this.#drop(old);
    clearTimeout(this.#retry.start);
    void this.#start();
  }

  /** Reloads every entry; trusted only if the subscription stayed up for the whole load. */
  async #resync(): Promise<void> {
    if (this.#syncing || this.#closed) return;
    this.#syncing = true;
    try {
      for (;;) {
        if (this.#closed || !this.#subscribed()) return; // the next 'ready' or heartbeat starts over
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
      // A 'ready' or a heartbeat meanwhile may already have resynced.
      this.#later('resync', () => void (this.#trusted ? undefined : this.#resync()));
    } finally {
      this.#syncing = false;
    }
  }

  /** Whether the subscription is up (a client without `isReady` / `isOpen` is taken at its word). */
  #subscribed(): boolean {
    const sub = this.#subscriber as { isReady?: boolean; isOpen?: boolean } | undefined;
    if (sub === undefined) return false;
    return this.#cluster ? sub.isOpen !== false : sub.isReady !== false;
  }

  /** Every node holding ledger keys: the one Redis, or each master of the cluster. */
  async #sources(): Promise<Array<(args: string[]) => Promise<unknown>>> {
    if (!this.#cluster) {
      const client = this.#client as LedgerRedisClient;
      return [(args) => client.sendCommand(args)];
    }
    const cluster = this.#clusterCommands();
    // A connection between topologies (rediscovering) lists no master: loading from none is not a load.
    if (cluster.masters.length === 0) throw new Error('the cluster connection knows no master yet');
    const nodes = await Promise.all(cluster.masters.map((m) => this.#bounded(cluster.nodeClient(m), 'reaching a master')));
    return nodes.map((node) => (args) => node.sendCommand(args));
  }

  /** SCAN in batches (with the values, server-side), apply each batch: the event loop gets a turn between batches. */
  async #load(): Promise<void> {
    const script = this.#cluster ? CLUSTER_LOAD_SCRIPT : LOAD_SCRIPT;
    for (const send of await this.#sources()) {
      let cursor = '0';
      do {
        const page = await this.#bounded(send(['EVAL', script, '0', cursor, this.#layout.match, String(this.#loadBatch)]), 'loading');
        if (!Array.isArray(page) || page.length % 2 !== 1) throw new Error('unexpected reply to the ledger load script');
        cursor = asText(page[0]) ?? String(page[0]);
        for (let i = 1; i < page.length; i += 2) {
          const key = asText(page[i]);
          const value = asText(page[i + 1]);
          const target = key === undefined ? undefined : this.#layout.targetOf(key);
          const revocation = target === undefined || value === undefined ? undefined : toRevocation(target, value);
          if (revocation !== undefined) this.#mirror.apply(revocation);
        }
      } while (cursor !== '0' && !this.#closed);
    }
  }

  async #bounded<T>(work: Promise<T>, what: string): Promise<T> {
    const reply = await withTimeout(work, this.#timeout);
    if (reply === TIMED_OUT) {
      work.catch(() => undefined);
      throw new Error(`${what}: no answer from Redis within ${this.#timeout} ms`);
    }
    return reply;
  }

  #later(which: 'start' | 'resync', work: () => void): void {
    if (this.#closed) return;
    clearTimeout(this.#retry[which]);
    const timer = setTimeout(() => {
      this.#retry[which] = undefined;
      work();
    }, this.#retryDelay);
    timer.unref();
    this.#retry[which] = timer;
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
