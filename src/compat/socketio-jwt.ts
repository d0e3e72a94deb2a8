/**
 * `sockpass/compat/socketio-jwt`: a drop-in for socketio-jwt 4.6's
 * `authorize(options)` and `UnauthorizedError`, so an app changes one
 * `require`. Same options, same wire events (`authenticate`, `authenticated`,
 * `unauthorized`), same error shape (`err.message`,
 * `err.data = { message, code, type: 'UnauthorizedError' }`) and the same
 * server-side `authenticated` event on the namespace — built on sockpass's
 * verifier, quarantine and lifecycle instead of socketio-jwt's own code.
 *
 * Where socketio-jwt was insecure the wire shape stays and the hole is
 * closed (docs/compat-socketio-jwt.md lists each deviation): an
 * algorithms allowlist is required or derived from the key; with
 * `auth_header_required` the header wins and a query token cannot override
 * it; after `unauthorized` the socket is disconnected at once, whatever
 * `callback` says; an unauthenticated socket is quarantined; a socket is
 * disconnected when its token expires.
 *
 * Written on sockpass's public API (the handshake flow is a registry's
 * `middleware()`) plus the compat modules' one internal seam,
 * `./core-seam.ts`: the event flow hands a socket that is already connected
 * to `lifecycle.awaitConnected`, which quarantines it until its
 * `authenticate` event, and the JWT verifier's parts check the token.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import createDebug from 'debug';
import jwt from 'jsonwebtoken';
import type { IncomingMessage } from 'node:http';
import { AuthError, isAuthError, type AuthErrorCode } from '../errors.js';
// The seam: the Lifecycle's in-band wait (reached through SockPass#lifecycle) and its types.
import { SockPass } from '../registry.js';
import type { AuthResult, Claims, HandshakeContext, SocketAuth, Strategy } from '../types.js';
import type { JwtAlgorithm, JwtHeader, JwtKey, JwtVerifyOptions } from '../../strategies/jwt/verifier.js';
import type { AllowedOrigins } from '../../strategies/origin.js';
// Beyond the public API: the one internal seam (./core-seam.ts says what and why).
import {
  algorithmsOfKey,
  createHandshakeContext,
  createJwtVerifier,
  isRepeatedQueryParameter,
  isSameOrigin,
  prepareKey,
  prepareOrigins,
  TIMED_OUT,
  withTimeout,
  type JwtVerifier,
  type SocketLike,
  type UnauthorizedPayload,
} from './core-seam.js';

/** socketio-jwt's `new UnauthorizedError(code, { message })`: `message`, `inner`, `data`. */
export class UnauthorizedError extends Error {
  /** Always `UnauthorizedError`, as socketio-jwt. */
  override readonly name = 'UnauthorizedError';
  /** The underlying error, `{ message }`. */
  readonly inner: { message: string };
  /** What the client receives: `{ message, code, type: 'UnauthorizedError' }`. */
  readonly data: { message: string; code: string; type: 'UnauthorizedError' };

  constructor(code: string, error: { message: string }) {
    super(error.message);
    this.inner = error;
    this.data = { message: this.message, code, type: 'UnauthorizedError' };
  }
}

type SecretDone = (err: unknown, secret?: JwtKey) => void;
/** socketio-jwt's dynamic secret: `(request, decodedToken, callback)`, or with the header first when it takes four arguments. */
export type SecretCallback =
  | ((request: IncomingMessage, decodedToken: Claims, callback: SecretDone) => void)
  | ((request: IncomingMessage, header: JwtHeader, decodedToken: Claims, callback: SecretDone) => void);

