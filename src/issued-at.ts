/**
 * When a credential was issued, as the revocation ledger reads it: the
 * strategy's explicit `issuedAt`, else a JWT's `iat` from the claims. Kept
 * apart so the handshake, renewal, recovery and the mode-`all` merge agree,
 * and so a JWT socket keeps no Date of its own for it (its claims already
 * hold the time).
 *
 * @module
 */
import { isNumericDate } from './time.js';
import type { Claims } from './types.js';

/** The parts of an `AuthSuccess` or a `socket.data.auth` that tell the issue time. */
export interface IssuedAtSource {
  issuedAt?: Date | null | undefined;
  claims?: Claims | undefined;
}

/**
 * Ms epoch the credential was issued, or undefined for unknown age: an
 * explicit `issuedAt` wins (`null`, or an Invalid Date, is unknown age);
 * without one, a finite numeric `claims.iat` (seconds).
 */
export function issuedAtMs(source: IssuedAtSource): number | undefined {
  const { issuedAt } = source;
  if (issuedAt !== undefined) {
    const ms = issuedAt instanceof Date ? issuedAt.getTime() : Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  }
  const iat = source.claims?.iat;
  // Beyond what a Date can hold the time is meaningless, so the age is unknown.
  return isNumericDate(iat) ? iat * 1000 : undefined;
}
