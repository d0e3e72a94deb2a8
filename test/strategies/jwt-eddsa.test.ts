/**
 * EdDSA (Ed25519) beside RS256: admitted by jwtAuth with a static key and by
 * jwks() with an OKP key, and every bad token refused with the same code and
 * message as its RS256 twin.
 */
import { createPublicKey, sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwks, jwtAuth, type JwtAlgorithm } from 'sockpass';
import { createJwtVerifier } from '../../strategies/jwt/verifier.js';
import { signWith, signingKey, startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
import { ed25519, edDsa, forgeHs256, rs256, rsa, signRawPayload, unsigned } from '../helpers/tokens.js';

let server: TestServer | undefined;
let idp: JwksServer | undefined;
afterEach(async () => {
  await server?.close();
  await idp?.close();
  server = idp = undefined;
});

async function serve(secret: Parameters<typeof jwtAuth>[0]['secret'], algorithms: JwtAlgorithm[]) {
  const auth = new SockPass().use('jwt-auth', jwtAuth({ secret, algorithms }));
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-auth'));
    auth.onAuthenticated(io, (socket) => socket.emit('seen', socket.data.auth.user));
  });
}
const connect = (token: string) => codeOf(server!.client('/', { auth: { token } }));

const other = signingKey('other', 'ed25519');
const otherRsa = signingKey('other', 'rsa');
const expired = { exp: Math.floor(Date.now() / 1000) - 10 };
const future = { nbf: Math.floor(Date.now() / 1000) + 600 };

/** The same attack in both families: [what, EdDSA token, RS256 token]. */
const cases: Array<[string, string, string]> = [
  ['valid', edDsa(), rs256()],
  ['signed by another key', edDsa({}, { privateKey: other.privateKey }), signWith(otherRsa, {}, 'RS256', null)],
  ['payload changed after signing', tamper(edDsa()), tamper(rs256())],
  ['expired', edDsa(expired), rs256(expired)],
  ['not active yet', edDsa(future), rs256(future)],
  ['HS256 keyed with the public key PEM (algorithm confusion)', forgeHs256({}, ed25519.publicKey), forgeHs256({}, rsa.publicKey)],
  ['alg: none', unsigned(), unsigned()],
  ['signature cut off', edDsa().replace(/\.[^.]+$/, '.'), rs256().replace(/\.[^.]+$/, '.')],
  ['not a JWT', 'a.b.c', 'a.b.c'],
  ['wrong audience', edDsa({ aud: 'elsewhere' }), rs256({ aud: 'elsewhere' })],
  ['wrong issuer', edDsa({ iss: 'mallory' }), rs256({ iss: 'mallory' })],
  ['exp not a number', edDsa({ exp: 'soon' }), signRawPayload('{"sub":"alice","exp":"soon"}', 'RS256')],
  ['payload an array', edDsaRaw('[1,2]'), '-'],
];

