/**
 * The connection counter for many nodes, on the app's node-redis v5 client:
 * one instance (`createClient()`) or a Redis Cluster (`createCluster()`).
 *
 * Each user has one sorted set, `<prefix>{<user id>}` (the braces are a hash
 * tag: whatever else a user ever needs lives in the same cluster slot), whose
 * members are `"<node id> <socket ref>"` scored by admission time (Redis's
 * clock, so the nodes agree on "oldest"). A Lua script checks and adds in one
 * atomic step, so two nodes admitting the same user at once never both pass.
 *
 * A node that dies cannot release its sockets, so every node keeps a lease in
 * `<prefix>nodes` (node id → expiry, on Redis's clock), renewed every
 * `nodeTtl / 3` ms. Entries are judged only when they matter, when a user is
 * at the cap: the script then names the other nodes holding the user's
 * sockets, one call reads their leases, and a second run of the script drops
 * the entries of nodes whose lease ran out before deciding. So a dead node's
 * sockets stop counting at most `nodeTtl` ms after its last renewal, and a
 * handshake below the cap costs one round trip. The user's key and the node
 * leases sit in different slots, hence two scripts rather than one.
 *
 * A node that was cut off from Redis longer than its lease (its entries may
 * have been dropped while its sockets lived) finds its lease lapsed at the
 * next renewal and adds its sockets back. A user's key expires after
 * `keyTtl` ms without an admission; nodes renew the keys of the users they
 * hold, so a key outlives only the nodes that held it, by at most `keyTtl`.
 *
 * On a Redis Cluster, node-redis 5 does not relearn the topology when a
 * master dies: commands to its slots wait for it even after its replica was
 * promoted, so that slot's users would be refused with `store_unavailable`
 * for good. A command that fails or does not answer therefore makes the
 * counter open its own cluster connection (`client.duplicate()`), which
 * discovers the topology anew, and use it from then on; one that cannot
 * connect yet (the slot still has no master) is tried again at the next
 * failure. The app's client is the template and is never closed.
 *
 * sockpass does not import `redis`: the client is duck-typed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import { TIMED_OUT, withTimeout } from '../time.js';
import type { Admission, ConnectionCounter, CountingConnectionCounter, OnExceed } from './connection-counter.js';

const debug = createDebug('sockpass:redis-connections');

/** The part of a node-redis v5 client (`createClient()` or `createCluster()`, connected by the app) the counter uses. */
export interface ConnectionsRedisClient {
  /** `EVAL`; a cluster client sends it to the master of `keys[0]`'s slot. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** False while a single-instance client knows it is disconnected: admissions then fail at once. */
  readonly isReady?: boolean;
  /** A cluster client's masters (`createCluster()`): only its presence is read, to tell a cluster client. */
  readonly masters?: readonly unknown[];
  /**
   * node-redis's `duplicate()`: a new, unconnected client with the same options. On a cluster client
   * the counter opens its own connection with it when the app's stops answering (a failover).
   */
  duplicate?(): ConnectionsRedisConnection;
}

