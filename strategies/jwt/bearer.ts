/**
 * Reads a token that may carry an RFC 6750 `Bearer ` prefix. Shared by the
 * strategies whose clients are used to sending the header form everywhere.
 *
 * @module
 */

const BEARER = /^bearer\s+/i;

/** Returns the token without a `Bearer ` prefix; non-strings pass through for the verifier to refuse. */
export function stripBearer(value: unknown): unknown {
  // A JWT starts with `e` (`{"` in base64url): one character test spares it the regex on every handshake.
  if (typeof value !== 'string' || (value.charCodeAt(0) | 0x20) !== 0x62 /* b or B */) return value;
  const prefix = BEARER.exec(value);
  return prefix === null ? value : value.slice(prefix[0].length);
}
