/**
 * Reads a token that may carry an RFC 6750 `Bearer ` prefix, and the
 * `Authorization: Bearer <token>` header itself. Shared by the strategies
 * whose clients are used to sending the header form everywhere.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';

const BEARER = /^bearer\s+/i;

/** Returns the token without a `Bearer ` prefix; non-strings pass through for the verifier to refuse. */
export function stripBearer(value: unknown): unknown {
  // A JWT starts with `e` (`{"` in base64url): one character test spares it the regex on every handshake.
  if (typeof value !== 'string' || (value.charCodeAt(0) | 0x20) !== 0x62 /* b or B */) return value;
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

/** `Authorization: Bearer <token>`, parsed as passport-jwt's `fromAuthHeaderAsBearerToken()` does. */
export function fromBearerHeader(request: IncomingMessage): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return null;
  const parts = SCHEME_AND_VALUE.exec(header);
  return parts !== null && parts[1]!.toLowerCase() === 'bearer' ? parts[2]! : null;
}
