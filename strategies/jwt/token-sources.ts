/**
 * Where a token is read from, in one place: the handshake `auth` payload,
 * the `Authorization: Bearer` header, the query string, and the payload of
 * an in-band event (`authenticate`, `auth:refresh`). The JWT strategies and
 * the socketio-jwt drop-in read through these, so a rule (a `Bearer `
 * prefix, a repeated parameter, an empty payload) is written once.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { AuthError } from '../../src/errors.js';
import type { HandshakeContext } from '../../src/types.js';

const BEARER = /^bearer\s+/i;

/** Returns the token without a `Bearer ` prefix; non-strings pass through for the verifier to refuse. */
export function stripBearer(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const prefix = BEARER.exec(value);
  return prefix === null ? value : value.slice(prefix[0].length);
}

/**
 * Takes a token from a request, or `null` when it carries none. Any
 * passport-jwt extractor (`ExtractJwt.fromHeader(...)`, …) fits: it is
 * declared as a method so an extractor typed for express's `Request` is
 * accepted for the handshake's `IncomingMessage`, which it reads the same way.
 */
export type TokenExtractor = {
  /** Reads the token from the handshake request; `null` or `undefined` when it carries none. */
  extract(request: IncomingMessage): string | null | undefined;
}['extract'];

const SCHEME_AND_VALUE = /(\S+)\s+(\S+)/;

/**
 * The default extractor of the header strategy: `Authorization: Bearer <token>`,
 * parsed as passport-jwt's `fromAuthHeaderAsBearerToken()` does, so an app
 * moving from an HTTP API protected by passport-jwt reads tokens the same way.
 */
export function fromBearerHeader(request: IncomingMessage): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return null;
  const parts = SCHEME_AND_VALUE.exec(header);
  return parts !== null && parts[1]!.toLowerCase() === 'bearer' ? parts[2]! : null;
}

/** True for an `Authorization` header that says `Bearer` (with or without a token after it). */
export function isBearerHeader(header: unknown): boolean {
  return typeof header === 'string' && /^bearer(\s|$)/i.test(header);
}

/** The token in `handshake.auth[field]`, `undefined` when the field is absent or empty (the strategy passes). */
export function authPayloadToken(ctx: HandshakeContext, field: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(ctx.auth, field)) return undefined;
  const raw = ctx.auth[field];
  return raw === null ? undefined : raw;
}

/** How often `name` occurs in a request URL's query: Engine.IO's parsed query keeps only the last copy. */
export function countQueryParameter(url: string | undefined, name: string): number {
  const q = url?.indexOf('?') ?? -1;
  return q === -1 ? 0 : new URLSearchParams(url!.slice(q + 1)).getAll(name).length;
}

/** True when the query parameter `name` came more than once (parsed as an array, or repeated in the raw URL). */
export function isRepeatedQueryParameter(ctx: HandshakeContext, name: string): boolean {
  return Array.isArray(ctx.query[name]) || countQueryParameter(ctx.request.url, name) > 1;
}

/**
 * The token of an in-band event payload (`authenticate`, `auth:refresh`):
 * `{ token }`, or a bare string as some socketio-jwt clients send it. Nothing
 * there is `credentials_required`; anything else is handed to the verifier,
 * which refuses non-strings with `credentials_bad_format`.
 */
export function eventPayloadToken(payload: unknown): unknown {
  if (typeof payload === 'string') return payload;
  if (payload === undefined || payload === null) return new AuthError('credentials_required', 'no token was sent');
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    return new AuthError('credentials_bad_format', 'send { token } or the token as a string');
  }
  if (!Object.prototype.hasOwnProperty.call(payload, 'token')) return new AuthError('credentials_required', 'no token was sent');
  const token = (payload as { token: unknown }).token;
  return token === undefined || token === null ? new AuthError('credentials_required', 'no token was sent') : token;
}
