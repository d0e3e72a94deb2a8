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
 * closed (README, "socketio-jwt compatibility", lists each deviation): an
 * algorithms allowlist is required or derived from the key; with
 * `auth_header_required` the header wins and a query token cannot override
 * it; after `unauthorized` the socket is disconnected at once, whatever
 * `callback` says; an unauthenticated socket is quarantined; a socket is
 * disconnected when its token expires.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createHandshakeContext } from '../context.js';
import { AuthError, toAuthError } from '../errors.js';
import { awaitInBandCredential, type UnauthorizedPayload } from '../quarantine.js';
import { SockPass } from '../registry.js';
import type { SocketLike } from '../socket-like.js';
import { addWaiter, cleanUpOnDisconnect, createState, getState, setState, type SocketState } from '../socket-state.js';
import type { AuthResult, Claims, HandshakeContext, SocketAuth, Strategy } from '../types.js';
import { createJwtVerifier, prepareKey, type JwtAlgorithm, type JwtHeader, type JwtKey, type JwtVerifier } from '../../strategies/jwt-verifier.js';
import { countQueryParameter } from '../../strategies/jwt-query.js';

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
   * key's own algorithm for a public key; required with a secret callback.
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
  /** Event flow: read the token from this cookie instead of the event's payload. */
  cookie?: string;
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
}

/** What `authorize` returns: a `connection` listener (event flow) or a namespace middleware (handshake flow). */
export type SocketioJwtHandler = <S extends object>(socket: S, next?: (err?: Error) => void) => void;

const STRATEGY = 'socketio-jwt';
/** jsonwebtoken options socketio-jwt passed through that would weaken or silently skip a check here. */
const UNSUPPORTED = ['ignoreExpiration', 'ignoreNotBefore', 'subject', 'jwtid', 'nonce', 'complete'] as const;

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
  };
  const handler = options.handshake ? handshakeFlow(options, settings) : eventFlow(options, settings);
  return handler as SocketioJwtHandler;
}

interface Settings {
  decodedPropertyName: string;
  encodedPropertyName: string;
  /** The verifier for one request: shared for a static key, per request for a callback that reads the request. */
  verifierFor: (request: IncomingMessage) => JwtVerifier<Claims>;
}

function prepareVerification(options: AuthorizeOptions): (request: IncomingMessage) => JwtVerifier<Claims> {
  const { secret } = options;
  if (secret === undefined || secret === null || (typeof secret === 'string' && secret.length === 0)) {
    throw new TypeError('sockpass: authorize() needs a secret (string, Buffer, public key, KeyObject or callback)');
  }
  const algorithms = options.algorithms ?? defaultAlgorithms(secret);
  const verifyOptions = {
    algorithms,
    audience: options.audience,
    issuer: options.issuer,
    clockTolerance: options.clockTolerance,
    maxAge: options.maxAge,
    maxTokenBytes: options.maxTokenBytes,
  };
  if (typeof secret !== 'function') {
    const verifier = createJwtVerifier<Claims>({ ...verifyOptions, secret }, STRATEGY);
    return () => verifier;
  }
  createJwtVerifier({ ...verifyOptions, secret: () => '' }, STRATEGY); // checks the options once, at startup
  const callback = secret as (...args: unknown[]) => void;
  return (request) =>
    createJwtVerifier<Claims>(
      {
        ...verifyOptions,
        secret: ({ header, claims }) =>
          new Promise<JwtKey>((resolve, reject) => {
            const done: SecretDone = (err, key) => (err || !key ? reject(err ?? new Error('no secret')) : resolve(key));
            if (callback.length >= 4) callback(request, header, claims, done);
            else callback(request, claims, done);
          }),
      },
      STRATEGY,
    );
}

/** The allowlist socketio-jwt never had: HS256 for a shared secret, the key's own algorithm for a public key. */
function defaultAlgorithms(secret: JwtKey | SecretCallback): JwtAlgorithm[] {
  if (typeof secret === 'function') {
    throw new TypeError('sockpass: with a secret callback, pass `algorithms` (e.g. ["RS256"]); socketio-jwt accepted any algorithm');
  }
  const key: KeyObject = prepareKey(secret);
  if (key.type === 'secret') return ['HS256'];
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256'];
    case 'rsa-pss':
      return ['PS256'];
    case 'ed25519':
    case 'ed448':
      return ['EdDSA'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
    }
  }
  throw new TypeError('sockpass: cannot tell the algorithm of this key; pass `algorithms`');
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
function refusal(error: UnauthorizedError): AuthResult<unknown> {
  return { kind: 'fail', error: new AuthError('forbidden', error.message, { strategy: STRATEGY, cause: error }) };
}

/** sockpass's typed refusal, in socketio-jwt's words (codes its clients already check). */
export function toUnauthorizedError(error: AuthError, flow: 'event' | 'handshake' = 'event'): UnauthorizedError {
  if (error.cause instanceof UnauthorizedError) return error.cause;
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
  if (Array.isArray(query) || countQueryParameter(ctx.request.url, 'token') > 1) {
    return new UnauthorizedError('credentials_bad_format', { message: 'token is repeated' });
  }
  // As socketio-jwt: a query token, when present, is the one used.
  return query ? query : token;
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
      if (err !== undefined) return next(toUnauthorizedError(toAuthError(err), 'handshake'));
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
  const context = new SockPass<unknown>().context;

  return function socketioJwtConnection(s: object) {
    const socket = s as SocketLike & Record<string, unknown>;
    if (getState(socket) !== undefined) return; // already handled (authorize() used twice on one namespace)
    let verifiedToken: string | undefined;
    const strategy: Strategy<unknown> = {
      inBand: { eventName: 'authenticate', timeout: required ? timeout : 0 },
      authenticate: async () => ({ kind: 'pass' }),
      authenticateCredential: async (payload) => {
        const token = options.cookie !== undefined ? createHandshakeContext(socket).cookies[options.cookie] : eventToken(payload);
        const result = await verifyToken(token, socket.request, options, settings);
        if (result.kind === 'success') verifiedToken = token as string;
        return result;
      },
    };
    const state: SocketState<unknown> = createState<unknown>(socket, STRATEGY, strategy);
    setState(socket, state);
    socket.on('disconnect', cleanUpOnDisconnect);
    awaitInBandCredential(socket, state, context, {
      isolate: required,
      describe: (error) => toPayload(toUnauthorizedError(error, 'event')),
      onSuccess: (_socket, result, renewed) => {
        socket[settings.decodedPropertyName] = result.user;
        socket[settings.encodedPropertyName] = verifiedToken;
        if (renewed) emitAuthenticated(socket);
      },
    });
    // After the first success, once socket.data.auth is set and the lifecycle started.
    addWaiter(state, () => emitAuthenticated(socket));
  };
}

/**
 * socketio-jwt's server-side event, `io.sockets.on('authenticated', (socket) => …)`.
 * `Namespace#emit` would broadcast to clients, so the namespace's own
 * EventEmitter is called, as Socket.IO does for `connection`.
 */
function emitAuthenticated(socket: SocketLike): void {
  EventEmitter.prototype.emit.call(socket.nsp, 'authenticated', socket);
}

function eventToken(payload: unknown): unknown {
  if (typeof payload === 'string') return payload;
  return typeof payload === 'object' && payload !== null ? (payload as { token?: unknown }).token : undefined;
}

function toPayload(error: UnauthorizedError): UnauthorizedPayload {
  return { message: error.message, data: error.data };
}
