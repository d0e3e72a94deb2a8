/**
 * The limiter's keys come from attacker-controlled input (the unverified
 * token, a proxy header): whatever arrives, reading them never throws and
 * never yields an unbounded key.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HandshakeContext } from 'sockpass';
import { clientAddress, namedSubjects } from '../../src/handshake/rate-limit.js';
import { hs256 } from '../helpers/tokens.js';

function context(parts: { auth?: Record<string, unknown>; headers?: Record<string, string | string[]>; query?: Record<string, string | string[]> }): HandshakeContext {
  return {
    auth: parts.auth ?? {},
    headers: parts.headers ?? {},
    query: parts.query ?? {},
    cookies: {},
    origin: undefined,
    address: '203.0.113.7',
    namespace: '/',
    secure: false,
    request: undefined as never,
    forgetQueryParameter() {},
  };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('rate-limit keys from hostile input', () => {
  it('reads the unverified sub of every token wherever the JWT strategies read one', () => {
    const token = hs256({ sub: 'victim' });
    expect(namedSubjects(context({ auth: { token } }))).toEqual(['victim']);
    expect(namedSubjects(context({ auth: { token: `Bearer ${token}` } }))).toEqual(['victim']);
    expect(namedSubjects(context({ headers: { authorization: `Bearer ${token}` } }))).toEqual(['victim']);
    expect(namedSubjects(context({ query: { token } }))).toEqual(['victim']);
    expect(namedSubjects(context({ auth: { token: hs256({ sub: 'x'.repeat(300) }) } }))).toEqual([]);
    // A decoy beside the sender's own token hides neither subject.
    expect(namedSubjects(context({ auth: { token }, headers: { authorization: `Bearer ${hs256({ sub: 'mallory' })}` }, query: { token } }))).toEqual([
      'victim',
      'mallory',
    ]);
  });

  it('never throws and never returns an unbounded subject, whatever the token holds', () => {
    const payload = fc.oneof(fc.jsonValue().map(b64), fc.record({ sub: fc.anything() }).map(b64), fc.string());
    const token = fc.oneof(fc.string(), fc.tuple(fc.string(), payload, fc.string()).map((p) => p.join('.')), fc.anything());
    fc.assert(
      fc.property(token, fc.anything(), (t, header) => {
        const subs = namedSubjects(context({ auth: { token: t }, headers: typeof header === 'string' ? { authorization: header } : {} }));
        return subs.length <= 3 && subs.every((sub) => typeof sub === 'string' && sub.length > 0 && sub.length <= 256);
      }),
    );
  });

  it('takes the last entry of the trusted proxy header, bounded, and the handshake address otherwise', () => {
    expect(clientAddress(context({ headers: { 'x-forwarded-for': 'spoofed, 198.51.100.1' } }), 'x-forwarded-for')).toBe('198.51.100.1');
    expect(clientAddress(context({ headers: { 'x-forwarded-for': 'spoofed' } }))).toBe('203.0.113.7');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string())), (value) => {
        const address = clientAddress(context({ headers: { 'x-forwarded-for': value } }), 'x-forwarded-for');
        return typeof address === 'string' && address.length > 0 && address.length <= 256;
      }),
    );
  });
});