/** socketio-jwt 4.x's options of `authorize()`, plus sockpass's hardening ones. */
export interface AuthorizeOptions {
  /** Shared secret (string or Buffer), PEM public key, KeyObject, or socketio-jwt's callback. */
  secret: JwtKey | SecretCallback;
  /**
   * Allowlist (socketio-jwt passed its options to jsonwebtoken and so accepted
   * any algorithm the key fit). Default: `['HS256']` for a shared secret, the
   * key's own algorithm for a public key; with a secret callback, derived from
   * each key it returns as jsonwebtoken 9 does (HS* for a secret, RS* and PS* for
   * RSA, the curve's ES* for EC), never `none`.
   */
  algorithms?: JwtAlgorithm[];
  /** Authenticate in the handshake (`io.use`) instead of with the `authenticate` event. */
  handshake?: boolean;
  /** Ms to send `authenticate` (event flow, `required`). Default 5000, as socketio-jwt. */
  timeout?: number;
  /** Event flow: false lets a socket stay unauthenticated (and unquarantined). Default true. */
  required?: boolean;
  /** Property of the socket that receives the decoded token. Default `decoded_token`. */
  decodedPropertyName?: string;
  /** Property of the socket that receives the token, once verified. Default `encoded_token`. */
  encodedPropertyName?: string;
  /** Handshake flow: only `Authorization: Bearer` counts; a query token is ignored. */
  auth_header_required?: boolean;
  /** Accepted for compatibility and ignored: the socket is disconnected right after `unauthorized`. */
  callback?: false | number;
  /**
   * Event flow: read the token from this cookie instead of the event's payload.
   * Browsers send cookies on cross-site handshakes, so a cookie-borne token is
   * refused (`origin_not_allowed`) from a page whose `Origin` is not the
   * server's own (`Host`) unless `allowedOrigins` lists it.
   */
  cookie?: string;
  /** sockpass addition, with `cookie`: origins a cookie-borne token may come from, or `'any'`. Default: the server's own. */
  allowedOrigins?: AllowedOrigins;
  /** Extra check after verification: call `onSuccess()`, or `onError(err, code)` to refuse. */
  additional_auth?: (decoded: Claims, onSuccess: () => void, onError: (err: string | { message: string }, code?: string) => void) => void;
  /** Maps the decoded token before it is stored on the socket (and becomes `socket.data.auth.user`). */
  customDecoded?: (decoded: Claims) => unknown;
  /** Accepted `aud` values, passed to jsonwebtoken as socketio-jwt did. */
  audience?: string | RegExp | Array<string | RegExp>;
  /** Accepted `iss` values. */
  issuer?: string | string[];
  /** Seconds of leeway for `exp` and `nbf`. */
  clockTolerance?: number;
  /** Oldest acceptable `iat`, e.g. `'1h'` or seconds. */
  maxAge?: string | number;
  /** sockpass addition: longest accepted token in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** sockpass addition: longest wait for a secret callback before `invalid_secret`. Default 5000 ms. */
  keyResolverTimeout?: number;
}

/** What `authorize` returns: a `connection` listener (event flow) or a namespace middleware (handshake flow). */
export type SocketioJwtHandler = <S extends object>(socket: S, next?: (err?: Error) => void) => void;

const STRATEGY = 'socketio-jwt';
const debug = createDebug('sockpass:compat:socketio-jwt');
/** jsonwebtoken options socketio-jwt passed through that would weaken or silently skip a check here. */
const UNSUPPORTED = ['ignoreExpiration', 'ignoreNotBefore', 'subject', 'jwtid', 'nonce', 'complete'] as const;

/** sockpass's AuthError, the same class `sockpass` exports (one copy of the core at run time). */
export { AuthError, isAuthError } from '../errors.js';

/**
 * @example
 * ```ts
 * // const socketioJwt = require('socketio-jwt');
 * import * as socketioJwt from 'sockpass/compat/socketio-jwt';
 *
 * io.sockets
 *   .on('connection', socketioJwt.authorize({ secret: process.env.JWT_SECRET, timeout: 15000 }))
 *   .on('authenticated', (socket) => console.log(`hello! ${socket.decoded_token.name}`));
 *
 * // one round trip: io(url, { query: 'token=' + jwt })
 * io.use(socketioJwt.authorize({ secret: process.env.JWT_SECRET, handshake: true }));
 * ```
 */
