/**
 * What a hostile or broken key set cannot do: a body or key count past the
 * bounds is refused whole, a huge allowed set is imported without freezing the
 * other namespaces, weak RSA keys and clear-text URLs are refused, and a
 * random `kid` that spends the refetch cooldown does not turn valid tokens
 * with a just-published key into a terminal `invalid_token`.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwks, jwtAuth, type JwksOptions, type JwtAlgorithm } from 'sockpass';
import { signWith, signingKey, startJwksServer, type JwksServer, type SigningKey } from '../helpers/jwks-server.js';
import { outcome, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
let idp: JwksServer | undefined;
afterEach(async () => {
  await server?.close();
  await idp?.close();
  server = idp = undefined;
});

async function serve(source: JwksOptions, algorithms: JwtAlgorithm[] = ['RS256']) {
  const auth = new SockPass()
    .use('jwks', jwtAuth({ secret: jwks(source), algorithms }))
    .use('hs', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  server = await startServer((io) => {
    io.use(auth.middleware('jwks'));
    io.of('/hs').use(auth.middleware('hs'));
  });
}
const answer = async (token: string, nsp = '/') => {
  const r = await outcome(server!.client(nsp, { auth: { token }, timeout: 20_000 }), 25_000);
  return r.connected ? { code: 'connected' } : (r.error.data as { code: string; retryAfter?: number });
};
const connect = async (token: string, nsp = '/') => (await answer(token, nsp)).code;

/** `count` keys with their own kids, all copies of one RSA key's JWK (generating thousands of RSA keys takes minutes). */
function copies(of: SigningKey, count: number, extra: Record<string, unknown> = {}): SigningKey[] {
  return Array.from({ length: count }, (_, i) => ({ ...of, kid: `copy-${i}`, jwk: { ...of.jwk, kid: `copy-${i}`, ...extra } }));
}

function weakKey(kid: string, options: { modulusLength: number; publicExponent?: number }): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', options);
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' } };
}

/** RS256 by hand: jsonwebtoken will not sign with a key under 2048 bits. */
function rs256By(key: SigningKey): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256', typ: 'JWT', kid: key.kid })}.${enc({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 })}`;
  return `${body}.${sign('sha256', Buffer.from(body), key.privateKey).toString('base64url')}`;
}

describe('jwks() bounds', () => {
  it('answers a kid unknown during the cooldown with key_unavailable and a retryAfter, then admits the new key', async () => {
    const a = signingKey('a');
    const b = signingKey('b');
    idp = await startJwksServer([a]);
    await serve({ uri: idp.jwksUri, cooldown: 1500 });
    expect(await connect(signWith(a))).toBe('connected');
    await new Promise((r) => setTimeout(r, 1600));
    // The attacker's random kid spends the cooldown just before the provider publishes b.
    expect(await connect(signWith(a, {}, 'RS256', 'random-kid'))).toBe('invalid_token');
    idp.keys = [a, b];
    const refused = await answer(signWith(b));
    expect(refused.code).toBe('key_unavailable');
    expect(refused.retryAfter).toBeGreaterThan(0);
    expect(refused.retryAfter).toBeLessThanOrEqual(1500 + 1000);
    // The fetch booked for the cooldown's end has b by the time the client retries.
    await new Promise((r) => setTimeout(r, refused.retryAfter));
    expect(await connect(signWith(b))).toBe('connected');
    expect(idp.fetches).toBe(3);
  }, 20_000);

  it('refuses a key set larger than maxBytes whole, keeping the keys it had', async () => {
    const a = signingKey('a');
    idp = await startJwksServer([a, ...copies(a, 1500, { x5c: ['A'.repeat(1000)] })]); // ~2 MB
    await serve({ uri: idp.jwksUri });
    expect(await connect(signWith(a))).toBe('key_unavailable');
    await server!.close();
    await serve({ uri: idp.jwksUri, maxBytes: 4 * 1024 * 1024, maxKeys: 2000 });
    expect(await connect(signWith(a))).toBe('connected');
  });

  it('refuses a key set with more keys than maxKeys whole', async () => {
    const a = signingKey('a');
    idp = await startJwksServer([a, ...copies(a, 150)]);
    await serve({ uri: idp.jwksUri });
    expect(await connect(signWith(a))).toBe('key_unavailable');
    await server!.close();
    await serve({ uri: idp.jwksUri, maxKeys: 151 });
    expect(await connect(signWith(a))).toBe('connected');
  });

  it('imports 16,000 keys without stalling an unrelated HS256 namespace', async () => {
    const a = signingKey('a');
    idp = await startJwksServer([...copies(a, 16_000), a]); // ~6.6 MB
    await serve({ uri: idp.jwksUri, maxBytes: 16 * 1024 * 1024, maxKeys: 20_000, timeout: 20_000 });
    expect(await connect(hs256(), '/hs')).toBe('connected');
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const keyed = connect(signWith(a));
    const served: string[] = [];
    let done = false;
    // Turns of the event loop while the keys import: counted, not timed, so a loaded machine cannot fail it.
    let turns = 0;
    const turn = () => {
      turns++;
      if (!done) setImmediate(turn);
    };
    setImmediate(turn);
    void keyed.then(() => (done = true));
    while (!done) served.push(await connect(hs256(), '/hs'));
    delay.disable();
    console.log(`jwks import of 16,000 keys: ${turns} event-loop turns, longest stall ${(delay.max / 1e6).toFixed(0)} ms, ${served.length} HS256 handshakes served meanwhile`);
    expect(await keyed).toBe('connected');
    expect(served.every((code) => code === 'connected')).toBe(true);
    // The import yields every 32 keys (500 times for this set); one that held the loop throughout would see a turn or two.
    expect(turns).toBeGreaterThan(250);
  }, 60_000);

  it('skips RSA keys under 2048 bits or with an exponent under 65537', async () => {
    const short = weakKey('short', { modulusLength: 1024 });
    const tiny = weakKey('tiny', { modulusLength: 2048, publicExponent: 3 });
    const good = signingKey('good');
    idp = await startJwksServer([short, tiny, good]);
    await serve({ uri: idp.jwksUri, cooldown: 0 }); // each unknown kid fetches: a fresh set without it is invalid_token
    expect(await connect(signWith(good))).toBe('connected');
    expect(await connect(rs256By(short))).toBe('invalid_token');
    expect(await connect(rs256By(tiny))).toBe('invalid_token');
  });

  it('refuses an http: JWKS or issuer URL at configuration unless it is loopback or allowInsecure', () => {
    expect(() => jwks({ uri: 'http://login.example.com/jwks.json' })).toThrow(/https/);
    expect(() => jwks({ issuer: 'http://login.example.com/' })).toThrow(/https/);
    expect(() => jwks({ uri: 'http://login.example.com/jwks.json', allowInsecure: true })).not.toThrow();
    for (const uri of ['http://127.0.0.1:9/jwks.json', 'http://localhost:9/jwks.json', 'http://[::1]:9/jwks.json', 'https://login.example.com/jwks.json']) {
      expect(() => jwks({ uri })).not.toThrow();
    }
    expect(() => jwks({ uri: 'ftp://login.example.com/jwks.json', allowInsecure: true })).toThrow(TypeError);
  });
});
