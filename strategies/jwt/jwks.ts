/**
 * `jwks()`: keys from the identity provider's JSON Web Key Set, as a key
 * source for every JWT strategy (`secret: jwks({ issuer })`).
 *
 * jwks-rsa turns the JWKS document into public keys (it filters `use: sig`,
 * imports each JWK and gives the PEM jsonwebtoken verifies with); sockpass
 * keeps the whole key set and decides when to fetch it again. The key set is
 * fetched once, then again only when a token names a `kid` the set does not
 * hold, at most once per `cooldown` whatever `kid`s an attacker sends (one
 * fetch in flight, shared by every handshake waiting for it), and in the
 * background after `maxAge`. Every fetch is bounded by `timeout` (body
 * included), and a failed fetch keeps the keys already known.
 *
 * Outcomes: no `kid`, or a `kid` still unknown after a fresh key set →
 * `invalid_token`; no key set could be fetched → `key_unavailable`; a key
 * whose type or `alg` does not fit the token's algorithm → `invalid_token`
 * (an RSA key never verifies an HS256 token).
 *
 * @module
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import createDebug from 'debug';
import { JwksClient } from 'jwks-rsa';
import { AuthError } from '../../src/errors.js';
import { Metrics, type MetricsOption } from '../../src/metrics.js';
import { TIMED_OUT, withTimeout } from '../../src/time.js';
import { algorithmsOfKey, type JwtAlgorithm, type JwtHeader, type JwtKeyResolver } from './verifier.js';

const debug = createDebug('sockpass:jwks');

/**
 * Options of {@link jwks}: where the key set is (exactly one of `uri` or
 * `issuer`), and how often and how long it is fetched.
 */