export function authorize(options: AuthorizeOptions): SocketioJwtHandler {
  if (typeof options !== 'object' || options === null) throw new TypeError('sockpass: authorize() needs options');
  for (const name of UNSUPPORTED) {
    if ((options as unknown as Record<string, unknown>)[name] !== undefined) {
      throw new TypeError(`sockpass: socketio-jwt option "${name}" is not supported; sockpass always checks exp/nbf and supports audience, issuer, maxAge`);
    }
  }
  const settings = {
    decodedPropertyName: options.decodedPropertyName ?? 'decoded_token',
    encodedPropertyName: options.encodedPropertyName ?? 'encoded_token',
    verifierFor: prepareVerification(options),
    originAllowed: options.cookie === undefined || options.allowedOrigins === undefined ? undefined : prepareOrigins(options.allowedOrigins),
  };
  const handler = options.handshake ? handshakeFlow(options, settings) : eventFlow(options, settings);
  return handler as SocketioJwtHandler;
}

interface Settings {
  decodedPropertyName: string;
  encodedPropertyName: string;
  /** The verifier for one request: shared for a static key, per request for a callback that reads the request. */
  verifierFor: (request: IncomingMessage) => JwtVerifier<Claims>;
  /** `allowedOrigins`, prepared; undefined for the default, the server's own origin. */
  originAllowed: ((origin: string) => boolean) | undefined;
}

function prepareVerification(options: AuthorizeOptions): (request: IncomingMessage) => JwtVerifier<Claims> {
  const { secret } = options;
  if (secret === undefined || secret === null || (typeof secret === 'string' && secret.length === 0)) {
    throw new TypeError('sockpass: authorize() needs a secret (string, Buffer, public key, KeyObject or callback)');
  }
  const verifyOptions = {
    audience: options.audience,
    issuer: options.issuer,
    clockTolerance: options.clockTolerance,
    maxAge: options.maxAge,
    maxTokenBytes: options.maxTokenBytes,
  };
  if (typeof secret !== 'function') {
    const verifier = createJwtVerifier<Claims>({ ...verifyOptions, algorithms: options.algorithms ?? defaultAlgorithms(secret), secret }, STRATEGY);
    return () => verifier;
  }
  // Checks the options once, at startup (the HS256 list only stands in when the allowlist comes from each key).
  createJwtVerifier({ ...verifyOptions, algorithms: options.algorithms ?? ['HS256'], secret: () => '' }, STRATEGY);
  const callback = secret as (...args: unknown[]) => void;
  return (request) => ({ verify: (token) => verifyWithCallback(token, request, callback, options, verifyOptions) });
}

/**
 * socketio-jwt's `getSecret` then `jwt.verify`, with its refusals worded as
 * jsonwebtoken words them: the token's shape is checked before the app's
 * callback runs, the callback's wait is bounded, and the allowlist is the
 * app's or, without one, the algorithms of the key the callback returned.
 */
