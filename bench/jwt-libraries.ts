/**
 * Cost of one JWT verify per library and algorithm, for the choice of the
 * verifier's library (docs/libraries.md): jsonwebtoken 9, fast-jwt 6, jose 6
 * (async), node:crypto's Ed25519 verify alone (the signature step sockpass
 * adds for EdDSA), and sockpass's own verifier as the strategies run it.
 * Every case verifies the same claims with a key prepared once; the cases run
 * interleaved, in an order rotated each round, so a slow moment of a loaded
 * machine falls on all of them; the figure is the median over rounds of the
 * process's CPU time per verify.
 *
 * Run: `npx tsx bench/jwt-libraries.ts` (BENCH_ROUNDS, BENCH_VERIFIES). The last lines print
 * what each algorithm adds to a sockpass handshake over HS256.
 *
 * @module
 */
import { createPrivateKey, createSecretKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import jwt from 'jsonwebtoken';
import { createJwtVerifier, type JwtAlgorithm } from '../strategies/jwt/verifier.js';
import { median } from './stats.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const VERIFIES = Number(process.env.BENCH_VERIFIES ?? 400);

type Alg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
interface Pair { sign: KeyObject; verify: KeyObject; pem: string }

const hs = createSecretKey(Buffer.from('bench-secret-that-is-long-enough-for-hs256!'));
const asymmetric = (type: 'rsa' | 'ec' | 'ed25519'): Pair => {
  const { privateKey, publicKey } =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('ed25519');
  return { sign: privateKey, verify: publicKey, pem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
};
const keys: Record<Alg, Pair> = {
  HS256: { sign: hs, verify: hs, pem: hs.export().toString() },
  RS256: asymmetric('rsa'),
  ES256: asymmetric('ec'),
  EdDSA: asymmetric('ed25519'),
};

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
function tokenFor(alg: Alg): string {
  const claims = { sub: 'user-1', jti: 'token-1', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600 };
  if (alg !== 'EdDSA') return jwt.sign(claims, keys[alg].sign, { algorithm: alg });
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), createPrivateKey(keys.EdDSA.sign.export({ format: 'pem', type: 'pkcs8' }))).toString('base64url')}`;
}

type Verify = (token: string) => unknown;
const cases: Array<{ library: string; alg: Alg; verify: Verify; token: string }> = [];
for (const alg of ['HS256', 'RS256', 'ES256', 'EdDSA'] as const) {
  const token = tokenFor(alg);
  const key = keys[alg].verify;
  const add = (library: string, fn: Verify) => cases.push({ library, alg, verify: fn, token });
  if (alg !== 'EdDSA') add('jsonwebtoken 9', (t) => jwt.verify(t, key, { algorithms: [alg] }));
  const fast = createVerifier({ key: alg === 'HS256' ? keys.HS256.pem : keys[alg].pem, algorithms: [alg] });
  add('fast-jwt 6', (t) => fast(t));
  add('jose 6', (t) => jwtVerify(t, key, { algorithms: [alg] }));
  if (alg === 'EdDSA') {
    add('node:crypto signature only', (t) => {
      const dot = t.lastIndexOf('.');
      return verify(null, Buffer.from(t.slice(0, dot)), key, Buffer.from(t.slice(dot + 1), 'base64url'));
    });
  }
  const sockpass = createJwtVerifier({ secret: key, algorithms: [alg as JwtAlgorithm] });
  add('sockpass verifier', (t) => sockpass.verify(t));
}

/** CPU time (all threads: jose's WebCrypto runs on the thread pool), so a busy machine that preempts this process does not inflate it. */
async function once(c: (typeof cases)[number]): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < VERIFIES; i++) {
    const result = c.verify(c.token);
    if (result instanceof Promise) await result;
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / VERIFIES;
}

// Each case checked once: a bench of a verify that refuses its token would measure the refusal.
for (const c of cases) {
  const out = await c.verify(c.token);
  if (out === false || (typeof out === 'object' && out !== null && 'kind' in out && out.kind !== 'success')) {
    throw new Error(`${c.library} ${c.alg} refused its own token`);
  }
}
const samples = cases.map(() => [] as number[]);
for (let round = 0; round < ROUNDS + 2; round++) {
  for (let j = 0; j < cases.length; j++) {
    const i = (j + round) % cases.length;
    const us = await once(cases[i]!);
    if (round >= 2) samples[i]!.push(us); // two warm-up rounds
  }
}
console.log(`CPU µs per verify, median of ${ROUNDS} interleaved rounds of ${VERIFIES} (node ${process.version})`);
const libraries = [...new Set(cases.map((c) => c.library))];
console.log(['library'.padEnd(28), ...(['HS256', 'RS256', 'ES256', 'EdDSA'] as const).map((a) => a.padStart(8))].join(''));
for (const library of libraries) {
  const cell = (alg: Alg) => {
    const i = cases.findIndex((c) => c.library === library && c.alg === alg);
    return (i < 0 ? '—' : median(samples[i]!).toFixed(1)).padStart(8);
  };
  console.log([library.padEnd(28), cell('HS256'), cell('RS256'), cell('ES256'), cell('EdDSA')].join(''));
}
// What a handshake pays for its algorithm over HS256: the verifier is the only step that differs.
const sockpassCost = (alg: Alg) => median(samples[cases.findIndex((c) => c.library === 'sockpass verifier' && c.alg === alg)]!);
for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
  console.log(`sockpass jwt-auth ${alg} handshake: +${(sockpassCost(alg) - sockpassCost('HS256')).toFixed(1)} µs of server CPU over HS256 (${sockpassCost(alg).toFixed(1)} µs per verify)`);
}
