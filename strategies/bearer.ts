/**
 * Reads a token that may carry an RFC 6750 `Bearer ` prefix. Shared by the
 * strategies whose clients are used to sending the header form everywhere.
 *
 * @module
 */

const BEARER = /^bearer\s+/i;

/** Returns the token without a `Bearer ` prefix; non-strings pass through for the verifier to refuse. */
export function stripBearer(value: unknown): unknown {
  return typeof value === 'string' && BEARER.test(value) ? value.replace(BEARER, '') : value;
}