/** A connection the counter opened with {@link ConnectionsRedisClient.duplicate}, and owns. */
export interface ConnectionsRedisConnection extends ConnectionsRedisClient {
  /** Discovers the cluster's topology and connects to its masters. */
  connect(): Promise<unknown>;
  /** Closes at once, rejecting what is pending (a graceful close could wait on a master that is gone). */
  destroy(): void;
  /** Where the connection's errors go (the counter's `onError`), so none is left unhandled. */
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Options of {@link redisConnectionCounter}. */
export interface RedisConnectionCounterOptions {
  /** The app's connected node-redis v5 client or cluster client; the counter never closes it. */
  client: ConnectionsRedisClient;
  /** Prefix of every key (no braces: the user id is the hash tag). Default `sockpass:conns:`. */
  prefix?: string;
  /**
   * Lease of a node, in ms: a node that stops renewing it (killed, cut off)
   * stops counting its sockets at most this long after its last renewal.
   * Renewed every third of it. Default 15 000.
   */
  nodeTtl?: number;
  /** A user's key expires this many ms after the last node holding one of its sockets stopped renewing it. Default one hour. */
  keyTtl?: number;
  /** Called with Redis errors of the background work (lease renewal, release); default: logged under `sockpass:redis-connections`. */
  onError?: (error: unknown) => void;
}

// KEYS[1] the user's set. ARGV: member, node id, limit, replace ('1'|'0'), leases checked ('1'|'0'),
// key ttl, then the node ids whose lease ran out. Replies: {'ok'}, {'refuse'}, {'replace', victim…},
// or {'check', node…} (at the cap with entries of other nodes, leases not checked yet).
const ADMIT_SCRIPT = `
local key = KEYS[1]
local member = ARGV[1]
local me = ARGV[2]
local limit = tonumber(ARGV[3])
if #ARGV > 6 then
  local dead = {}
  for i = 7, #ARGV do dead[ARGV[i]] = true end
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if dead[string.match(m, '^[^ ]+')] then redis.call('ZREM', key, m) end
  end
end
if redis.call('ZSCORE', key, member) then
  redis.call('PEXPIRE', key, ARGV[6])
  return {'ok'}
end
local count = redis.call('ZCARD', key)
local reply = {'ok'}
if count >= limit then
  if ARGV[5] ~= '1' then
    local nodes, seen = {'check'}, {}
    for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      local node = string.match(m, '^[^ ]+')
      if node ~= me and not seen[node] then
        seen[node] = true
        nodes[#nodes + 1] = node
      end
    end
    if #nodes > 1 then return nodes end
  end
  if ARGV[4] ~= '1' then return {'refuse'} end
  local victims = redis.call('ZRANGE', key, 0, count - limit)
  redis.call('ZREM', key, unpack(victims))
  reply = {'replace'}
  for _, v in ipairs(victims) do reply[#reply + 1] = v end
end
local t = redis.call('TIME')
redis.call('ZADD', key, tonumber(t[1]) * 1000000 + tonumber(t[2]), member)
redis.call('PEXPIRE', key, ARGV[6])
return reply
`;

// KEYS[1] the leases. ARGV: node ids. Returns those whose lease ran out (or never was).
const DEAD_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = {}
for i = 1, #ARGV do
  local until_ = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not until_ or tonumber(until_) <= now then dead[#dead + 1] = ARGV[i] end
end
return dead
`;

// KEYS[1] the leases. ARGV: node id, lease ms. Renews; 1 when the lease had lapsed (or this is the first).
// Leases that ran out a day ago are forgotten: their entries count as dead either way.
const RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)
if held and tonumber(held) > now then return 0 end
return 1
`;

// KEYS[1] the user's set. ARGV: member, key ttl. Puts back a socket whose entry another node dropped.
const READD_SCRIPT = `
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'NX', tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

// A release (KEYS[1] the user's set) and a node's leave (KEYS[1] the leases).
const ZREM_SCRIPT = `return redis.call('ZREM', KEYS[1], ARGV[1])`;
const TOUCH_SCRIPT = `return redis.call('PEXPIRE', KEYS[1], ARGV[1])`;

/** Least ms between two replacements of a cluster connection: many failing admissions during a failover open one at a time, not one after another. */
const REPLACE_EVERY_MS = 1_000;

/** How many renewals after a lapse put the node's sockets back (a node judging it dead may still be pruning). */
const READD_BEATS = 2;

/** A reply as text: an app client may map strings to Buffers (`typeMapping`). */
function asText(reply: unknown): string {
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}

function asList(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new Error('unexpected reply from the connection counter script');
  return reply.map(asText);
}

class RedisConnectionCounter implements ConnectionCounter {
  readonly #client: ConnectionsRedisClient;
  readonly #prefix: string;
  readonly #leases: string;
  readonly #nodeTtl: number;
  readonly #keyTtl: number;
  readonly #onError: (error: unknown) => void;
  /** This process's id in every member and lease. */
  readonly #node = randomBytes(9).toString('base64url');
  /** ref → user of every socket this node counts. */
  readonly #held = new Map<string, string>();
  /** Releases Redis did not take: retried at each renewal, so a blip does not leave a user over-counted. */
  readonly #unreleased = new Map<string, string>();
  #registered: Promise<void>;
  #markRegistered!: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** A cluster client: a connection that stops answering is replaced (see the module comment). */
  readonly #cluster: boolean;
  /** This counter's own cluster connection, once the app's stopped answering; used from then on. */
  #own: ConnectionsRedisConnection | undefined;
  /** A replacement connection being opened (one at a time). */
  #replacing: Promise<void> | undefined;
  /** When the last replacement started (ms). */
  #replacedAt = 0;
  #readdBeats = 0;
  #touchedAt = Date.now();
  #closed = false;

  constructor(options: RedisConnectionCounterOptions) {
    const { client, prefix = 'sockpass:conns:', nodeTtl = 15_000, keyTtl = 60 * 60_000, onError } = options ?? ({} as RedisConnectionCounterOptions);
    if (typeof client?.eval !== 'function') throw new TypeError('redisConnectionCounter needs a node-redis v5 client (createClient() or createCluster()) as `client`');
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new TypeError('prefix must be a string without braces');
    if (!(Number.isFinite(nodeTtl) && nodeTtl >= 300)) throw new TypeError('nodeTtl must be at least 300 ms');
    if (!(Number.isFinite(keyTtl) && keyTtl >= nodeTtl)) throw new TypeError('keyTtl must be a number of ms no smaller than nodeTtl');
    this.#client = client;
    this.#cluster = Array.isArray(client.masters) && typeof client.duplicate === 'function';
    this.#prefix = prefix;
    this.#leases = `${prefix}nodes`;
    this.#nodeTtl = Math.floor(nodeTtl);
    this.#keyTtl = Math.floor(keyTtl);
    this.#onError = onError ?? ((err) => debug('connection counter error: %s', (err as Error)?.message ?? err));
    this.#registered = new Promise((resolve) => (this.#markRegistered = resolve));
    void this.#renew();
  }

  async admit(user: string, ref: string, limit: number, onExceed: OnExceed): Promise<Admission> {
    if (this.#closed) throw new AuthError('store_unavailable', 'the connection counter is closed');
    if (this.#commands().isReady === false) throw new AuthError('store_unavailable', 'the connection counter cannot reach Redis');
    // No entry before this node's lease exists: another node would take it for a dead node's.
    await this.#registered;
    const key = this.#keyOf(user);
    const member = `${this.#node} ${ref}`;
    const base = [member, this.#node, String(limit), onExceed === 'replace-oldest' ? '1' : '0'];
    let reply = asList(await this.#eval(ADMIT_SCRIPT, key, [...base, '0', String(this.#keyTtl)]));
    if (reply[0] === 'check') {
      const dead = asList(await this.#eval(DEAD_SCRIPT, this.#leases, reply.slice(1)));
      if (dead.length > 0) debug('dropping the entries of %d node(s) whose lease ran out', dead.length);
      reply = asList(await this.#eval(ADMIT_SCRIPT, key, [...base, '1', String(this.#keyTtl), ...dead]));
    }
    if (reply[0] === 'refuse') return 'refuse';
    this.#held.set(ref, user);
    if (reply[0] !== 'replace') return 'ok';
    const victims = reply.slice(1).map((m) => {
      const sep = m.indexOf(' ');
      if (m.slice(0, sep) === this.#node) this.#held.delete(m.slice(sep + 1));
      return m.slice(sep + 1);
    });
    return { replace: victims };
  }

  async release(ref: string): Promise<void> {
    const user = this.#held.get(ref);
    if (user === undefined) return;
    this.#held.delete(ref);
    try {
      await this.#eval(ZREM_SCRIPT, this.#keyOf(user), [`${this.#node} ${ref}`]);
    } catch (err) {
      if (!this.#closed) this.#unreleased.set(ref, user);
      throw err;
    }
  }

  /** Ends the lease at once, so the other nodes stop counting this node's sockets at their next check. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#held.clear();
    this.#unreleased.clear();
    await this.#eval(ZREM_SCRIPT, this.#leases, [this.#node]).catch((err: unknown) => this.#onError(err));
    this.#own?.destroy();
    this.#own = undefined;
  }

  /** Sockets this node counts (for tests that prove nothing is left behind). */
  get size(): number {
    return this.#held.size;
  }

  #keyOf(user: string): string {
    return `${this.#prefix}{${user}}`;
  }

  /** The connection commands go through: the counter's own once it opened one, else the app's. */
  #commands(): ConnectionsRedisClient {
    return this.#own ?? this.#client;
  }

  async #eval(script: string, key: string, args: string[]): Promise<unknown> {
    const via = this.#commands();
    let reply: unknown;
    try {
      reply = await withTimeout(via.eval(script, { keys: [key], arguments: args }), this.#nodeTtl / 3);
    } catch (err) {
      this.#troubled(via);
      throw err;
    }
    if (reply === TIMED_OUT) {
      this.#troubled(via);
      throw new Error(`no answer from Redis within ${Math.round(this.#nodeTtl / 3)} ms`);
    }
    return reply;
  }

  /** A command on `via` failed or went unanswered: on a cluster, open a fresh connection (it relearns the topology). */
  #troubled(via: ConnectionsRedisClient): void {
    if (!this.#cluster || this.#closed || this.#replacing !== undefined || via !== this.#commands()) return;
    // The next failure (an admission, or the lease renewal within nodeTtl / 3) tries again.
    if (Date.now() - this.#replacedAt < REPLACE_EVERY_MS) return;
    this.#replacedAt = Date.now();
    this.#replacing = this.#replace().finally(() => (this.#replacing = undefined));
  }

  async #replace(): Promise<void> {
    const fresh = this.#client.duplicate!();
    fresh.on('error', (err) => this.#onError(err));
    let connected = false;
    try {
      // Bounded: its discovery waits for every master it is told of, and a dead one may still be listed.
      connected = (await withTimeout(fresh.connect(), this.#nodeTtl / 3)) !== TIMED_OUT;
    } catch (err) {
      debug('a fresh cluster connection failed: %s', (err as Error)?.message);
    }
    if (!connected || this.#closed) {
      fresh.destroy();
      if (!this.#closed) debug('a fresh cluster connection could not connect yet: tried again at the next failure');
      return;
    }
    debug('the cluster connection stopped answering: commands go through a fresh one');
    const old = this.#own;
    this.#own = fresh;
    old?.destroy();
  }

  /** Renews the lease, then the work that rides on it; the next renewal is armed only once this one settled. */
  async #renew(): Promise<void> {
    if (this.#closed) return;
    try {
      const lapsed = asText(await this.#eval(RENEW_SCRIPT, this.#leases, [this.#node, String(this.#nodeTtl)])) === '1';
      this.#markRegistered();
      if (lapsed && this.#held.size > 0) {
        debug('lease had lapsed: putting back %d socket(s)', this.#held.size);
        this.#readdBeats = READD_BEATS;
      }
      if (this.#readdBeats > 0) {
        this.#readdBeats--;
        await Promise.all([...this.#held].map(([ref, user]) => this.#eval(READD_SCRIPT, this.#keyOf(user), [`${this.#node} ${ref}`, String(this.#keyTtl)])));
      }
      if (this.#unreleased.size > 0) {
        const retry = [...this.#unreleased];
        this.#unreleased.clear();
        await Promise.all(retry.map(([ref, user]) => this.#eval(ZREM_SCRIPT, this.#keyOf(user), [`${this.#node} ${ref}`]).catch(() => this.#unreleased.set(ref, user))));
      }
      if (Date.now() - this.#touchedAt > this.#keyTtl / 3) {
        this.#touchedAt = Date.now();
        const users = new Set(this.#held.values());
        await Promise.all([...users].map((user) => this.#eval(TOUCH_SCRIPT, this.#keyOf(user), [String(this.#keyTtl)])));
      }
    } catch (err) {
      if (!this.#closed) this.#onError(err);
    }
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#renew(), Math.max(100, Math.floor(this.#nodeTtl / 3)));
    this.#timer.unref();
  }
}

/**
 * Counts each user's sockets across every node on one Redis or Redis Cluster.
 * Create it once per process with the client the app already has; close it
 * after the Socket.IO server, at shutdown.
 *
 * @example
 * ```ts
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * const auth = new SockPass<User>({
 *   connections: { perUser: 5, onExceed: 'replace-oldest', store: redisConnectionCounter({ client }) },
 * });
 * ```
 */
export function redisConnectionCounter(options: RedisConnectionCounterOptions): CountingConnectionCounter {
  return new RedisConnectionCounter(options);
}
