import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtHeader, jwtQuery } from 'sockpass';
import { SECRET, rsa } from '../helpers/tokens.js';

describe('misconfiguration throws when the app configures it', () => {
  it('refuses a missing or empty algorithms allowlist, and "none"', () => {
    expect(() => jwtAuth({ secret: SECRET } as never)).toThrow(/algorithms/);
    expect(() => jwtAuth({ secret: SECRET, algorithms: [] })).toThrow(/algorithms/);
    expect(() => jwtAuth({ secret: SECRET, algorithms: ['none' as never] })).toThrow(/not allowed/);
  });

  it('refuses an algorithm jsonwebtoken cannot verify (HS999, EdDSA) at configuration, not at every token', () => {
    for (const alg of ['HS999', 'EdDSA', 'hs256', 'RS256 ']) {
      expect(() => jwtAuth({ secret: SECRET, algorithms: [alg as never] }), alg).toThrow(/algorithm/);
    }
    expect(() => jwtAuth({ secret: SECRET, algorithms: ['HS256', 'HS384', 'HS512'] })).not.toThrow();
  });

  it('refuses a missing or empty secret', () => {
    expect(() => jwtHeader({ algorithms: ['HS256'] } as never)).toThrow(/secret/);
    expect(() => jwtHeader({ secret: '', algorithms: ['HS256'] })).toThrow(/empty/);
    expect(() => jwtQuery({ secret: Buffer.alloc(0), algorithms: ['HS256'], warnUrlLogging: false })).toThrow(/empty/);
  });

  it('refuses a key that does not fit the algorithms, and mixed families', () => {
    expect(() => jwtAuth({ secret: rsa.publicKey, algorithms: ['HS256'] })).toThrow(/HS256/);
    expect(() => jwtAuth({ secret: SECRET, algorithms: ['RS256'] })).toThrow(/RS256/);
    expect(() => jwtAuth({ secret: SECRET, algorithms: ['HS256', 'RS256'] })).toThrow(/mix/);
  });

  it('accepts a string, a Buffer, a KeyObject and a private key (using its public half)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => jwtAuth({ secret: SECRET, algorithms: ['HS256'] })).not.toThrow();
    expect(() => jwtAuth({ secret: Buffer.from(SECRET), algorithms: ['HS512'] })).not.toThrow();
    expect(() => jwtAuth({ secret: publicKey, algorithms: ['ES256'] })).not.toThrow();
    expect(() => jwtAuth({ secret: privateKey, algorithms: ['ES256'] })).not.toThrow();
  });

  it('refuses duplicate, malformed and unknown strategy names', () => {
    const auth = new SockPass().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    expect(() => auth.use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))).toThrow(/already/);
    expect(() => auth.use('', { authenticate: async () => ({ kind: 'pass' }) })).toThrow(/invalid strategy name/);
    expect(() => auth.use('x', {} as never)).toThrow(/authenticate/);
    expect(() => auth.middleware(['jwt', 'nope'])).toThrow(/no strategy registered as "nope"/);
    expect(() => auth.middleware([])).toThrow(/at least one/);
    expect(() => auth.middleware(['jwt', 'jwt'])).toThrow(/twice/);
    expect(() => auth.middleware('jwt', { mode: 'some' as never })).toThrow(/mode/);
  });

  it('chains use() and returns the registry', () => {
    const auth = new SockPass();
    expect(auth.use('a', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))).toBe(auth);
    expect(auth.get('a')).toBeDefined();
  });
});
