/**
 * The shared JWT verifier: the one place sockpass calls jsonwebtoken, and
 * where EdDSA (Ed25519), which jsonwebtoken 9 cannot verify, gets its
 * signature checked by node:crypto before jsonwebtoken judges its claims
 * (docs/libraries.md says why this pair and not another library).
 *
 * Options are checked and keys prepared once, when the app configures a
 * strategy (as jose's `prepareVerify` does): jsonwebtoken given a string
 * secret re-parses it as a PEM public key on every call (~0.5 ms); a prepared
 * KeyObject costs ~15 µs. Every outcome maps to one AuthError code, and no
 * message ever contains the token.
 *
 * @module
 */
import { createPublicKey, createSecretKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import createDebug from 'debug';
import jwt from 'jsonwebtoken';
import { AuthError, isAuthError } from '../../src/errors.js';
import { isNumericDate, TIMED_OUT, withTimeout } from '../../src/time.js';
import type { AuthResult, AuthSuccess, Claims } from '../../src/types.js';

const debug = createDebug('sockpass:jwt');

/** The algorithms jsonwebtoken 9 verifies, minus `none`, and EdDSA with an Ed25519 key. */
export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA';

const ALGORITHMS: ReadonlySet<string> = new Set<JwtAlgorithm>([
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
]);

/** A token's decoded JOSE header, as a key resolver sees it. */
export interface JwtHeader {
  /** The algorithm the token claims; checked against `algorithms`. */
  alg: string;
  /** Key id, to pick a key from a key set. */
  kid?: string;
  /** Token type, e.g. `JWT`. */
  typ?: string;
  [name: string]: unknown;
}

/** A key as the app has it: shared secret, PEM public key, or a KeyObject. */
export type JwtKey = string | Buffer | KeyObject;

/** Picks the key for a token, e.g. from a JWKS by `kid`. Called only with a well-formed header. */
export type JwtKeyResolver = (token: { header: JwtHeader; claims: Claims }) => Promise<JwtKey> | JwtKey;

/** Options every JWT strategy shares: they configure the one verifier (jsonwebtoken) behind them. */
export interface JwtVerifyOptions<U = Claims> {
  /** Shared secret, PEM public key, KeyObject, or an async resolver. */
  secret: JwtKey | JwtKeyResolver;
  /** Required allowlist; a token signed with anything else is `invalid_token`. */
  algorithms: readonly JwtAlgorithm[];
  /** Accepted `aud` values; a token for another audience is `invalid_audience`. */
  audience?: string | RegExp | Array<string | RegExp>;
  /** Accepted `iss` values; a token from another issuer is `invalid_issuer`. */
  issuer?: string | string[];
  /** Seconds of leeway for `exp` and `nbf`. */
  clockTolerance?: number;
  /** Oldest acceptable `iat`, e.g. `'1h'` or seconds. */
  maxAge?: string | number;
  /** Longest wait for an async key resolver before `key_unavailable`. Default 5000 ms. */
  keyResolverTimeout?: number;
  /** Longest accepted token in bytes, checked before any parsing. Default 8192. */
  maxTokenBytes?: number;
  /** Return true to refuse a token that verifies (logout lists, `jti` deny lists). */
  isRevoked?: (claims: Claims) => boolean | Promise<boolean>;
  /** Maps verified claims to the app's user. Default: the claims themselves. */
  user?: (claims: Claims) => U | Promise<U>;
}

export interface JwtVerifier<U> {
  /** Verifies one credential; never throws, always resolves to an AuthResult. */
  verify(token: unknown): Promise<AuthResult<U>>;
}

/** What `createJwtVerifier` returns. */
export type PreparedJwtVerifier<U> = JwtVerifier<U>;

const SYMMETRIC = /^HS/;
const DEFAULT_MAX_TOKEN_BYTES = 8192;

/** Turns what the app passed as a key into a KeyObject, once. */
export function prepareKey(key: JwtKey): KeyObject {
  if (typeof key === 'string') {
    if (key.length === 0) throw new TypeError('sockpass: the JWT secret is empty');
    return key.includes('-----BEGIN') ? createPublicKey(key) : createSecretKey(Buffer.from(key, 'utf8'));
  }
  if (Buffer.isBuffer(key)) {
    if (key.length === 0) throw new TypeError('sockpass: the JWT secret is empty');
    return createSecretKey(key);
  }
  if (typeof key === 'object' && key !== null && typeof (key as KeyObject).type === 'string') {
    // A private key can verify too, but only its public half is needed.
    return key.type === 'private' ? createPublicKey(key) : key;
  }
  throw new TypeError('sockpass: the JWT secret must be a string, Buffer, KeyObject or resolver function');
}

function assertKeyFitsAlgorithms(key: KeyObject, algorithms: readonly JwtAlgorithm[]): void {
  const symmetric = key.type === 'secret';
  for (const alg of algorithms) {
    // An Ed25519 key verifies EdDSA and nothing else, and EdDSA needs one.
    if (SYMMETRIC.test(alg) !== symmetric || (alg === 'EdDSA') !== isEd25519(key)) {
      throw new TypeError(
        `sockpass: algorithm ${alg} does not fit a ${symmetric ? 'shared secret' : `${key.asymmetricKeyType} public key`}; ` +
          'allow only the algorithms this key signs with',
      );
    }
  }
}

const isEd25519 = (key: KeyObject): boolean => key.asymmetricKeyType === 'ed25519';

/**
 * The algorithms a key verifies, as jsonwebtoken 9 allows them when no
 * allowlist is given: HS* for a secret, RS* and PS* for RSA, PS* for RSA-PSS,
 * the curve's ES* for EC, and EdDSA for Ed25519; nothing for any other key
 * (Ed448, X25519). Never `none`. Used where a key comes without
 * an allowlist of its own: a socketio-jwt secret callback, a JWKS key.
 */
export function algorithmsOfKey(key: KeyObject): readonly JwtAlgorithm[] {
  if (key.type === 'secret') return ['HS256', 'HS384', 'HS512'];
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
      break;
    }
    case 'ed25519':
      return ['EdDSA'];
  }
  return [];
}

