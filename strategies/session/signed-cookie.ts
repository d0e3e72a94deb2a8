/**
 * The signature on a session cookie, checked the way the session framework
 * itself checks it: `value.signature` with the signature an HMAC-SHA256 of
 * the value in base64 without padding (cookie-signature, which express-session
 * uses, and @fastify/cookie's signer, which @fastify/session uses), tried
 * against each secret in turn so a rotated-out secret still reads old cookies.
 *
 * Checking it here, with the app's secret, makes "forged cookie" and "valid
 * cookie, no such session" two answers that never depend on how or when a
 * store replies.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** One secret or several (the first signs, every one verifies), as express-session and @fastify/session take them. */
export type CookieSecret = string | Buffer | readonly (string | Buffer)[];

/** What a raw cookie value says about the session it names. */
export type CookieSessionId =
  | {
      /** The signature is valid for one of the secrets. */
      kind: 'verified';
      /** The session id the cookie names. */
      sid: string;
    }
  | {
      /** Shaped as a signed cookie; its signature is left for the session framework to check while it loads the session. */
      kind: 'claimed';
      /** The session id the cookie claims. */
      sid: string;
    }
  | {
      /** Not a signed session id of this framework's format. */
      kind: 'bad_format';
    }
  | {
      /** Signed, but with none of the secrets. */
      kind: 'bad_signature';
    };

/** Turns `secret` into the list of keys to try, once, at configuration; throws on an empty or non-string secret. */
export function prepareSecrets(secret: CookieSecret, option = 'secret'): Buffer[] {
  const list = (Array.isArray(secret) ? secret : [secret]) as readonly unknown[];
  if (list.length === 0) throw new TypeError(`sockpass: \`${option}\` is empty; give the secret(s) the session middleware signs with`);
  return list.map((entry) => {
    if (typeof entry === 'string' && entry.length > 0) return Buffer.from(entry);
    if (Buffer.isBuffer(entry) && entry.length > 0) return entry;
    throw new TypeError(`sockpass: \`${option}\` must be a non-empty string or Buffer, or a list of them`);
  });
}

/** `value.signature` → value when the signature is valid for one of `secrets`, else undefined. Constant time per secret. */
export function unsignCookieValue(signed: string, secrets: readonly Buffer[]): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, ''));
    // Every secret is tried, so the time taken does not tell which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid ? value : undefined;
}

/** The `value.signature` shape, before anyone checks the signature: the value, or undefined when there is no signature part. */
export function claimedValue(signed: string): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0 || dot === signed.length - 1) return undefined;
  return signed.slice(0, dot);
}
