import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createJwtVerifier } from '../../strategies/jwt/verifier.js';
import { SECRET, forgeHs256, hs256, rs256, rsa, unsigned } from '../helpers/tokens.js';

const codeOf = async (p: Promise<{ kind: string; error?: { code: string } }>) => {
  const r = await p;
  return r.kind === 'fail' ? r.error!.code : r.kind;
};

describe('shared JWT verifier', () => {
  const hs = createJwtVerifier({ secret: SECRET, algorithms: ['HS256'] });

  it('tells expired from invalid, always', async () => {
    const expiredForged = forgeHs256({ exp: Math.floor(Date.now() / 1000) - 100 }, 'wrong-key');
    expect(await codeOf(hs.verify(expiredForged))).toBe('invalid_token');
    expect(await codeOf(hs.verify(hs256({ exp: Math.floor(Date.now() / 1000) - 100 })))).toBe('token_expired');
  });

  it('honours clockTolerance and maxAge', async () => {
    const lenient = createJwtVerifier({ secret: SECRET, algorithms: ['HS256'], clockTolerance: 30 });
    const justExpired = hs256({ exp: Math.floor(Date.now() / 1000) - 5 });
    expect(await codeOf(lenient.verify(justExpired))).toBe('success');
    const young = createJwtVerifier({ secret: SECRET, algorithms: ['HS256'], maxAge: 10 });
    expect(await codeOf(young.verify(hs256({ iat: Math.floor(Date.now() / 1000) - 60 })))).toBe('token_expired');
  });

  it('refuses alg:none even with an allowlist that would otherwise accept the claims', async () => {
    expect(await codeOf(hs.verify(unsigned()))).toBe('invalid_token');
  });

  it('calls isRevoked and maps user()', async () => {
    const v = createJwtVerifier({
      secret: SECRET,
      algorithms: ['HS256'],
      isRevoked: (c) => c.jti === 'gone',
      user: async (c) => ({ id: String(c.sub) }),
    });
    expect(await codeOf(v.verify(hs256({ jti: 'gone' })))).toBe('token_revoked');
    const ok = await v.verify(hs256({ jti: 'fine' }));
    expect(ok).toMatchObject({ kind: 'success', user: { id: 'alice' } });
  });

  it('returns expiresAt from exp, or null', async () => {
    const r = await hs.verify(jwt.sign({ sub: 'x' }, SECRET, { algorithm: 'HS256', noTimestamp: true }));
    expect(r).toMatchObject({ kind: 'success', expiresAt: null });
  });

  describe('async key resolver (JWKS by kid)', () => {
    const keys = { a: generateKeyPairSync('rsa', { modulusLength: 2048 }), b: generateKeyPairSync('rsa', { modulusLength: 2048 }) };
    const sign = (kid: string, key = keys[kid as 'a'].privateKey) => jwt.sign({ sub: 'k' }, key, { algorithm: 'RS256', keyid: kid });
    const calls: unknown[] = [];
    const v = createJwtVerifier({
      algorithms: ['RS256'],
      keyResolverTimeout: 300,
      secret: async ({ header }) => {
        calls.push(header);
        if (header.kid === 'boom') throw new Error('jwks endpoint down');
        if (header.kid === 'never') return new Promise(() => {}) as never;
        const pair = keys[header.kid as 'a' | 'b'];
        if (!pair) throw new Error('unknown kid');
        return pair.publicKey;
      },
    });

    it('picks the key by kid', async () => {
      expect(await codeOf(v.verify(sign('a')))).toBe('success');
      expect(await codeOf(v.verify(sign('b')))).toBe('success');
      expect(await codeOf(v.verify(sign('a', keys.b.privateKey)))).toBe('invalid_token');
    });

    it('fails with key_unavailable at once when the resolver throws', async () => {
      expect(await codeOf(v.verify(sign('boom', keys.a.privateKey)))).toBe('key_unavailable');
      expect(await codeOf(v.verify(sign('zzz', keys.a.privateKey)))).toBe('key_unavailable');
    });

    it('fails with key_unavailable when the resolver never answers, within keyResolverTimeout', async () => {
      const started = Date.now();
      expect(await codeOf(v.verify(sign('never', keys.a.privateKey)))).toBe('key_unavailable');
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('never calls the resolver with a malformed header or a disallowed algorithm', async () => {
      calls.length = 0;
      expect(await codeOf(v.verify('garbage'))).toBe('invalid_token');
      expect(await codeOf(v.verify(hs256()))).toBe('invalid_token');
      expect(await codeOf(v.verify(unsigned()))).toBe('invalid_token');
      expect(calls).toHaveLength(0);
    });

    it('refuses a resolver key that does not fit the token algorithm (algorithm confusion)', async () => {
      const confusing = createJwtVerifier({ algorithms: ['RS256'], secret: () => SECRET });
      expect(await codeOf(confusing.verify(rs256()))).toBe('key_unavailable');
    });
  });

  it('refuses tokens over maxTokenBytes before decoding them', async () => {
    const v = createJwtVerifier({ secret: rsa.publicKey, algorithms: ['RS256'], maxTokenBytes: 100 });
    expect(await codeOf(v.verify(rs256()))).toBe('token_too_large');
    expect(await codeOf(v.verify('é'.repeat(60)))).toBe('token_too_large');
  });

  it('refuses exactly the strings whose UTF-8 form is over maxTokenBytes (the length shortcut never lets one through)', async () => {
    const max = 100;
    const v = createJwtVerifier({ secret: SECRET, algorithms: ['HS256'], maxTokenBytes: max });
    // Near the limit in every width: ASCII, 2- and 3-byte characters, surrogate pairs and lone surrogates.
    const unit = fc.constantFrom('a', 'é', '€', '😀', '\ud800');
    await fc.assert(
      fc.asyncProperty(fc.array(unit, { minLength: 20, maxLength: 110, size: 'max' }), async (parts) => {
        const token = parts.join('');
        const code = await codeOf(v.verify(token));
        expect(code === 'token_too_large').toBe(Buffer.byteLength(token, 'utf8') > max);
      }),
      { numRuns: 300 },
    );
  });
});
