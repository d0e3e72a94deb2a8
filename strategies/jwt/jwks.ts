/**
 * `jwks()`: keys from the identity provider's JSON Web Key Set, as a key
 * source for every JWT strategy (`secret: jwks({ issuer })`).
 *
 * The key set is fetched once, then again only when a token names a `kid`
 * the set does not hold, at most once per `cooldown` whatever `kid`s an
 * attacker sends (one fetch in flight, shared by every handshake waiting for
 * it), and in the background after `maxAge`. Every fetch is bounded in time
 * (`timeout`, body included) and in size (`maxBytes`, `maxKeys`), its keys
 * are imported by node:crypto a batch at a time so other handshakes keep
 * being served, and a failed fetch keeps the keys already known.
 *
 * Outcomes: no `kid`, or a `kid` still unknown in a key set fetched for it →
 * `invalid_token`; a `kid` unknown while the cooldown forbids a fetch, or no
 * key set could be fetched → `key_unavailable`, which clients retry (the
 * identity provider may have published the key since the last fetch); a key
 * whose type or `alg` does not fit the token's algorithm → `invalid_token`
 * (an RSA key never verifies an HS256 token).
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import createDebug from 'debug';
import { AuthError } from '../../src/errors.js';
import { TIMED_OUT, withTimeout } from '../../src/time.js';
import { algorithmsOfKey, type JwtAlgorithm, type JwtHeader, type JwtKeyResolver } from './verifier.js';

const debug = createDebug('sockpass:jwks');

/**
 * Options of the JWKS key source: where the key set is (exactly one of `uri`
 * or `issuer`), how often and how long it is fetched, and how large it may be.
 * `jwks()` (in `src/index.ts`) adds `metrics`.
 */
export interface JwksKeySourceOptions {
  /** URL of the JWKS document, e.g. `https://tenant.auth0.com/.well-known/jwks.json`. */
  uri?: string;
  /** Issuer URL: the JWKS is found by OpenID Connect discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`). */
  issuer?: string;
  /** Shortest time between two fetches caused by unknown `kid`s, in ms. Default 30 000. */
  cooldown?: number;
  /** Age after which the key set is fetched again in the background, in ms. Default 600 000 (10 min). */
  maxAge?: number;
  /** Longest wait for one fetch (discovery or key set), body included, in ms. Default 3000. */
  timeout?: number;
  /** Largest accepted body of the JWKS (and of the discovery document), in bytes. Default 524 288 (512 KiB). */
  maxBytes?: number;
  /** Most keys a key set may hold; a larger set is refused whole (the keys already known stay). Default 100. */
  maxKeys?: number;
  /**
   * Accept `http:` URLs for hosts other than loopback. Keys fetched in clear
   * text can be swapped by anyone on the path, who can then sign any token:
   * only for a network the app trusts (a service mesh with its own TLS).
   * Default false: `http:` is accepted for `localhost`, `127.0.0.0/8` and `[::1]` only.
   */
  allowInsecure?: boolean;
  /** Extra request headers (e.g. a user agent the identity provider requires). */
  requestHeaders?: Record<string, string>;
}

/**
 * Who hears of each fetch's outcome. Declared here so the strategy never
 * imports the metrics module: `src/metrics.ts`'s `Metrics` fits, and
 * `jwks({ metrics })` passes one.
 */
export interface JwksFetchObserver {
  /** One fetch (discovery and key set) finished. */
  jwksFetch(outcome: 'success' | 'failure'): void;
}

/** A JWKS key source: a `JwtKeyResolver` to pass as `secret`, with a way to force a fetch. */
export interface JwksKeySource extends JwtKeyResolver {
  /** Fetches the key set now (single flight); resolves when done, never rejects. */
  refresh(): Promise<void>;
}

interface JwksKey {
  key: KeyObject;
  /** The JWK's own `alg`, when it declares one: a token must use exactly it. */
  alg: string | undefined;
}

const MAX_KID_LENGTH = 256;
/** Keys imported between two turns of the event loop: a few ms of work on a slow machine. */
const IMPORT_BATCH = 32;
/** RSA below this many bits is factorable by a determined attacker; identity providers publish 2048 or more. */
const MIN_RSA_BITS = 2048;
/** NIST SP 800-56B: an RSA public exponent is at least 65537 (e = 1 verifies anything, e = 3 invites forgeries). */
const MIN_RSA_EXPONENT = 65537n;

