/**
 * The benchmark's keys and tokens. The orchestrator makes an RSA pair once
 * per run and hands the public half to the server processes in the
 * environment; by default every client gets its own token for its own user
 * (distinct `sub` and `jti`), so no server can get away with a cache and
 * every sockpass socket has its own `user:<id>` room, as in production;
 * `BENCH_USERS=shared` hands every client one token of one user instead.
 *
 * @module
 */
import { createSecretKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Algorithm } from './scenarios.js';

export const HS_SECRET = 'bench-secret-that-is-long-enough-for-hs256!';

/** HS_SECRET as a KeyObject prepared once, as the hand-written middleware holds it. */
export const hsKey = (): KeyObject => createSecretKey(Buffer.from(HS_SECRET));

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

export interface TokenOptions {
  /** One token of one user, repeated `count` times (the shared-user case). */
  shared?: boolean;
  /** User number of the first token (`sub: user-<first + i>`). Default 0. */
  first?: number;
  /** `exp` as seconds since the epoch. Default: an hour from now. */
  exp?: number;
}

/** The `sub` of the bench's user number `i`. */
export const benchUser = (i: number) => `user-${i}`;

/** `count` tokens, one per client, valid for an hour, each for its own user (or one shared token). */
export function signTokens(count: number, algorithm: Algorithm, privateKey: string, options: TokenOptions = {}): string[] {
  const key = algorithm === 'HS256' ? HS_SECRET : privateKey;
  const first = options.first ?? 0;
  const exp = options.exp ?? Math.floor(Date.now() / 1000) + 3600;
  const sign = (i: number) =>
    jwt.sign({ sub: benchUser(i), name: `User ${i}`, scope: 'echo', exp }, key, { algorithm, jwtid: randomUUID() });
  if (options.shared) return new Array<string>(count).fill(sign(first));
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(sign(first + i));
  return tokens;
}