async function verifyWithCallback(
  token: unknown,
  request: IncomingMessage,
  callback: (...args: unknown[]) => void,
  options: AuthorizeOptions,
  verifyOptions: Omit<JwtVerifyOptions<Claims>, 'secret' | 'algorithms'>,
): Promise<AuthResult<Claims>> {
  if (typeof token !== 'string') return refusal(new UnauthorizedError('invalid_token', { message: 'invalid token datatype' }), 'credentials_bad_format');
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  if (token.length > maxTokenBytes || Buffer.byteLength(token, 'utf8') > maxTokenBytes) {
    return { kind: 'fail', error: new AuthError('token_too_large', `token is longer than ${maxTokenBytes} bytes`, { strategy: STRATEGY }) };
  }
  const parts = token.split('.');
  if (parts.length < 3) return refusal(new UnauthorizedError('invalid_token', { message: 'jwt malformed' }), 'invalid_token');
  if (parts[2]!.trim() === '') return refusal(new UnauthorizedError('invalid_token', { message: 'jwt signature is required' }), 'invalid_token');
  const decoded = jwt.decode(token, { complete: true });
  if (decoded === null || typeof decoded.payload !== 'object' || decoded.payload === null) {
    return refusal(new UnauthorizedError('invalid_token', { message: 'jwt malformed' }), 'invalid_token');
  }
  const header = decoded.header as unknown as JwtHeader;
  const alg = header.alg as JwtAlgorithm;
  const invalidAlgorithm = () => refusal(new UnauthorizedError('invalid_token', { message: 'invalid algorithm' }), 'invalid_token');
  if (options.algorithms !== undefined && !options.algorithms.includes(alg)) return invalidAlgorithm();

  let key: KeyObject;
  try {
    const resolved = await withTimeout(
      new Promise<JwtKey>((resolve, reject) => {
        const done: SecretDone = (err, found) => (err ? reject(new AppSecretError(err)) : found ? resolve(found) : reject(new Error('no secret')));
        if (callback.length >= 4) callback(request, header, decoded.payload, done);
        else callback(request, decoded.payload, done);
      }),
      options.keyResolverTimeout ?? 5000,
    );
    if (resolved === TIMED_OUT) throw new Error('the secret callback gave no key in time');
    key = prepareKey(resolved);
  } catch (cause) {
    debug('secret callback failed: %s', (cause as Error)?.message);
    return { kind: 'fail', error: new AuthError('key_unavailable', 'no key to verify this token', { strategy: STRATEGY, cause }) };
  }
  const algorithms = options.algorithms ?? algorithmsOfKey(key);
  if (!algorithms.includes(alg)) return invalidAlgorithm();
  let verifier: JwtVerifier<Claims>;
  try {
    verifier = createJwtVerifier<Claims>({ ...verifyOptions, algorithms: [alg], secret: key }, STRATEGY);
  } catch {
    // The key the callback returned does not fit the token's algorithm (a secret for an RS256 token, say).
    return invalidAlgorithm();
  }
  return verifier.verify(token);
}

/** An error the app's secret callback gave: its message and code (default `invalid_secret`) go to the client. */
class AppSecretError extends Error {
  readonly code: string;
  constructor(err: unknown) {
    const { message, code } = (typeof err === 'object' && err !== null ? err : {}) as { message?: unknown; code?: unknown };
    super(typeof message === 'string' ? message : String(err));
    this.code = typeof code === 'string' && code !== '' ? code : 'invalid_secret';
  }
}

/** The allowlist socketio-jwt never had: HS256 for a shared secret, the key's own algorithm for a public key. */
function defaultAlgorithms(secret: JwtKey): JwtAlgorithm[] {
  const key: KeyObject = prepareKey(secret);
  if (key.type === 'secret') return ['HS256'];
  const [algorithm] = algorithmsOfKey(key);
  if (algorithm === undefined) throw new TypeError('sockpass: cannot tell the algorithm of this key; pass `algorithms`');
  return [algorithm];
}

// ---------------------------------------------------------------------------
// Verification shared by both flows

async function verifyToken(token: unknown, request: IncomingMessage, options: AuthorizeOptions, settings: Settings): Promise<AuthResult<unknown>> {
  if (typeof token !== 'string' || token.length === 0) {
    return refusal(new UnauthorizedError('invalid_token', { message: 'invalid token datatype' }));
  }
  const result = await settings.verifierFor(request).verify(token);
  if (result.kind !== 'success') return result;
  const decoded = result.claims ?? {};
  if (options.additional_auth !== undefined) {
    const denied = await runAdditionalAuth(options.additional_auth, decoded);
    if (denied !== undefined) return refusal(denied);
  }
  return { ...result, user: options.customDecoded ? options.customDecoded(decoded) : decoded };
}

function runAdditionalAuth(check: NonNullable<AuthorizeOptions['additional_auth']>, decoded: Claims): Promise<UnauthorizedError | undefined> {
  return new Promise((resolve) => {
    const onError = (err: string | { message: string }, code?: string) => {
      const message = typeof err === 'object' && err !== null && typeof err.message === 'string' ? err.message : String(err);
      resolve(new UnauthorizedError(code || 'unknown', { message }));
    };
    try {
      check(decoded, () => resolve(undefined), onError);
    } catch {
      // The app's check threw: refuse, without its message (it may say anything).
      resolve(new UnauthorizedError('unknown', { message: 'additional authentication failed' }));
    }
  });
}

