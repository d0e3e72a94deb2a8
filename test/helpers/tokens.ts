/** Signs test tokens with real keys: an HS256 secret and an RS256 key pair made once per test file. */
import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import jwt from 'jsonwebtoken';

export const SECRET = 'test-secret-that-is-long-enough-for-hs256!';

export const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

function signOptions(claims: Record<string, unknown>, options: jwt.SignOptions, algorithm: jwt.Algorithm): jwt.SignOptions {
  return { algorithm, ...(claims.exp === undefined ? { expiresIn: 60 } : {}), ...options };
}

export function hs256(claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}, secret: string = SECRET): string {
  return jwt.sign({ sub: 'alice', ...claims }, secret, signOptions(claims, options, 'HS256'));
}

export function rs256(claims: Record<string, unknown> = {}, options: jwt.SignOptions = {}): string {
  return jwt.sign({ sub: 'alice', ...claims }, rsa.privateKey, signOptions(claims, options, 'RS256'));
}

/**
 * Hand-made HS256 token with any byte string as the HMAC key: the
 * algorithm-confusion attack signs with the server's RSA public key PEM,
 * which jsonwebtoken itself refuses to do.
 */
export function forgeHs256(claims: Record<string, unknown>, key: string, header: Record<string, unknown> = {}): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${enc({ alg: 'HS256', typ: 'JWT', ...header })}.${enc({ sub: 'alice', iat: now, exp: now + 60, ...claims })}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** An unsigned token (`alg: none`), as an attacker would send it. */
export function unsigned(claims: Record<string, unknown> = {}): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'alice', iat: now, exp: now + 60, ...claims })}.`;
}

/**
 * Signs any payload text as it stands (HS256 with SECRET, or RS256 with the
 * test key pair): jsonwebtoken's sign() refuses payloads an attacker's issuer
 * could still produce, such as a top-level `__proto__` claim.
 */
export function signRawPayload(payload: string, alg: 'HS256' | 'RS256' = 'HS256'): string {
  const body = `${Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const signature =
    alg === 'HS256' ? createHmac('sha256', SECRET).update(body).digest('base64url') : cryptoSign('sha256', Buffer.from(body), rsa.privateKey).toString('base64url');
  return `${body}.${signature}`;
}

/** An Ed25519 key pair made once per test file, for EdDSA. */
export const ed25519 = generateKeyPairSync('ed25519', {
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

/**
 * An EdDSA token (jsonwebtoken 9 cannot sign one): `expiresIn` seconds from
 * now unless the claims set `exp`, signed with `privateKey` (default the
 * file's Ed25519 key), with any extra header fields (`kid`).
 */
export function edDsa(
  claims: Record<string, unknown> = {},
  options: { header?: Record<string, unknown>; privateKey?: string | import('node:crypto').KeyObject; expiresIn?: number } = {},
): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${enc({ alg: 'EdDSA', typ: 'JWT', ...options.header })}.${enc({ sub: 'alice', iat: now, exp: now + (options.expiresIn ?? 60), ...claims })}`;
  return `${body}.${cryptoSign(null, Buffer.from(body), options.privateKey ?? ed25519.privateKey).toString('base64url')}`;
}