/**
 * Checks options and prepares the key. Throws a TypeError on a misconfiguration,
 * so a bad setup fails at startup, never per connection.
 */
export function createJwtVerifier<U = Claims>(options: JwtVerifyOptions<U>, strategy?: string): PreparedJwtVerifier<U> {
  if (typeof options !== 'object' || options === null) throw new TypeError('sockpass: JWT options are required');
  const { algorithms } = options;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new TypeError('sockpass: `algorithms` is required, e.g. { algorithms: ["HS256"] }');
  }
  for (const alg of algorithms) {
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') {
      throw new TypeError(`sockpass: algorithm ${String(alg)} is not allowed`);
    }
    // Caught here, or every token would be refused at run time (jsonwebtoken throws on an algorithm it does not know).
    if (!ALGORITHMS.has(alg)) {
      throw new TypeError(`sockpass: unknown algorithm ${JSON.stringify(alg)}; use one of ${[...ALGORITHMS].join(', ')}`);
    }
  }
  if (options.secret === undefined || options.secret === null) {
    throw new TypeError('sockpass: `secret` is required (a secret, a public key, or a key resolver)');
  }
  const hasSymmetric = algorithms.some((a) => SYMMETRIC.test(a));
  if (hasSymmetric && algorithms.some((a) => !SYMMETRIC.test(a))) {
    // One key can never serve both families; mixing them invites algorithm confusion.
    throw new TypeError('sockpass: do not mix HS* with asymmetric algorithms in one allowlist');
  }
  const maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isInteger(maxTokenBytes) || maxTokenBytes <= 0) {
    throw new TypeError('sockpass: `maxTokenBytes` must be a positive integer');
  }

  const resolver = typeof options.secret === 'function' ? options.secret : undefined;
  const staticKey = resolver === undefined ? prepareKey(options.secret as JwtKey) : undefined;
  if (staticKey !== undefined) assertKeyFitsAlgorithms(staticKey, algorithms);

  // Only the options set, each added in turn: deleting the unset ones from a literal would leave a
  // dictionary-mode object, which jsonwebtoken copies and reads on every verify (~0.4 µs more each).
  const verifyOptions: jwt.VerifyOptions = { algorithms: algorithms.filter((a) => a !== 'EdDSA') as jwt.Algorithm[] };
  if (options.audience !== undefined) verifyOptions.audience = options.audience as jwt.VerifyOptions['audience'];
  if (options.issuer !== undefined) verifyOptions.issuer = options.issuer as jwt.VerifyOptions['issuer'];
  if (options.clockTolerance !== undefined) verifyOptions.clockTolerance = options.clockTolerance;
  if (options.maxAge !== undefined) verifyOptions.maxAge = options.maxAge;
  const { isRevoked, user: toUser } = options;
  const clockTolerance = options.clockTolerance ?? 0;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0) throw new TypeError('sockpass: `clockTolerance` must be a number of seconds ≥ 0');
  const resolverTimeout = options.keyResolverTimeout ?? 5000;
  /** A refusal; `subject` only for a token whose signature verified (the subject rate limit charges it). */
  const fail = (code: AuthError['code'], message: string, cause?: unknown, extra: { retryAfter?: number; subject?: string } = {}): AuthResult<U> => ({
    kind: 'fail',
    error: new AuthError(code, message, { strategy, cause, ...extra }),
  });

  /** The key of the app's resolver for this token (a static key needs no lookup). */
  async function resolveKey(token: string): Promise<KeyObject | AuthResult<U>> {
    const decoded = jwt.decode(token, { complete: true });
    if (decoded === null || typeof decoded.payload !== 'object' || decoded.payload === null) {
      return fail('invalid_token', 'token is malformed');
    }
    const header = decoded.header as unknown as JwtHeader;
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg as JwtAlgorithm)) {
      return fail('invalid_token', 'token algorithm is not allowed');
    }
    try {
      // A resolver that never settles must not hold a handshake open.
      const resolved = await withTimeout(resolver!({ header, claims: decoded.payload as Claims }), resolverTimeout);
      if (resolved === TIMED_OUT) throw new Error(`key resolver gave no key within ${resolverTimeout} ms`);
      const key = prepareKey(resolved);
      assertKeyFitsAlgorithms(key, [header.alg as JwtAlgorithm]);
      return key;
    } catch (cause) {
      // A resolver that judged the token itself (jwks(): unknown kid, key type mismatch) keeps its code.
      if (isAuthError(cause)) return fail(cause.code, cause.message, cause, { retryAfter: cause.retryAfter });
      debug('key resolver failed for kid %s: %s', header.kid, (cause as Error)?.message);
      return fail('key_unavailable', 'no key to verify this token', cause);
    }
  }

  /**
   * The check itself: size, key, signature and claims, then the app's hooks.
   * Not an async function: with a static key and no hook nothing waits, and
   * every handshake runs this.
   */
  function verify(token: unknown): Promise<AuthResult<U>> {
    if (typeof token !== 'string') return Promise.resolve(fail('credentials_bad_format', 'token must be a string'));
    // Checked on the string length first: a multi-megabyte string is refused before Buffer.byteLength walks it,
    // and one short enough that even 3 UTF-8 bytes per UTF-16 unit fit is not walked at all (every real token).
    if (token.length > maxTokenBytes || (token.length * 3 > maxTokenBytes && Buffer.byteLength(token, 'utf8') > maxTokenBytes)) {
      return Promise.resolve(fail('token_too_large', `token is longer than ${maxTokenBytes} bytes`));
    }
    if (token.length === 0) return Promise.resolve(fail('credentials_required', 'token is empty'));
    if (staticKey !== undefined) return Promise.resolve(verifyWith(token, staticKey));
    return resolveKey(token).then((key) => ('kind' in key ? key : verifyWith(token, key)));
  }

  /** Signature and claims with a known key; a promise only when an app hook (`isRevoked`, `user`) runs. */
  function verifyWith(token: string, key: KeyObject): AuthResult<U> | Promise<AuthResult<U>> {
    let claims: Claims;
    try {
      const payload = isEd25519(key) ? verifyEdDSA(token, key, algorithms, verifyOptions) : jwt.verify(token, key, verifyOptions);
      // jsonwebtoken takes a JSON array for a payload; claims are an object (guards and userId read their names).
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return fail('invalid_token', 'token payload is not a JSON object');
      claims = payload as Claims;
      // jsonwebtoken finds `exp: 1e300` (or 1e999, read as Infinity) "not expired"; as a Date it is invalid,
      // and an expiry timer armed with it would fire every millisecond forever.
      if (claims.exp !== undefined && !isNumericDate(claims.exp)) return fail('invalid_token', 'token expiry is out of range');
    } catch (err) {
      return mapJwtError(err, fail, token);
    }
    if (isRevoked === undefined && toUser === undefined) return success(claims, claims as U);
    return withHooks(claims);
  }

  /** The app's hooks on verified claims: is the token revoked, and who is its user. */
  async function withHooks(claims: Claims): Promise<AuthResult<U>> {
    if (isRevoked !== undefined) {
      try {
        if (await isRevoked(claims)) return fail('token_revoked', 'token has been revoked', undefined, { subject: subjectOf(claims) });
      } catch (cause) {
        return fail('server_error', 'could not check whether the token is revoked', cause);
      }
    }
    let user: U;
    try {
      // The user is the claims unless a `user` hook maps them.
      user = toUser === undefined ? (claims as U) : await toUser(claims);
    } catch (cause) {
      return fail('server_error', 'could not load the user for this token', cause);
    }
    return success(claims, user);
  }

  function success(claims: Claims, user: U): AuthResult<U> {
    const exp = claims.exp;
    // A token admitted within clockTolerance past exp lives as long as it was admitted for, not an instant.
    const expiresAt = typeof exp === 'number' ? new Date((exp + clockTolerance) * 1000) : null;
    // For the revocation ledger: `revoke({ token })` finds the token by jti; `revoke({ user })` judges
    // by iat, which the lifecycle reads from the claims (no issuedAt Date per socket).
    const tokenId = typeof claims.jti === 'string' && claims.jti !== '' ? claims.jti : undefined;
    // One literal either way: an id added afterwards would make the result two objects.
    return tokenId === undefined ? { kind: 'success', user, claims, expiresAt } : { kind: 'success', user, claims, expiresAt, tokenId };
  }

  return { verify };
}