/** A failure that carries socketio-jwt's exact code and message to the client. */
function refusal(error: UnauthorizedError, code: AuthErrorCode = 'forbidden'): AuthResult<never> {
  return { kind: 'fail', error: new AuthError(code, error.message, { strategy: STRATEGY, cause: error }) };
}

/**
 * A page may use a cookie-borne token only from an allowed Origin: by default
 * the server's own (`Host`). No `Origin` means no browser page opened the
 * socket, so nothing was hijacked.
 */
function cookieOriginAllowed(ctx: HandshakeContext, allowed: ((origin: string) => boolean) | undefined): boolean {
  if (ctx.origin === undefined) return true;
  if (allowed !== undefined) return allowed(ctx.origin);
  const host = ctx.headers.host;
  return isSameOrigin(ctx.origin, typeof host === 'string' ? host : undefined);
}

/** sockpass's typed refusal, in socketio-jwt's words (codes its clients already check). */
export function toUnauthorizedError(error: AuthError, flow: 'event' | 'handshake' = 'event'): UnauthorizedError {
  if (error.cause instanceof UnauthorizedError) return error.cause;
  // The app's own refusal keeps its words, as socketio-jwt's handshake flow UnauthorizedError(err.code || 'invalid_secret', err)
  // and its event flow UnauthorizedError('invalid_secret', err) did.
  if (error.cause instanceof AppSecretError) return new UnauthorizedError(flow === 'event' ? 'invalid_secret' : error.cause.code, { message: error.cause.message });
  const jwtMessage = jsonwebtokenMessage(error.cause);
  if (jwtMessage !== undefined) return new UnauthorizedError('invalid_token', { message: jwtMessage });
  switch (error.code) {
    case 'token_expired':
      return new UnauthorizedError('invalid_token', { message: 'jwt expired' });
    case 'key_unavailable':
      return new UnauthorizedError('invalid_secret', { message: 'no secret for this token' });
    case 'credentials_required':
      return flow === 'event'
        ? new UnauthorizedError('invalid_token', { message: 'invalid token datatype' })
        : new UnauthorizedError('credentials_required', { message: 'no token provided' });
    case 'credentials_bad_format':
      return flow === 'event'
        ? new UnauthorizedError('invalid_token', { message: 'invalid token datatype' })
        : new UnauthorizedError('credentials_bad_format', { message: error.message });
    case 'authentication_timeout':
    case 'user_mismatch':
    case 'server_error':
      return new UnauthorizedError(error.code, { message: error.message });
    default:
      return new UnauthorizedError('invalid_token', { message: error.message });
  }
}

/**
 * socketio-jwt sent jsonwebtoken's own messages (`jwt expired`, `invalid
 * signature`, `jwt malformed`), which clients match on. They never contain the
 * token; the expected audience or issuer that some append is cut off.
 */
function jsonwebtokenMessage(cause: unknown): string | undefined {
  const name = (cause as Error | undefined)?.name;
  if (name !== 'JsonWebTokenError' && name !== 'TokenExpiredError' && name !== 'NotBeforeError') return undefined;
  const message = String((cause as Error).message);
  return message.split('. expected')[0];
}

// ---------------------------------------------------------------------------
// Handshake flow: io.use(authorize({ handshake: true }))

/** socketio-jwt's token lookup, minus the override: with `auth_header_required` only the header counts. */
function readHandshakeToken(ctx: HandshakeContext, headerRequired: boolean): string | UnauthorizedError | undefined {
  let token: string | undefined;
  const header = ctx.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const parts = header.split(' ');
    if (parts.length !== 2) return new UnauthorizedError('credentials_bad_format', { message: 'Format is Authorization: Bearer [token]' });
    if (parts[0]!.toLowerCase() === 'bearer') token = parts[1];
  }
  if (headerRequired) {
    return token ? token : new UnauthorizedError('missing_authorization_header', { message: 'Server requires Authorization Header' });
  }
  const query = ctx.query.token;
  // Engine.IO keeps only the last of repeated parameters: the repetition shows in the raw URL alone.
  if (isRepeatedQueryParameter(ctx, 'token')) {
    return new UnauthorizedError('credentials_bad_format', { message: 'token is repeated' });
  }
  // As socketio-jwt: a query token, when present, is the one used.
  return typeof query === 'string' && query !== '' ? query : token;
}