function tamper(token: string): string {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  return [h, Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url'), s].join('.');
}

function edDsaRaw(payload: string): string {
  const token = edDsa();
  const [h] = token.split('.');
  const body = `${h}.${Buffer.from(payload).toString('base64url')}`;
  return `${body}.${sign(null, Buffer.from(body), ed25519.privateKey).toString('base64url')}`;
}

describe('EdDSA (Ed25519)', () => {
  it('admits an Ed25519-signed token through jwtAuth, with the key as PEM or as a KeyObject', async () => {
    await serve(ed25519.publicKey, ['EdDSA']);
    expect(await connect(edDsa())).toBe('connected');
    await server!.close();
    await serve(createPublicKey(ed25519.publicKey), ['EdDSA']);
    expect(await connect(edDsa({ sub: 'bob' }))).toBe('connected');
  });

  it('refuses every bad EdDSA token with the code and message of its RS256 twin', async () => {
    const options = { audience: undefined, issuer: undefined };
    const ed = createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA'], ...options });
    const rs = createJwtVerifier({ secret: rsa.publicKey, algorithms: ['RS256'], ...options });
    const edStrict = createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA'], audience: 'app', issuer: 'idp' });
    const rsStrict = createJwtVerifier({ secret: rsa.publicKey, algorithms: ['RS256'], audience: 'app', issuer: 'idp' });
    const outcome = async (v: typeof ed, token: string) => {
      const r = await v.verify(token);
      return r.kind === 'fail' ? `${r.error.code}: ${r.error.message}` : r.kind;
    };
    for (const [what, edToken, rsToken] of cases) {
      const strict = what.startsWith('wrong');
      const edOutcome = await outcome(strict ? edStrict : ed, edToken);
      if (rsToken === '-') {
        expect([what, edOutcome]).toEqual([what, 'invalid_token: token payload is not a JSON object']);
        continue;
      }
      expect([what, edOutcome]).toEqual([what, await outcome(strict ? rsStrict : rs, rsToken)]);
    }
    expect(await outcome(ed, cases[3]![1])).toBe('token_expired: token has expired');
    expect(await outcome(ed, cases[1]![1])).toBe('invalid_token: token signature is invalid');
  });

  it('refuses tokens of the other family: EdDSA at an RS256 verifier, RS256 at an EdDSA one, with invalid_token', async () => {
    const ed = createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA'] });
    const rs = createJwtVerifier({ secret: rsa.publicKey, algorithms: ['RS256'] });
    const code = async (v: typeof ed, t: string) => {
      const r = await v.verify(t);
      return r.kind === 'fail' ? r.error.code : r.kind;
    };
    expect(await code(ed, rs256())).toBe('invalid_token');
    expect(await code(rs, edDsa())).toBe('invalid_token');
    // A header naming another algorithm over a valid Ed25519 signature.
    expect(await code(ed, edDsa({}, { header: { alg: 'RS256' } }))).toBe('invalid_token');
    expect(await code(ed, edDsa({}, { header: { crit: ['b64'], b64: false } }))).toBe('invalid_token');
  });

  it('keeps maxAge and clockTolerance as for the other algorithms', async () => {
    const old = { iat: Math.floor(Date.now() / 1000) - 100 };
    const young = createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA'], maxAge: 10 });
    const r = await young.verify(edDsa(old));
    expect(r.kind === 'fail' && `${r.error.code}: ${r.error.message}`).toBe('token_expired: token is older than maxAge');
    const lenient = createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA'], clockTolerance: 30 });
    expect((await lenient.verify(edDsa(expired))).kind).toBe('success');
  });

  it('refuses at configuration an EdDSA allowlist for a key that is not Ed25519, and the reverse', () => {
    expect(() => createJwtVerifier({ secret: rsa.publicKey, algorithms: ['EdDSA'] })).toThrow(/EdDSA does not fit/);
    expect(() => createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['RS256'] })).toThrow(/RS256 does not fit/);
    expect(() => createJwtVerifier({ secret: ed25519.publicKey, algorithms: ['EdDSA', 'ES256'] })).toThrow(/ES256 does not fit/);
  });

  it('admits an Ed25519-signed token through jwks() from an OKP key, and refuses it forged or expired as RS256', async () => {
    const ok = signingKey('ok', 'ed25519');
    const rsaKey = signingKey('r', 'rsa');
    idp = await startJwksServer([ok, rsaKey]);
    await serve(jwks({ uri: idp.jwksUri }), ['EdDSA', 'RS256']);
    expect(await connect(signWith(ok, {}, 'EdDSA'))).toBe('connected');
    expect(await connect(signWith(rsaKey))).toBe('connected');
    expect(await connect(tamper(signWith(ok, {}, 'EdDSA')))).toBe(await connect(tamper(signWith(rsaKey))));
    expect(await connect(signWith(ok, expired, 'EdDSA'))).toBe('token_expired');
    // Algorithm confusion across the set: the OKP key's kid on an RS256 token, the RSA key's kid on an EdDSA token.
    expect(await connect(signWith(rsaKey, {}, 'RS256', 'ok'))).toBe('invalid_token');
    expect(await connect(edDsa({}, { privateKey: ok.privateKey, header: { kid: 'r' } }))).toBe('invalid_token');
  });
});