/**
 * EdDSA, which jsonwebtoken 9 cannot verify: node:crypto checks the Ed25519
 * signature over the token's own signing input, then jsonwebtoken judges the
 * claims (exp, nbf, aud, iss, maxAge, clockTolerance) of that same payload,
 * passed as an unsigned token, so both paths share one set of claim rules and
 * error messages. The unsigned form is built here, from a payload whose
 * signature has just verified, and never from what a client sent as is.
 * Errors are thrown as jsonwebtoken's, for `mapJwtError`.
 */
function verifyEdDSA(token: string, key: KeyObject, algorithms: readonly JwtAlgorithm[], options: jwt.VerifyOptions): unknown {
  const parts = token.split('.');
  if (parts.length !== 3) throw new jwt.JsonWebTokenError('jwt malformed');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  let header: { alg?: unknown; crit?: unknown } | null;
  try {
    header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as typeof header;
  } catch {
    throw new jwt.JsonWebTokenError('invalid token');
  }
  if (typeof header !== 'object' || header === null) throw new jwt.JsonWebTokenError('invalid token');
  if (encodedSignature === '') throw new jwt.JsonWebTokenError('jwt signature is required');
  if (header.alg !== 'EdDSA' || !algorithms.includes('EdDSA')) throw new jwt.JsonWebTokenError('invalid algorithm');
  // RFC 7515 §4.1.11: a `crit` extension this verifier does not understand makes the token invalid.
  if (header.crit !== undefined) throw new jwt.JsonWebTokenError('unsupported critical header');
  const signature = Buffer.from(encodedSignature, 'base64url');
  if (signature.length !== 64 || !verifySignature(null, Buffer.from(`${encodedHeader}.${encodedPayload}`), key, signature)) {
    throw new jwt.JsonWebTokenError('invalid signature');
  }
  return jwt.verify(`${UNSIGNED_HEADER}.${encodedPayload}.`, undefined as unknown as jwt.Secret, { ...options, algorithms: ['none'] });
}