/** The key source behind the public `jwks()`, reporting each fetch to `observer`. */
export function jwksKeySource(options: JwksKeySourceOptions, observer?: JwksFetchObserver): JwksKeySource {
  if (typeof options !== 'object' || options === null) throw new TypeError('sockpass: jwks() needs { uri } or { issuer }');
  const { uri, issuer } = options;
  if ((uri === undefined) === (issuer === undefined)) throw new TypeError('sockpass: jwks() takes exactly one of `uri` or `issuer`');
  const allowInsecure = options.allowInsecure === true;
  for (const url of [uri, issuer]) {
    if (url === undefined) continue;
    const refusal = refuseUrl(url, allowInsecure);
    if (refusal !== undefined) throw new TypeError(`sockpass: jwks() ${refusal}`);
  }
  const cooldown = positive(options.cooldown, 30_000, 'cooldown');
  const maxAge = positive(options.maxAge, 600_000, 'maxAge');
  const timeout = positive(options.timeout, 3000, 'timeout');
  const maxBytes = positive(options.maxBytes, 512 * 1024, 'maxBytes', 'bytes');
  const maxKeys = positive(options.maxKeys, 100, 'maxKeys', 'keys');
  const headers = { accept: 'application/json', ...options.requestHeaders };

  /** One GET of a JSON document, bounded in time from request to the last byte, and in size. */
  const getJson = async (url: string): Promise<unknown> => {
    const signal = AbortSignal.timeout(timeout);
    const res = await fetch(url, { headers, signal, redirect: 'error' });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`GET ${url} answered ${res.status}`);
    }
    return JSON.parse(await readBounded(res, maxBytes));
  };

  let jwksUri = uri;
  let keys = new Map<string, JwksKey>();
  let fetchedAt = -Infinity; // when the last fetch started, successful or not
  let loadedAt = -Infinity; // when a key set was last loaded
  let lastFetchFailed = false;
  let inFlight: Promise<void> | undefined;
  let fetchAtCooldownEnd: ReturnType<typeof setTimeout> | undefined;

  const load = async (): Promise<Map<string, JwksKey>> => {
    if (jwksUri === undefined) {
      const discovered = await discoverJwksUri(issuer!, getJson);
      const refusal = refuseUrl(discovered, allowInsecure);
      if (refusal !== undefined) throw new Error(`the OpenID configuration's jwks_uri: ${refusal}`);
      jwksUri = discovered;
    }
    const document = (await getJson(jwksUri)) as { keys?: unknown } | null;
    if (typeof document !== 'object' || document === null || !Array.isArray(document.keys)) throw new Error('the JWKS has no `keys` array');
    if (document.keys.length > maxKeys) throw new Error(`the JWKS holds ${document.keys.length} keys, more than maxKeys (${maxKeys})`);
    return importKeys(document.keys);
  };

  const fetchKeys = (): Promise<void> => {
    if (inFlight !== undefined) return inFlight;
    fetchedAt = Date.now();
    inFlight = (async () => {
      try {
        const next = await withTimeout(load(), timeout * 2);
        if (next === TIMED_OUT) throw new Error(`no key set within ${timeout * 2} ms`);
        if (next.size === 0) throw new Error('the JWKS holds no usable signing key');
        keys = next;
        loadedAt = Date.now();
        lastFetchFailed = false;
        observer?.jwksFetch('success');
        debug('key set loaded: %d keys', next.size);
      } catch (err) {
        lastFetchFailed = true;
        observer?.jwksFetch('failure');
        debug('key set fetch failed: %s', (err as Error)?.message);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  /**
   * A `kid` unknown while the cooldown forbids a fetch: one fetch is booked
   * for the cooldown's end, so a key the identity provider has published
   * since is there when the client retries.
   */
  const fetchWhenAllowed = (): number => {
    const wait = Math.max(0, fetchedAt + cooldown - Date.now());
    if (fetchAtCooldownEnd === undefined) {
      fetchAtCooldownEnd = setTimeout(() => {
        fetchAtCooldownEnd = undefined;
        void fetchKeys();
      }, wait);
      fetchAtCooldownEnd.unref();
    }
    return wait;
  };

  const resolve = async function jwksKey({ header }: { header: JwtHeader }): Promise<KeyObject> {
    const { kid } = header;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) {
      throw new AuthError('invalid_token', 'token names no usable key id');
    }
    let found = keys.get(kid);
    if (found !== undefined) {
      // Known key: answer now; a stale set is renewed in the background so removed keys go.
      if (Date.now() - loadedAt > maxAge && Date.now() - fetchedAt > cooldown) void fetchKeys();
      return fitting(found, header.alg);
    }
    // Unknown kid: join the fetch in flight, or start one if the cooldown allows.
    if (inFlight === undefined && Date.now() - fetchedAt < cooldown) {
      // The set may predate the key: the client is told to retry, not that its token is bad.
      const retryAfter = fetchWhenAllowed();
      throw new AuthError('key_unavailable', 'the token key id is not in the key set yet; retry later', { retryAfter: retryAfter + 1000 });
    }
    await fetchKeys();
    found = keys.get(kid);
    if (found !== undefined) return fitting(found, header.alg);
    if (lastFetchFailed) throw new AuthError('key_unavailable', 'the key set could not be fetched');
    throw new AuthError('invalid_token', 'no key matches the token key id');
  };
  return Object.assign(resolve, { refresh: fetchKeys });
}

/**
 * The JWKs that can verify a signature, as KeyObjects by `kid`: `use: sig`
 * (or no `use`), public RSA, EC and OKP keys, RSA of at least 2048 bits with
 * an exponent of at least 65537. A key that fails is skipped with a debug
 * line; the import yields to the event loop between batches.
 */
async function importKeys(jwks: readonly unknown[]): Promise<Map<string, JwksKey>> {
  const keys = new Map<string, JwksKey>();
  for (let i = 0; i < jwks.length; i++) {
    if (i > 0 && i % IMPORT_BATCH === 0) await nextTurn();
    const jwk = jwks[i] as Record<string, unknown> | null;
    if (typeof jwk !== 'object' || jwk === null) continue;
    const { kid, kty, use, alg } = jwk;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) continue;
    if (use !== undefined && use !== 'sig') continue;
    if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') continue;
    // A JWKS publishes public keys; one with private members is a provider's mistake, not a key to trust.
    if ('d' in jwk || 'p' in jwk || 'k' in jwk) {
      debug('key %s skipped: it has private members', kid);
      continue;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (err) {
      debug('key %s skipped: %s', kid, (err as Error)?.message);
      continue;
    }
    if (key.asymmetricKeyType === 'rsa') {
      const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
      if (modulusLength < MIN_RSA_BITS || publicExponent < MIN_RSA_EXPONENT) {
        debug('key %s skipped: RSA of %d bits with exponent %s is too weak', kid, modulusLength, String(publicExponent));
        continue;
      }
    }
    keys.set(kid, { key, alg: typeof alg === 'string' && alg !== '' ? alg : undefined });
  }
  return keys;
}

/** The body as text, refused once it passes `maxBytes` (declared or received), so a huge key set is never held. */
async function readBounded(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new Error(`the body declares ${declared} bytes, more than maxBytes (${maxBytes})`);
  }
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    if (received > maxBytes) {
      await reader.cancel();
      throw new Error(`the body is larger than maxBytes (${maxBytes})`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Why a JWKS or issuer URL is refused, or `undefined` when it is usable. */
function refuseUrl(url: string, allowInsecure: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'needs an http(s) URL';
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol !== 'http:') return 'needs an http(s) URL';
  if (allowInsecure || isLoopback(parsed.hostname)) return undefined;
  return `refuses ${parsed.origin}: keys over http: can be replaced on the way; use https:, or allowInsecure for a network you trust`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** OpenID Connect discovery: the issuer's metadata names its JWKS, and must name the issuer itself. */
async function discoverJwksUri(issuer: string, getJson: (url: string) => Promise<unknown>): Promise<string> {
  const base = issuer.replace(/\/+$/, '');
  const metadata = (await getJson(`${base}/.well-known/openid-configuration`)) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof metadata?.jwks_uri !== 'string') throw new Error('the OpenID configuration names no jwks_uri');
  if (typeof metadata.issuer !== 'string' || metadata.issuer.replace(/\/+$/, '') !== base) {
    // OpenID Connect Discovery §4.3: a document for another issuer must not be used.
    throw new Error('the OpenID configuration is for another issuer');
  }
  return metadata.jwks_uri;
}

/**
 * The key, if its type (and `alg`, when the JWK declares one) fits the
 * token's algorithm, as a static key must: RSA for RS and PS, the matching
 * curve for ES, Ed25519 for EdDSA, never a public key for HS (`algorithmsOfKey`).
 */
function fitting({ key, alg }: JwksKey, tokenAlg: string): KeyObject {
  if (alg !== undefined && alg !== tokenAlg) throw new AuthError('invalid_token', 'token algorithm does not fit its key');
  if (!algorithmsOfKey(key).includes(tokenAlg as JwtAlgorithm)) throw new AuthError('invalid_token', 'token algorithm does not fit its key');
  return key;
}

function positive(value: number | undefined, fallback: number, name: string, unit = 'ms'): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`sockpass: jwks() \`${name}\` must be a non-negative number of ${unit}`);
  return value;
}