export interface JwksOptions {
  /** URL of the JWKS document, e.g. `https://tenant.auth0.com/.well-known/jwks.json`. */
  uri?: string;
  /** Issuer URL: the JWKS is found by OpenID Connect discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`). */
  issuer?: string;
  /** Shortest time between two fetches caused by unknown `kid`s, in ms. Default 30 000. */
  cooldown?: number;
  /** Count fetches in `sockpass.jwks.fetches` (as `new SockPass({ metrics })`): `true` or `{ meter }`. Default: none. */
  metrics?: MetricsOption;
  /** Age after which the key set is fetched again in the background, in ms. Default 600 000 (10 min). */
  maxAge?: number;
  /** Longest wait for one fetch (discovery or key set), body included, in ms. Default 3000. */
  timeout?: number;
  /** Extra request headers (e.g. a user agent the identity provider requires). */
  requestHeaders?: Record<string, string>;
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

/**
 * @example
 * ```ts
 * const secret = jwks({ issuer: 'https://login.example.com/' });
 * auth.use('jwt-auth', jwtAuth({ secret, algorithms: ['RS256'], issuer: 'https://login.example.com/' }));
 * ```
 */
export function jwks(options: JwksOptions): JwksKeySource {
  if (typeof options !== 'object' || options === null) throw new TypeError('sockpass: jwks() needs { uri } or { issuer }');
  const { uri, issuer } = options;
  if ((uri === undefined) === (issuer === undefined)) throw new TypeError('sockpass: jwks() takes exactly one of `uri` or `issuer`');
  for (const url of [uri, issuer]) {
    if (url !== undefined && !/^https?:\/\//.test(url)) throw new TypeError('sockpass: jwks() needs an http(s) URL');
  }
  const cooldown = positive(options.cooldown, 30_000, 'cooldown');
  const metrics = Metrics.from(options.metrics);
  const maxAge = positive(options.maxAge, 600_000, 'maxAge');
  const timeout = positive(options.timeout, 3000, 'timeout');
  const headers = { accept: 'application/json', ...options.requestHeaders };

  /** One GET of a JSON document, bounded in time from request to the last byte of the body. */
  const getJson = async (url: string): Promise<unknown> => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeout), redirect: 'error' });
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
    return res.json();
  };

  let client: JwksClient | undefined;
  const clientFor = async (): Promise<JwksClient> => {
    if (client !== undefined) return client;
    const jwksUri = uri ?? (await discoverJwksUri(issuer!, getJson));
    client = new JwksClient({
      jwksUri,
      cache: false, // the key set is cached here, whole, with the cooldown around it
      rateLimit: false,
      timeout,
      fetcher: (url) => getJson(url) as Promise<{ keys: unknown }>,
    });
    return client;
  };

  let keys = new Map<string, JwksKey>();
  let fetchedAt = -Infinity; // when the last fetch started, successful or not
  let loadedAt = -Infinity; // when a key set was last loaded
  let lastFetchFailed = false;
  let inFlight: Promise<void> | undefined;

  const fetchKeys = (): Promise<void> => {
    if (inFlight !== undefined) return inFlight;
    fetchedAt = Date.now();
    inFlight = (async () => {
      try {
        const signingKeys = await withTimeout(clientFor().then((c) => c.getSigningKeys()), timeout * 2);
        if (signingKeys === TIMED_OUT) throw new Error(`no key set within ${timeout * 2} ms`);
        const next = new Map<string, JwksKey>();
        for (const k of signingKeys) {
          if (typeof k.kid !== 'string' || k.kid.length === 0) continue;
          next.set(k.kid, { key: createPublicKey(k.getPublicKey()), alg: (k as { alg?: string }).alg });
        }
        keys = next;
        loadedAt = Date.now();
        lastFetchFailed = false;
        metrics?.jwksFetch('success');
        debug('key set loaded: %d keys', next.size);
      } catch (err) {
        lastFetchFailed = true;
        metrics?.jwksFetch('failure');
        debug('key set fetch failed: %s', (err as Error)?.message);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
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
    // Unknown kid: join the fetch in flight, or start one if the cooldown allows; otherwise answer from what we have.
    if (inFlight !== undefined || Date.now() - fetchedAt >= cooldown) await fetchKeys();
    found = keys.get(kid);
    if (found !== undefined) return fitting(found, header.alg);
    if (lastFetchFailed) throw new AuthError('key_unavailable', 'the key set could not be fetched');
    throw new AuthError('invalid_token', 'no key matches the token key id');
  };
  return Object.assign(resolve, { refresh: fetchKeys });
}

/** OpenID Connect discovery: the issuer's metadata names its JWKS, and must name the issuer itself. */
async function discoverJwksUri(issuer: string, getJson: (url: string) => Promise<unknown>): Promise<string> {
  const base = issuer.replace(/\/+$/, '');
  const metadata = (await getJson(`${base}/.well-known/openid-configuration`)) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof metadata?.jwks_uri !== 'string' || !/^https?:\/\//.test(metadata.jwks_uri)) {
    throw new Error('the OpenID configuration names no jwks_uri');
  }
  if (typeof metadata.issuer !== 'string' || metadata.issuer.replace(/\/+$/, '') !== base) {
    // OpenID Connect Discovery §4.3: a document for another issuer must not be used.
    throw new Error('the OpenID configuration is for another issuer');
  }
  return metadata.jwks_uri;
}

/**
 * The key, if its type (and `alg`, when the JWK declares one) fits the
 * token's algorithm, as a static key must: RSA for RS and PS, the matching
 * curve for ES, never a public key for HS (`algorithmsOfKey`). An Ed25519 or
 * Ed448 key fits nothing: jsonwebtoken 9 does not verify EdDSA.
 */
function fitting({ key, alg }: JwksKey, tokenAlg: string): KeyObject {
  if (alg !== undefined && alg !== tokenAlg) throw new AuthError('invalid_token', 'token algorithm does not fit its key');
  if (!algorithmsOfKey(key).includes(tokenAlg as JwtAlgorithm)) throw new AuthError('invalid_token', 'token algorithm does not fit its key');
  return key;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`sockpass: jwks() \`${name}\` must be a non-negative number of ms`);
  return value;
}