const UNSIGNED_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

/** A verified token's `sub`, for the subject rate limit (AuthError.subject). */
function subjectOf(claims: unknown): string | undefined {
  const sub = (claims as { sub?: unknown } | null)?.sub;
  return typeof sub === 'string' && sub !== '' ? sub : undefined;
}

function mapJwtError<U>(
  err: unknown,
  fail: (code: AuthError['code'], message: string, cause?: unknown, extra?: { subject?: string }) => AuthResult<U>,
  token: string,
): AuthResult<U> {
  const name = (err as Error)?.name;
  const message = String((err as Error)?.message ?? '');
  // jsonwebtoken checks the claims below only after the signature verified: the payload is the issuer's.
  const verified = () => ({ subject: subjectOf(jwt.decode(token, { json: true })) });
  if (name === 'TokenExpiredError') {
    return fail('token_expired', message === 'maxAge exceeded' ? 'token is older than maxAge' : 'token has expired', err, verified());
  }
  if (name === 'NotBeforeError') return fail('token_not_active', 'token is not valid yet', err, verified());
  if (message.startsWith('jwt audience invalid')) return fail('invalid_audience', 'token audience is not accepted', err, verified());
  if (message.startsWith('jwt issuer invalid')) return fail('invalid_issuer', 'token issuer is not accepted', err, verified());
  if (message === 'invalid algorithm' || message === 'jwt signature is required') {
    return fail('invalid_token', 'token algorithm is not allowed', err);
  }
  if (message === 'invalid signature') return fail('invalid_token', 'token signature is invalid', err);
  return fail('invalid_token', 'token is malformed', err);
}
