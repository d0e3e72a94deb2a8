/**
 * Generated hostile handshakes against one server running every token
 * strategy: each is refused with a typed code (or, when Socket.IO itself
 * rejects the packet, never admitted), the server keeps serving, a valid
 * client connects in between, and nothing rejects unhandled.
 */
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_ERROR_CODES, SockPass, jwtAuth, jwtHeader, jwtQuery } from 'sockpass';
import { rawHandshake, type RawOutcome } from '../helpers/raw-client.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], maxTokenBytes: 4096 }))
    .use('jwt-query', jwtQuery({ secret: SECRET, algorithms: ['HS256'], warnUrlLogging: false }))
    .use('jwt-header', jwtHeader({ secret: SECRET, algorithms: ['HS256'] }));
  server = await startServer((io) => io.use(auth.middleware(['jwt-auth', 'jwt-query', 'jwt-header'])));
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server?.close();
});

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const parts = (t: string) => t.split('.') as [string, string, string];

/** Ways to spoil a valid token. */
const spoiledToken = fc.oneof(
  fc.nat().map((n) => {
    const t = hs256();
    return t.slice(0, n % t.length);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...'ABCxyz019-_.='.split(''))).map(([n, ch]) => {
    const t = hs256();
    const i = n % t.length;
    return t.slice(0, i) + ch + t.slice(i + 1);
  }),
  fc.string({ minLength: 1, maxLength: 40 }).map((secret) => hs256({}, {}, secret)),
  fc.constantFrom('none', 'None', 'NONE', 'HS512', 'RS256', 'ES256', 'hs256', '', 'PS256').map((alg) => {
    const [, p, s] = parts(hs256());
    return `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${p}.${alg.toLowerCase() === 'none' ? '' : s}`;
  }),
  fc.string({ maxLength: 20 }).map((sub) => {
    const [h, , s] = parts(hs256());
    return `${h}.${b64(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 60 }))}.${s}`;
  }),
  fc.constant(null).map(() => {
    const [h, p, s] = parts(hs256());
    return `${Buffer.from(Buffer.from(h, 'base64url')).toString('base64')}.${p}.${s}`;
  }),
  fc.string({ maxLength: 300 }),
  fc.string({ minLength: 5000, maxLength: 6000 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);

const pollutionKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'token');

/** A handshake, and how to send it. */
type Case =
  | { via: 'client-auth'; auth: unknown }
  | { via: 'client-query'; query: Record<string, string> }
  | { via: 'client-header'; header: string }
  | { via: 'raw'; query?: string; authText?: string; authBytes?: Buffer; headers?: Record<string, string> };

const cases: fc.Arbitrary<Case> = fc.oneof(
  spoiledToken.map((token) => ({ via: 'client-auth', auth: { token } }) as Case),
  spoiledToken.map((token) => ({ via: 'client-query', query: { token } }) as Case),
  spoiledToken.map((token) => ({ via: 'client-header', header: `Bearer ${token}` }) as Case),
  fc.anything({ maxDepth: 4, withObjectString: true, withNullPrototype: true }).map((token) => ({ via: 'client-auth', auth: { token } }) as Case),
  fc.dictionary(pollutionKeys, fc.anything({ maxDepth: 2 })).map((auth) => ({ via: 'client-auth', auth }) as Case),
  fc.nat({ max: 20_000 }).map(
    (depth) => ({ via: 'raw', authText: `${'{"token":'.repeat(depth)}"deep"${'}'.repeat(depth)}` }) as Case,
  ),
  fc.array(spoiledToken, { minLength: 2, maxLength: 4 }).map(
    (tokens) => ({ via: 'raw', query: tokens.map((t) => `token=${encodeURIComponent(t)}`).join('&') }) as Case,
  ),
  fc.string({ maxLength: 200 }).map((s) => ({ via: 'raw', authText: s }) as Case),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ via: 'raw', authBytes: Buffer.from(bytes) }) as Case),
  fc.nat({ max: 30_000 }).map((n) => ({ via: 'raw', headers: { authorization: `Bearer ${'a'.repeat(n)}` } }) as Case),
  fc.string({ maxLength: 100 }).map((s) => ({ via: 'raw', headers: { cookie: `token=${encodeURIComponent(s)}; ${'x'.repeat(s.length)}=1` } }) as Case),
  fc.constant({ via: 'raw', authText: '{"__proto__":{"polluted":true},"token":{"__proto__":{"length":1}}}' } as Case),
);

