/**
 * The benchmark's keys and tokens. The orchestrator makes an RSA pair once
 * per run and hands the public half to the server processes in the
 * environment; every client gets its own token (distinct `sub` and `jti`),
 * so no server can get away with a cache.
 *
 * @module
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Algorithm } from './scenarios.js';

export const HS_SECRET = 'bench-secret-that-is-long-enough-for-hs256!';

export const RSA_PUBLIC_ENV = 'SOCKPASS_BENCH_RSA_PUBLIC_KEY';

export function makeRsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** The RSA public key a server process verifies with. */
export function rsaPublicKey(): string {
  const pem = process.env[RSA_PUBLIC_ENV];
  if (pem === undefined || !pem.includes('BEGIN PUBLIC KEY')) throw new Error(`bench: ${RSA_PUBLIC_ENV} is not set`);
  return pem;
}

/** `count` tokens, one per client, valid for an hour, each for its own user. */
export function signTokens(count: number, algorithm: Algorithm, privateKey: string): string[] {
  const key = algorithm === 'HS256' ? HS_SECRET : privateKey;
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    tokens.push(jwt.sign({ sub: `user-${i}`, name: `User ${i}`, scope: 'echo' }, key, { algorithm, expiresIn: '1h', jwtid: randomUUID() }));
  }
  return tokens;
}