function handshakeFlow(options: AuthorizeOptions, settings: Settings) {
  const headerRequired = options.auth_header_required === true;
  const strategy: Strategy<unknown> = {
    authenticate: async function socketioJwtHandshakeStrategy(ctx) {
      const token = readHandshakeToken(ctx, headerRequired);
      if (token instanceof UnauthorizedError) return refusal(token);
      if (token === undefined) return refusal(new UnauthorizedError('credentials_required', { message: 'no token provided' }));
      return verifyToken(token, ctx.request, options, settings);
    },
  };
  const middleware = new SockPass<unknown>().use(STRATEGY, strategy).middleware(STRATEGY);
  return function socketioJwtHandshake(s: object, next: (err?: Error) => void) {
    const socket = s as SocketLike & Record<string, unknown>;
    middleware(socket, (err) => {
      if (err !== undefined) return next(toUnauthorizedError(isAuthError(err) ? err : new AuthError('server_error', 'authentication failed', { cause: err }), 'handshake'));
      socket[settings.decodedPropertyName] = (socket.data.auth as SocketAuth<unknown>).user;
      socket[settings.encodedPropertyName] = readHandshakeToken(createHandshakeContext(socket), headerRequired);
      next();
    });
  };
}

// ---------------------------------------------------------------------------
// Event flow: io.sockets.on('connection', authorize({ ... }))

function eventFlow(options: AuthorizeOptions, settings: Settings) {
  const required = options.required !== false;
  const timeout = options.timeout ?? 5000;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new TypeError('sockpass: `timeout` must be a positive whole number of milliseconds');
  // One registry for every socket of this handler: its lifecycle admits, renews and cuts them.
  const lifecycle = new SockPass<unknown>().lifecycle;

  return function socketioJwtConnection(s: object) {
    const socket = s as SocketLike & Record<string, unknown>;
    let verifiedToken: string | undefined;
    const strategy: Strategy<unknown> = {
      inBand: { eventName: 'authenticate', timeout: required ? timeout : 0 },
      authenticate: async () => ({ kind: 'pass' }),
      authenticateCredential: async (payload) => {
        let token: unknown;
        if (options.cookie === undefined) token = eventToken(payload);
        else {
          const ctx = createHandshakeContext(socket);
          if (!cookieOriginAllowed(ctx, settings.originAllowed)) {
            debug('refused a cookie-borne token from a foreign Origin');
            return refusal(new UnauthorizedError('origin_not_allowed', { message: 'cookie authentication is not allowed from this Origin' }), 'origin_not_allowed');
          }
          token = ctx.cookies[options.cookie];
        }
        const result = await verifyToken(token, socket.request, options, settings);
        if (result.kind === 'success') verifiedToken = token as string;
        return result;
      },
    };
    // Does nothing for a socket already handled (authorize() used twice on one namespace).
    lifecycle.awaitConnected(socket, STRATEGY, strategy, {
      isolate: required,
      describe: (error) => toPayload(toUnauthorizedError(error, 'event')),
      onSuccess: (_socket, result) => {
        socket[settings.decodedPropertyName] = result.user;
        socket[settings.encodedPropertyName] = verifiedToken;
      },
      // socketio-jwt's server-side event, `io.sockets.on('authenticated', (socket) => …)`: on the namespace, not to its clients.
      announce: 'authenticated',
    });
  };
}

function eventToken(payload: unknown): unknown {
  if (typeof payload === 'string') return payload;
  return typeof payload === 'object' && payload !== null ? (payload as { token?: unknown }).token : undefined;
}

function toPayload(error: UnauthorizedError): UnauthorizedPayload {
  return { message: error.message, data: error.data };
}