/** What jsonwebtoken itself says of a string: the oracle for "should this connect?". */
function verifies(token: unknown): boolean {
  if (typeof token !== 'string') return false;
  let t = token.replace(/^bearer\s+/i, '');
  if (Buffer.byteLength(t) > 4096) return false;
  try {
    const payload = jwt.verify(t, SECRET, { algorithms: ['HS256'] });
    return typeof payload === 'object';
  } catch {
    return false;
  }
}

/** Characters Node's HTTP client refuses to put in a header: such a handshake can never be sent. */
const UNSENDABLE_HEADER = /[^\t\x20-\x7e\x80-\xff]/;

async function send(c: Case): Promise<{ outcome: string; shouldConnect: boolean; typed: boolean }> {
  if (c.via === 'client-header' && UNSENDABLE_HEADER.test(c.header)) {
    return { outcome: 'closed: header cannot be sent', shouldConnect: false, typed: true };
  }
  if (c.via === 'raw' && Object.values(c.headers ?? {}).some((v) => UNSENDABLE_HEADER.test(v))) {
    return { outcome: 'closed: header cannot be sent', shouldConnect: false, typed: true };
  }
  if (c.via === 'raw') {
    const o: RawOutcome = await rawHandshake(server.url, c);
    // Socket.IO/ws/Node may refuse malformed protocol before sockpass runs (bad JSON, invalid UTF-8, 431,
    // a payload that starts with '/' and so names a namespace that does not exist).
    if (o.kind === 'refused' && o.code === undefined && o.message === 'Invalid namespace') {
      return { outcome: 'closed: invalid namespace', shouldConnect: false, typed: true };
    }
    const outcome = o.kind === 'connected' ? 'connected' : o.kind === 'refused' ? (o.code ?? 'untyped') : `closed: ${o.detail}`;
    return { outcome, shouldConnect: false, typed: o.kind !== 'refused' || o.code !== undefined };
  }
  const opts =
    c.via === 'client-auth'
      ? { auth: c.auth as Record<string, unknown> }
      : c.via === 'client-query'
        ? { query: c.query }
        : { extraHeaders: { authorization: c.header } };
  const token = c.via === 'client-auth' ? (c.auth as Record<string, unknown> | null)?.token : c.via === 'client-query' ? c.query.token : c.header;
  const hasOwnToken = c.via !== 'client-auth' || (typeof c.auth === 'object' && c.auth !== null && Object.prototype.hasOwnProperty.call(c.auth, 'token'));
  let outcome: string;
  try {
    outcome = await codeOf(server.client('/', opts), 5000);
  } catch (e) {
    outcome = `hang: ${(e as Error).message}`;
  }
  return { outcome, shouldConnect: hasOwnToken && verifies(token), typed: true };
}

describe('generated hostile handshakes', () => {
  it('refuses 300 generated handshakes with typed codes, keeps serving, and leaks no rejection', async () => {
    const seen = new Map<string, number>();
    let count = 0;
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const { outcome, shouldConnect, typed } = await send(c);
        const key = outcome.startsWith('closed') ? 'closed by transport' : outcome;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        expect(outcome.startsWith('hang')).toBe(false);
        if (shouldConnect) {
          expect(outcome).toBe('connected');
        } else {
          expect(outcome).not.toBe('connected');
          expect(typed).toBe(true);
          if (!outcome.startsWith('closed')) expect(AUTH_ERROR_CODES).toContain(outcome);
        }
        if (++count % 50 === 0) {
          expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
        }
      }),
      { numRuns: 300 },
    );
    expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
    expect(unhandled).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Most cases must reach sockpass and get a code, not just a closed transport.
    const typedCount = [...seen].filter(([k]) => AUTH_ERROR_CODES.includes(k as never)).reduce((a, [, n]) => a + n, 0);
    expect(typedCount).toBeGreaterThan(200);
    console.log('outcomes of 300 generated handshakes:', Object.fromEntries(seen));
  }, 120_000);
});
