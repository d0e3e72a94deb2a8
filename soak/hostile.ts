/**
 * Hostile handshakes: at least 1,000 generated with fast-check against every
 * strategy the server mounts — spoiled tokens (truncated, re-signed,
 * re-encoded, `alg` variants, tampered claims), huge and deeply nested `auth`
 * objects, repeated and array query parameters, oversized and non-UTF-8
 * headers and cookies, prototype-pollution keys, invalid UTF-8 frames,
 * hostile `authenticate` events, forged and replayed session cookies. Each
 * must be refused with a typed AuthError code, or closed by the transport
 * before sockpass runs (counted apart); the server must not crash, reject
 * unhandled, pollute a prototype or handle an unauthenticated event; and a
 * valid client of every strategy must connect after every 100 cases.
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { AUTH_ERROR_CODES } from 'sockpass';
import { SECRET, forgeHs256, hs256, rsa, unsigned } from '../test/helpers/tokens.js';
import { connect, cookieOptions, echo, eventOutcome, handshakeOutcome, login, logout, pool, type ClientOptions } from './clients.js';
import { SOAK_ORIGIN } from './pieces.js';
import { spawnServer } from './protocol.js';
import { rawOutcome, type RawCase } from './raw-client.js';
import type { Recorder } from './report.js';

const CASES = 2000;
/** sockpass's AuthError codes, and the codes socketio-jwt clients know (its drop-in keeps them). */
const TYPED_CODES = new Set<string>([...AUTH_ERROR_CODES, 'invalid_secret', 'missing_authorization_header', 'unknown']);
const CONCURRENCY = 8;
const SEED = Number(process.env.SOAK_SEED ?? 20240608);

/** What a case should come to: refused, admitted (it happens to be valid), or either (no security meaning). */
type Expect = 'refused' | 'admitted' | 'either';

type Case = {
  label: string;
  /** Computed when the case is sent, so that a token that expired meanwhile is judged as the server judges it. */
  expect: Expect | (() => Expect);
} & (
  | { via: 'client'; nsp: string; options: ClientOptions }
  | { via: 'event'; payload: unknown; nsp?: string }
  /** An authenticated socket sends this as its in-band refresh (`auth:refresh`). */
  | { via: 'refresh'; payload: unknown; ack: boolean }
  | { via: 'raw'; raw: RawCase }
  /** `event`: the namespace takes its credential with the `authenticate` event (sent empty: the token rides in the cookie). */
  | { via: 'cookie'; cookie: (c: Cookies) => string; origin?: string; nsp?: string; event?: boolean }
);

/** Session cookies prepared before the run: logged in (valid) and logged out (replays). */
interface Cookies {
  valid: string[];
  replayed: string[];
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');
/** HS256 over any payload text with the server's secret: jsonwebtoken's sign() refuses the odd claims we want. */
const signRaw = (payload: string, header: object = { alg: 'HS256', typ: 'JWT' }) => {
  const body = `${b64(JSON.stringify(header))}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
};
const parts = (t: string) => t.split('.') as [string, string, string];
const now = () => Math.floor(Date.now() / 1000);

/** jsonwebtoken's own verdict with the server's settings: the oracle for "should this be admitted?". */
function verifies(token: unknown, maxTokenBytes = 8192, sockpassRules = true): boolean {
  if (typeof token !== 'string') return false;
  const t = token.replace(/^bearer\s+/i, '');
  if (t.length === 0 || Buffer.byteLength(t) > maxTokenBytes) return false;
  try {
    const payload = jwt.verify(t, SECRET, { algorithms: ['HS256'] });
    if (typeof payload !== 'object' || payload === null || (sockpassRules && Array.isArray(payload))) return false;
    // Stricter than jsonwebtoken on purpose (0cebcb2): an exp no Date can hold is refused.
    const exp = (payload as { exp?: unknown }).exp;
    return !sockpassRules || exp === undefined || (typeof exp === 'number' && Number.isFinite(exp) && Math.abs(exp) <= 8.64e12);
  } catch {
    return false;
  }
}

/** Header values Node's HTTP client can send: latin1 bytes (so 0x80–0xff arrive as invalid UTF-8), no CR/LF. */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

/** Ways to spoil a valid token. */
const spoiledToken: fc.Arbitrary<string> = fc.oneof(
  // truncated
  fc.nat().map((n) => {
    const t = hs256();
    return t.slice(0, n % t.length);
  }),
  // one character replaced
  fc.tuple(fc.nat(), fc.constantFrom(...'ABCxyz019-_.=+/ %'.split(''))).map(([n, ch]) => {
    const t = hs256();
    const i = n % t.length;
    return t.slice(0, i) + ch + t.slice(i + 1);
  }),
  // re-signed with another secret
  fc.string({ minLength: 1, maxLength: 40 }).map((secret) => hs256({}, {}, secret === SECRET ? `${secret}x` : secret)),
  // validly signed with the right secret but an algorithm outside the allowlist
  fc.constantFrom<jwt.Algorithm>('HS384', 'HS512').map((algorithm) => jwt.sign({ sub: 'alice' }, SECRET, { algorithm, expiresIn: 60 })),
  // alg header variants on a valid body
  fc.constantFrom('none', 'None', 'NONE', 'nOnE', 'HS512', 'RS256', 'ES256', 'hs256', '', 'PS256', 'HS256 ', 'EdDSA').map((alg) => {
    const [, p, s] = parts(hs256());
    return `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${p}.${alg.toLowerCase() === 'none' ? '' : s}`;
  }),
  fc.constant(null).map(() => unsigned()),
  // algorithm confusion: HS256 keyed with the RSA public key PEM
  fc.constant(null).map(() => forgeHs256({}, rsa.publicKey)),
  // claims tampered under the original signature
  fc.record({ sub: fc.string({ maxLength: 20 }), admin: fc.boolean() }).map((claims) => {
    const [h, , s] = parts(hs256());
    return `${h}.${b64(JSON.stringify({ ...claims, exp: now() + 60 }))}.${s}`;
  }),
  // re-encoded: base64 with padding, standard alphabet, whitespace, case
  fc.constantFrom('std', 'pad', 'space', 'upper', 'newline').map((how) => {
    const [h, p, s] = parts(hs256());
    const std = (x: string) => Buffer.from(x, 'base64url').toString('base64');
    switch (how) {
      case 'std':
        return `${std(h)}.${std(p)}.${std(s)}`;
      case 'pad':
        return `${h}==.${p}.${s}`;
      case 'space':
        return ` ${h}.${p} .${s} `;
      case 'upper':
        return `${h}.${p}.${s}`.toUpperCase();
      default:
        return `${h}.\n${p}.${s}`;
    }
  }),
  // claim edge cases, correctly signed
  fc.constantFrom<Record<string, unknown>>(
    { exp: now() - 30 },
    { exp: '9999999999' },
    { exp: -1 },
    { nbf: now() + 3600 },
    { exp: 1e300 },
    { iat: now() + 3600, exp: now() + 7200 },
  ).map((claims) => signRaw(JSON.stringify({ sub: 'alice', ...claims }))),
  // payload that is not a JSON object
  fc.constantFrom('"a string"', '42', 'null', '[1,2]', '{"sub":', '\u0000', '{"sub":"a","exp":1e999}').map((payload) => signRaw(payload)),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.nat({ max: 4000 }).map((n) => hs256({ pad: 'x'.repeat(6000 + n) })),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);

const pollutionKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'token');

const expectFor = (token: unknown) => (): Expect => (verifies(token) ? 'admitted' : 'refused');
/** A valid token in a header may or may not survive header sanitising: no security meaning either way. */
const lenientFor = (token: unknown, maxTokenBytes?: number, sockpassRules?: boolean) => (): Expect =>
  verifies(token, maxTokenBytes, sockpassRules) ? 'either' : 'refused';

/** The token chain on `/`: jwt-auth, jwt-query, jwt-header. */
const tokenCases: fc.Arbitrary<Case> = fc.oneof(
  spoiledToken.map((token): Case => ({ label: 'auth: spoiled token', expect: expectFor(token), via: 'client', nsp: '/', options: { auth: { token } } })),
  fc.anything({ maxDepth: 4, withObjectString: true, withNullPrototype: true, withBigInt: false }).map(
    (token): Case => ({ label: 'auth: token of any type', expect: expectFor(token), via: 'client', nsp: '/', options: { auth: { token } } }),
  ),
  fc.dictionary(pollutionKeys, fc.anything({ maxDepth: 2 })).map(
    (auth): Case => ({ label: 'auth: prototype-pollution keys', expect: expectFor(auth.token), via: 'client', nsp: '/', options: { auth } }),
  ),
  fc.nat({ max: 60_000 }).map((keys): Case => {
    const auth: Record<string, string> = {};
    for (let i = 0; i < keys; i++) auth[`k${i}`] = 'v';
    // Over maxHttpBufferSize (1 MB) Engine.IO closes the transport before sockpass sees anything.
    return { label: 'auth: huge object', expect: 'refused', via: 'client', nsp: '/', options: { auth: { ...auth, token: 'x' } } };
  }),
  fc.nat({ max: 2_000_000 }).map((n): Case => ({ label: 'auth: huge token string', expect: 'refused', via: 'client', nsp: '/', options: { auth: { token: 'a'.repeat(n + 1) } } })),
  fc.tuple(fc.nat({ max: 20_000 }), fc.boolean()).map(
    ([depth, arrays]): Case => ({
      label: 'auth: deeply nested',
      expect: 'refused',
      via: 'raw',
      raw: { nsp: '/', authText: arrays ? `{"token":${'['.repeat(depth)}${']'.repeat(depth)}}` : `${'{"token":'.repeat(depth + 1)}"deep"${'}'.repeat(depth + 1)}` },
    }),
  ),
  fc.string({ maxLength: 200 }).map((authText): Case => ({ label: 'auth: not JSON', expect: 'refused', via: 'raw', raw: { nsp: '/', authText } })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map(
    (bytes): Case => ({ label: 'auth: invalid UTF-8 bytes', expect: 'refused', via: 'raw', raw: { nsp: '/', authBytes: Buffer.concat([Buffer.from('{"token":"'), Buffer.from(bytes), Buffer.from('"}')]) } }),
  ),
  fc.constant<Case>({
    label: 'auth: __proto__ payload',
    expect: 'refused',
    via: 'raw',
    raw: { nsp: '/', authText: '{"__proto__":{"polluted":true,"token":"x"},"constructor":{"prototype":{"polluted":true}}}' },
  }),
  spoiledToken.map((token): Case => ({ label: 'query: spoiled token', expect: expectFor(token), via: 'client', nsp: '/', options: { query: { token } } })),
  fc.array(spoiledToken, { minLength: 2, maxLength: 4 }).chain((tokens) =>
    fc.constantFrom(
      tokens.map((t) => `token=${encodeURIComponent(t)}`).join('&'),
      tokens.map((t) => `token[]=${encodeURIComponent(t)}`).join('&'),
      `token=${encodeURIComponent(hs256())}&token=${encodeURIComponent(tokens[0]!)}`,
      `token=${encodeURIComponent(tokens[0]!)}&token=${encodeURIComponent(hs256())}`,
    ).map((query): Case => ({ label: 'query: repeated/array token', expect: 'refused', via: 'raw', raw: { nsp: '/', query } })),
  ),
  fc.constantFrom(
    'token[__proto__]=x',
    '__proto__[token]=x',
    '__proto__=x&token=y',
    'constructor[prototype][polluted]=1&token=x',
    'token=%E0%A4%A',
    'token=%ff%fe%fd',
    'token=',
    'token',
    'token=%00',
    `${'a=1&'.repeat(3000)}token=x`,
  ).map((query): Case => ({ label: 'query: hostile parameters', expect: 'refused', via: 'raw', raw: { nsp: '/', query } })),
  spoiledToken.map(
    (token): Case => ({
      label: 'header: spoiled bearer',
      expect: lenientFor(headerSafe(token).trim()),
      via: 'client',
      nsp: '/',
      options: { extraHeaders: { authorization: `Bearer ${headerSafe(token)}` } },
    }),
  ),
  fc.nat({ max: 40_000 }).map((n): Case => ({ label: 'header: oversized', expect: 'refused', via: 'raw', raw: { nsp: '/', headers: { authorization: `Bearer ${'a'.repeat(n)}` } } })),
  fc.uint8Array({ minLength: 1, maxLength: 100 }).map(
    (bytes): Case => ({ label: 'header: invalid UTF-8', expect: 'refused', via: 'raw', raw: { nsp: '/', headers: { authorization: `Bearer ${headerSafe(Buffer.from(bytes).toString('latin1'))}\xff\xfe` } } }),
  ),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer  a b', 'Basic dXNlcjpwYXNz', 'Bearer\tx', 'Token abc', 'Bearer null', `Bearer ${'.'.repeat(50)}`).map(
    (authorization): Case => ({ label: 'header: malformed', expect: 'refused', via: 'raw', raw: { nsp: '/', headers: { authorization } } }),
  ),
);

/** passport-jwt's JwtStrategy behind the adapter, reading `x-access-token`. */
const passportCases: fc.Arbitrary<Case> = fc.oneof(
  spoiledToken.map(
    (token): Case => ({
      label: 'passport: spoiled token',
      // passport-jwt verifies with jsonwebtoken alone: sockpass's maxTokenBytes and exp range belong to its JWT strategies.
      expect: lenientFor(headerSafe(token), Infinity, false),
      via: 'client',
      nsp: '/passport',
      options: { extraHeaders: { 'x-access-token': headerSafe(token) } },
    }),
  ),
  fc.nat({ max: 40_000 }).map((n): Case => ({ label: 'passport: oversized header', expect: 'refused', via: 'raw', raw: { nsp: '/passport', headers: { 'x-access-token': 'a'.repeat(n) } } })),
  fc.uint8Array({ minLength: 1, maxLength: 100 }).map(
    (bytes): Case => ({ label: 'passport: invalid UTF-8 header', expect: 'refused', via: 'raw', raw: { nsp: '/passport', headers: { 'x-access-token': `${headerSafe(Buffer.from(bytes).toString('latin1'))}\xc3\x28` } } }),
  ),
);

/** The `authenticate` event on `/event` (after a handshake with no token). */
const eventCases: fc.Arbitrary<Case> = fc.oneof(
  spoiledToken.map((token): Case => ({ label: 'event: spoiled token', expect: expectFor(token), via: 'event', payload: { token } })),
  spoiledToken.map((token): Case => ({ label: 'event: bare string', expect: expectFor(token), via: 'event', payload: token })),
  fc.anything({ maxDepth: 4, withObjectString: true, withNullPrototype: true, withBigInt: false }).map(
    (payload): Case => ({
      label: 'event: payload of any type',
      expect: expectFor(typeof payload === 'string' ? payload : (payload as { token?: unknown } | null)?.token),
      via: 'event',
      payload,
    }),
  ),
  fc.dictionary(pollutionKeys, fc.anything({ maxDepth: 2 })).map(
    (payload): Case => ({ label: 'event: prototype-pollution keys', expect: expectFor(payload.token), via: 'event', payload }),
  ),
  fc.oneof(
    fc.nat({ max: 20_000 }).map((depth) => `,${'{"token":'.repeat(depth + 1)}"x"${'}'.repeat(depth + 1)}`),
    fc.json().map((j) => `,${j}`),
    fc.constantFrom('', ',', ',{', ',{"token":"x"},"extra",3', ',"a","b"', ',{"__proto__":{"token":"x"}}', ',[1,2,3]', ',{"token":{"length":1e9}}'),
  ).map((eventText): Case => ({ label: 'event: raw frame', expect: 'refused', via: 'raw', raw: { nsp: '/event', eventText } })),
);

const signSid = (sid: string, secret: string) => `s:${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`;
const cookieOf = (value: string) => `connect.sid=${encodeURIComponent(value)}`;
const FOREIGN_ORIGINS = ['https://evil.example', 'null', 'https://app.soak.example.evil.example', 'http://app.soak.example', 'https://soak.example', 'file://'];

/** Forged and replayed session cookies on `/session`. */
const sessionCases: fc.Arbitrary<Case> = fc.oneof(
  fc.string({ maxLength: 100 }).map((v): Case => ({ label: 'session: random cookie', expect: 'refused', via: 'cookie', cookie: () => cookieOf(v) })),
  fc.string({ minLength: 1, maxLength: 40 }).map((sid): Case => ({ label: 'session: forged signature', expect: 'refused', via: 'cookie', cookie: () => cookieOf(`s:${sid}.${b64(randomBytes(32))}`) })),
  fc.string({ minLength: 1, maxLength: 40 }).map((secret): Case => ({ label: 'session: signed with another secret', expect: 'refused', via: 'cookie', cookie: () => cookieOf(signSid(b64(randomBytes(24)), `${secret}!`)) })),
  fc.constant(null).map((): Case => ({ label: 'session: unknown sid, valid signature', expect: 'refused', via: 'cookie', cookie: () => cookieOf(signSid(b64(randomBytes(24)), SECRET)) })),
  fc.nat().map((n): Case => ({ label: 'session: replayed after logout', expect: 'refused', via: 'cookie', cookie: (c) => c.replayed[n % c.replayed.length]! })),
  fc.nat().map((n): Case => ({ label: 'session: valid cookie, sid re-signed', expect: 'refused', via: 'cookie', cookie: (c) => c.valid[n % c.valid.length]!.replace(/\.[^.]*$/, `.${b64(randomBytes(32))}`) })),
  fc.tuple(fc.nat(), fc.constantFrom(...FOREIGN_ORIGINS)).map(
    ([n, origin]): Case => ({ label: 'session: valid cookie, foreign Origin', expect: 'refused', via: 'cookie', origin, cookie: (c) => c.valid[n % c.valid.length]! }),
  ),
  fc.nat({ max: 40_000 }).map((n): Case => ({ label: 'session: oversized cookie', expect: 'refused', via: 'cookie', cookie: () => cookieOf(`s:${'a'.repeat(n)}.sig`) })),
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map(
    (bytes): Case => ({ label: 'session: invalid UTF-8 cookie', expect: 'refused', via: 'cookie', cookie: () => `connect.sid=s:${headerSafe(Buffer.from(bytes).toString('latin1'))}\xff.x` }),
  ),
  fc.constantFrom('connect.sid=%E0%A4%A', 'connect.sid=%ff%fe', 'connect.sid=s%3A.', 'connect.sid=s:', 'connect.sid="s:x.y"', '__proto__=x; constructor=y; connect.sid=s:a.b', 'connect.sid=s:a.b; connect.sid=s:c.d', `${'x=1; '.repeat(2000)}connect.sid=s:a.b`).map(
    (raw): Case => ({ label: 'session: malformed cookie header', expect: 'refused', via: 'cookie', cookie: () => raw }),
  ),
);

/**
 * A function-chosen dynamic namespace (`/team-<n>`, cleaned up when empty):
 * every handshake may reach a new name, and none of them may leave a trace
 * in the registry or let a revoke re-create a namespace without middlewares.
 */
const teamCases: fc.Arbitrary<Case> = fc.tuple(fc.nat({ max: 1_000_000 }), spoiledToken).chain(([n, token]) =>
  fc.constantFrom<Case>(
    { label: 'dynamic namespace: spoiled token', expect: expectFor(token), via: 'client', nsp: `/team-${n}`, options: { auth: { token } } },
    { label: 'dynamic namespace: event with spoiled token', expect: expectFor(token), via: 'event', nsp: `/team-${n}`, payload: { token } },
    { label: 'dynamic namespace: raw event', expect: expectFor(token), via: 'raw', raw: { nsp: `/team-${n}`, eventText: `,${JSON.stringify({ token })}` } },
  ),
);

/** Whether a refresh payload should be accepted: a valid token for the same user (`alice`). */
const refreshFor = (payload: unknown) => (): Expect => {
  const token = typeof payload === 'string' ? payload : typeof payload === 'object' && payload !== null && Object.prototype.hasOwnProperty.call(payload, 'token') ? (payload as { token: unknown }).token : undefined;
  if (!verifies(token)) return 'refused';
  return (jwt.decode((token as string).replace(/^bearer\s+/i, '')) as { sub?: unknown } | null)?.sub === 'alice' ? 'admitted' : 'refused';
};

/** In-band refresh from an authenticated socket: spoiled tokens, another user's valid token, payloads of any type. */
const refreshCases: fc.Arbitrary<Case> = fc.tuple(
  fc.oneof(
    spoiledToken.map((token): unknown => ({ token })),
    spoiledToken,
    fc.constant(null).map(() => ({ token: hs256({ sub: 'bob' }) })),
    fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: false }),
    fc.dictionary(pollutionKeys, fc.anything({ maxDepth: 2 })),
  ),
  fc.nat(9),
).map(([payload, n]): Case => ({ label: 'refresh: hostile payload', expect: refreshFor(payload), via: 'refresh', payload, ack: n !== 0 }));

/** The drop-ins: socketio-jwt's handshake flow (query or header) and event flow, passport.socketio's cookie. */
const compatCases: fc.Arbitrary<Case> = fc.oneof(
  spoiledToken.map((token): Case => ({ label: 'socketio-jwt handshake: query token', expect: expectFor(token), via: 'client', nsp: '/compat-jwt', options: { query: { token } } })),
  spoiledToken.map(
    (token): Case => ({
      label: 'socketio-jwt handshake: bearer header',
      expect: lenientFor(headerSafe(token)),
      via: 'client',
      nsp: '/compat-jwt',
      options: { extraHeaders: { authorization: `Bearer ${headerSafe(token)}` } },
    }),
  ),
  fc.array(spoiledToken, { minLength: 2, maxLength: 3 }).map(
    (tokens): Case => ({ label: 'socketio-jwt handshake: repeated query', expect: 'refused', via: 'raw', raw: { nsp: '/compat-jwt', query: tokens.map((t) => `token=${encodeURIComponent(t)}`).join('&') } }),
  ),
  spoiledToken.map((token): Case => ({ label: 'socketio-jwt event: spoiled token', expect: expectFor(token), via: 'event', nsp: '/compat-jwt-event', payload: { token } })),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: false }).map(
    (payload): Case => ({ label: 'socketio-jwt event: payload of any type', expect: expectFor((payload as { token?: unknown } | null)?.token), via: 'event', nsp: '/compat-jwt-event', payload }),
  ),
  fc.string({ minLength: 1, maxLength: 40 }).map((sid): Case => ({ label: 'passport.socketio: forged cookie', expect: 'refused', via: 'cookie', nsp: '/compat-ps', cookie: () => cookieOf(`s:${sid}.${b64(randomBytes(32))}`) })),
  fc.constant(null).map((): Case => ({ label: 'passport.socketio: unknown sid, valid signature', expect: 'refused', via: 'cookie', nsp: '/compat-ps', cookie: () => cookieOf(signSid(b64(randomBytes(24)), SECRET)) })),
  fc.nat().map((n): Case => ({ label: 'passport.socketio: replayed after logout', expect: 'refused', via: 'cookie', nsp: '/compat-ps', cookie: (c) => c.replayed[n % c.replayed.length]! })),
  fc.tuple(fc.nat(), fc.constantFrom(...FOREIGN_ORIGINS)).map(
    ([n, origin]): Case => ({ label: 'passport.socketio: foreign Origin', expect: 'refused', via: 'cookie', nsp: '/compat-ps', origin, cookie: (c) => c.valid[n % c.valid.length]! }),
  ),
  fc.string({ maxLength: 100 }).map((v): Case => ({ label: 'passport.socketio: random cookie', expect: 'refused', via: 'cookie', nsp: '/compat-ps', cookie: () => cookieOf(v) })),
);

/** An HS256 token whose payload text is sent as is: jsonwebtoken's sign() refuses a top-level `__proto__`. */
const protoToken = (role: unknown) => signRaw(`{"sub":"alice","exp":${now() + 60},"__proto__":${JSON.stringify({ role })}}`);

/**
 * What an adversarial review of main found (issue 13): numeric event names
 * past the guard, a signed `__proto__` claim merged in mode `all`, app
 * callbacks and `failure` listeners that throw, cookie-borne tokens from
 * foreign Origins, and in-band refreshes to tokens without `exp`.
 */
const reviewCases: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.integer({ min: -1, max: 1e6 }), fc.constantFrom('7', '7.0', '7e0', '-0', '0x7', '1e21')).map(
    ([n, seven]): Case => ({
      label: 'guard: numeric event names',
      expect: 'either',
      via: 'raw',
      raw: { nsp: '/guarded', authText: JSON.stringify({ token: hs256({ role: 'user' }) }), frames: [`42/guarded,[${seven},"x"]`, `42/guarded,[${n},"y"]`, '42/guarded,["admin:ban"]'] },
    }),
  ),
  fc.constantFrom<unknown>('admin', ['admin'], { toString: 'admin' }, null).map((role): Case => {
    const token = protoToken(role);
    return { label: 'mode all: signed __proto__ claim', expect: 'either', via: 'client', nsp: '/all', options: { auth: { token }, extraHeaders: { authorization: `Bearer ${token}` } } };
  }),
  spoiledToken.map((token): Case => ({ label: 'throwing failure listener: spoiled token', expect: expectFor(token), via: 'client', nsp: '/throwing', options: { auth: { token } } })),
  fc.oneof(
    fc.string({ maxLength: 60 }).map((v) => () => cookieOf(v)),
    fc.nat().map((n) => (c: Cookies) => c.valid[n % c.valid.length]!),
    fc.nat().map((n) => (c: Cookies) => c.replayed[n % c.replayed.length]!),
  ).map((cookie): Case => ({ label: 'passport.socketio: async callbacks that throw', expect: 'refused', via: 'cookie', nsp: '/compat-ps-throw', cookie })),
  fc.tuple(fc.constantFrom(...FOREIGN_ORIGINS), fc.boolean()).map(
    ([origin, sub]): Case => ({
      label: 'socketio-jwt cookie: valid token, foreign Origin',
      expect: 'refused',
      via: 'cookie',
      nsp: '/compat-jwt-cookie',
      event: true,
      origin,
      cookie: () => `jwt=${hs256({ sub: sub ? 'alice' : 'victim' })}`,
    }),
  ),
  fc.constant(null).map((): Case => ({
    label: 'refresh: valid token without exp',
    // Accepted or refused, the socket must keep the expiry it had (counted on the server as expiryRemoved).
    expect: 'either',
    via: 'refresh',
    payload: { token: signRaw(JSON.stringify({ sub: 'alice' })) },
    ack: true,
  })),
);

function caseArbitrary(namespaces: string[]): fc.Arbitrary<Case> {
  const arbs: fc.Arbitrary<Case>[] = [tokenCases, passportCases, refreshCases];
  if (namespaces.includes('/guarded')) arbs.push(reviewCases);
  if (namespaces.includes('/event')) arbs.push(eventCases, teamCases);
  if (namespaces.includes('/session')) arbs.push(sessionCases);
  if (namespaces.includes('/compat-jwt')) arbs.push(compatCases);
  return fc.oneof(...arbs);
}

/** `refreshed` (the ack carried a new expiry, or the socket stayed), the refusal code, or what closed the socket. */
function refreshOutcome(socket: ReturnType<typeof connect>, payload: unknown, withAck: boolean): Promise<string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    // Without an ack nothing answers a good refresh: a socket still connected after 3 s kept its credential.
    const timer = setTimeout(() => done(socket.connected ? (withAck ? 'hang' : 'refreshed') : 'closed: silently'), withAck ? 10_000 : 3000);
    socket.once('auth:refused', (n: { code?: unknown }) => done(typeof n?.code === 'string' ? n.code : 'untyped: auth:refused without a code'));
    socket.once('disconnect', (reason: string) => setTimeout(() => done(`closed: ${reason}`), 100));
    try {
      if (withAck) {
        socket.emit('auth:refresh', payload, (reply: { expiresAt?: unknown; error?: { code?: unknown } }) => {
          if (reply?.error !== undefined) done(typeof reply.error.code === 'string' ? reply.error.code : 'untyped: error without a code');
          else if (reply !== null && typeof reply === 'object' && 'expiresAt' in reply) done('refreshed');
          else done('untyped: malformed refresh answer');
        });
      } else socket.emit('auth:refresh', payload);
    } catch (err) {
      done(`not sent: ${(err as Error).message}`);
    }
  });
}

export async function hostile(r: Recorder): Promise<void> {
  const server = await spawnServer({ name: 'hostile', eventTimeout: 3000 });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    for (const piece of server.missing) r.skip(`cases for ${piece} (not in sockpass yet)`);
    const hasSession = server.namespaces.includes('/session');
    const cookies: Cookies = { valid: [], replayed: [] };
    if (hasSession) {
      for (let i = 0; i < 4; i++) cookies.valid.push(await login(server.url, `valid${i}`));
      for (let i = 0; i < 4; i++) {
        const cookie = await login(server.url, `gone${i}`);
        await logout(server.url, cookie);
        cookies.replayed.push(cookie);
      }
    }
    const before = await server.stats();
    const cases = fc.sample(caseArbitrary(server.namespaces), { numRuns: CASES, seed: SEED });

    const byOutcome = new Map<string, number>();
    const byLabel = new Map<string, number>();
    const problems: string[] = [];
    let typed = 0;
    let transport = 0;
    let admittedInvalid = 0;
    let refusedValid = 0;
    let untyped = 0;
    let hangs = 0;
    let notSent = 0;
    /** Namespaces where some case authenticated (valid by construction): the registry may remember these. */
    const admittedNamespaces = new Set<string>(server.namespaces);
    let validChecks = 0;
    let validFailures = 0;

    const runValidClients = async () => {
      const checks: Array<Promise<boolean>> = [
        (async () => {
          const s = connect(server.url, '/', { auth: { token: hs256() } });
          const ok = (await handshakeOutcome(s)) === 'connected' && (await echo(s));
          s.disconnect();
          return ok;
        })(),
        (async () => {
          const s = connect(server.url, '/passport', { extraHeaders: { 'x-access-token': hs256() } });
          const ok = (await handshakeOutcome(s)) === 'connected' && (await echo(s));
          s.disconnect();
          return ok;
        })(),
      ];
      if (server.namespaces.includes('/event')) {
        checks.push(
          (async () => {
            const s = connect(server.url, '/event');
            const ok = (await eventOutcome(s, { token: hs256() })) === 'authenticated' && (await echo(s));
            s.disconnect();
            return ok;
          })(),
        );
      }
      if (hasSession) {
        checks.push(
          (async () => {
            const s = connect(server.url, '/session', cookieOptions(cookies.valid[0]!));
            const ok = (await handshakeOutcome(s)) === 'connected' && (await echo(s));
            s.disconnect();
            return ok;
          })(),
        );
      }
      if (server.namespaces.includes('/compat-jwt')) {
        checks.push(
          (async () => {
            const s = connect(server.url, '/compat-jwt', { query: { token: hs256() } });
            const ok = (await handshakeOutcome(s)) === 'connected';
            s.disconnect();
            return ok;
          })(),
          (async () => {
            const s = connect(server.url, '/compat-jwt-event');
            const ok = (await eventOutcome(s, { token: hs256() })) === 'authenticated';
            s.disconnect();
            return ok;
          })(),
          (async () => {
            const s = connect(server.url, '/compat-ps', cookieOptions(cookies.valid[1] ?? ''));
            const ok = (await handshakeOutcome(s)) === 'connected';
            s.disconnect();
            return ok;
          })(),
        );
      }
      if (server.namespaces.includes('/throwing')) {
        checks.push(
          (async () => {
            // Keeps serving after its failure listener threw.
            const s = connect(server.url, '/throwing', { auth: { token: hs256() } });
            const ok = (await handshakeOutcome(s)) === 'connected';
            s.disconnect();
            return ok;
          })(),
          (async () => {
            // A same-origin page keeps its cookie-borne token working.
            const s = connect(server.url, '/compat-jwt-cookie', { extraHeaders: { cookie: `jwt=${hs256()}`, origin: server.url } });
            const ok = (await eventOutcome(s, {})) === 'authenticated';
            s.disconnect();
            return ok;
          })(),
        );
      }
      for (const ok of await Promise.all(checks)) {
        validChecks++;
        if (!ok) validFailures++;
      }
    };

    const run = async (c: Case): Promise<string> => {
      switch (c.via) {
        case 'raw':
          return rawOutcome(server.url, c.raw);
        case 'event': {
          const s = connect(server.url, c.nsp ?? '/event');
          try {
            return await eventOutcome(s, c.payload);
          } finally {
            s.disconnect();
          }
        }
        case 'refresh': {
          const s = connect(server.url, '/', { auth: { token: hs256() } });
          try {
            const first = await handshakeOutcome(s);
            if (first !== 'connected') return `untyped: the valid handshake before the refresh got ${first}`;
            return await refreshOutcome(s, c.payload, c.ack);
          } finally {
            s.disconnect();
          }
        }
        case 'cookie': {
          const cookie = c.cookie(cookies);
          const s = connect(server.url, c.nsp ?? '/session', { extraHeaders: { cookie: headerSafe(cookie), origin: c.origin ?? SOAK_ORIGIN } });
          try {
            return c.event === true ? await eventOutcome(s, {}) : await handshakeOutcome(s);
          } finally {
            s.disconnect();
          }
        }
        case 'client': {
          const s = connect(server.url, c.nsp, c.options);
          try {
            return await handshakeOutcome(s);
          } finally {
            s.disconnect();
          }
        }
      }
    };

    await pool(cases.length, CONCURRENCY, async (i) => {
      const c = cases[i]!;
      const expect = typeof c.expect === 'function' ? c.expect() : c.expect;
      let outcome: string;
      try {
        outcome = await run(c);
      } catch (err) {
        // socket.io-client itself may refuse to encode a value (a lone surrogate in a query): nothing reached the server.
        outcome = `not sent: ${(err as Error).message}`;
      }
      if (outcome.startsWith('not sent')) {
        notSent++;
        return;
      }
      const admitted = outcome === 'connected' || outcome === 'authenticated' || outcome === 'refreshed';
      const nsp = c.via === 'raw' ? c.raw.nsp : c.via === 'event' ? (c.nsp ?? '/event') : c.via === 'client' ? c.nsp : c.via === 'refresh' ? '/' : (c.nsp ?? '/session');
      if (admitted) admittedNamespaces.add(nsp);
      const isTyped = TYPED_CODES.has(outcome);
      const key = isTyped || admitted ? outcome : outcome.startsWith('closed') ? 'closed by transport' : outcome;
      byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
      byLabel.set(c.label, (byLabel.get(c.label) ?? 0) + 1);
      const complain = (what: string) => {
        if (problems.length < 10) problems.push(`${what}: case #${i} "${c.label}" → ${outcome}`);
      };
      if (process.env.SOAK_DEBUG && (outcome === 'server_error' || outcome === 'hang')) {
        console.log(`      debug: #${i} ${c.label} → ${outcome}: ${JSON.stringify(c, (_k, v) => (typeof v === 'string' && v.length > 300 ? `${v.slice(0, 300)}…` : v))}`);
      }
      if (outcome === 'hang') {
        hangs++;
        complain('hang');
      } else if (admitted) {
        if (expect === 'refused') {
          admittedInvalid++;
          complain('admitted');
        }
      } else {
        if (expect === 'admitted') {
          refusedValid++;
          complain('refused a valid credential');
        }
        if (isTyped) typed++;
        else if (key === 'closed by transport') transport++;
        else {
          untyped++;
          complain('untyped');
        }
      }
      if ((i + 1) % 100 === 0) await runValidClients();
    });
    await runValidClients();

    const after = await server.stats();
    // A revoke after the storm must not re-create any of the dynamic namespaces cleaned up meanwhile.
    const revoke = await server.request({ type: 'revoke', user: 'nobody' });
    if (revoke.type !== 'revoked') throw new Error(`revoke: ${JSON.stringify(revoke)}`);
    const afterRevoke = await server.stats();
    const crashes = (server.crashed() ? 1 : 0) + after.counters.uncaughtExceptions;
    const refusedCount = typed + transport;
    r.figure('hostile handshakes sent', cases.length - notSent, 'cases', { op: '>=', limit: 1000 }, `fast-check seed ${SEED}, ${byLabel.size} kinds, ${notSent} the client could not encode`);
    r.figure('strategies under attack', 4 + (server.namespaces.includes('/event') ? 1 : 0) + (hasSession ? 1 : 0), 'strategies', { op: '>=', limit: 6 }, 'jwt-auth, jwt-query, jwt-header, passport, event, session; plus in-band refresh, a dynamic namespace, the socketio-jwt and passport.socketio drop-ins');
    r.figure('refused with a typed code', typed, 'cases', { op: 'info' });
    r.figure('closed by the transport first', transport, 'cases', { op: 'info' }, 'Engine.IO/ws/Node before sockpass: 1 MB buffer, 16 KB headers, bad frames');
    r.figure('typed share of refusals', refusedCount === 0 ? 0 : typed / refusedCount, 'ratio', { op: '>=', limit: 0.6 }, 'most cases must reach sockpass');
    r.figure('admitted although invalid', admittedInvalid, 'cases', { op: '==', limit: 0 });
    r.figure('refused although valid', refusedValid, 'cases', { op: '==', limit: 0 }, 'jsonwebtoken is the oracle');
    r.figure('refused without a typed code', untyped, 'cases', { op: '==', limit: 0 });
    r.figure('hangs (no answer in 10 s)', hangs, 'cases', { op: '==', limit: 0 });
    r.figure('server crashes', crashes, 'crashes', { op: '==', limit: 0 });
    r.figure('unhandled rejections', after.counters.unhandledRejections + unhandled.length, 'rejections', { op: '==', limit: 0 }, 'server and driver');
    r.figure('events of unauthenticated sockets handled', after.counters.unauthenticatedEventsHandled, 'events', { op: '==', limit: 0 });
    r.figure('valid clients refused between batches', validFailures, `of ${validChecks}`, { op: '==', limit: 0 }, 'every strategy, after every 100 cases');
    r.figure('namespaces re-created by a revoke', afterRevoke.serverNamespaces - after.serverNamespaces, 'namespaces', { op: '==', limit: 0 }, `${[...byLabel].filter(([label]) => label.startsWith('dynamic namespace')).reduce((n, [, k]) => n + k, 0)} handshakes to random /team-<n>`);
    r.figure('namespaces the registry remembers', afterRevoke.registryNamespaces, 'names', { op: '<=', limit: admittedNamespaces.size }, 'only where a socket authenticated; never the names refused handshakes reached');
    r.figure('prototype keys added', after.prototypeKeys - before.prototypeKeys, 'keys', { op: '==', limit: 0 }, 'Object.prototype in the server');
    r.figure('events past a guard rule that closes them', after.counters.guardBypasses, 'events', { op: '==', limit: 0 }, 'numeric event names (42[7,"x"]) judged as the listener sees them');
    r.figure('sockets whose merged claims inherit a value', after.counters.inheritedClaims, 'sockets', { op: '==', limit: 0 }, 'signed __proto__ claims in mode all');
    r.figure(
      'sockets whose expiry a refresh removed',
      after.counters.expiryRemoved,
      'sockets',
      { op: 'info' },
      'refresh to a token without exp; becomes == 0 once the lifecycle branch (refresh keeps the deadline) is merged',
    );
    console.log(`      outcomes: ${JSON.stringify(Object.fromEntries([...byOutcome].sort((a, b) => b[1] - a[1])))}`);
    for (const p of problems) console.log(`      ${p}`);
    for (const e of after.counters.errors) console.log(`      server: ${e.split('\n')[0]}`);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await server.close();
  }
}
