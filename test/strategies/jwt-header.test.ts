import { afterEach, describe, expect, it } from 'vitest';
import { ExtractJwt } from 'passport-jwt';
import { SockPass, jwtHeader } from 'sockpass';
import type { IncomingMessage } from 'node:http';
import { fromBearerHeader } from '../../strategies/jwt/token-sources.js';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { hs256, rs256, rsa } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

async function serve(options: Partial<Parameters<typeof jwtHeader>[0]> = {}) {
  const auth = new SockPass().use('jwt-header', jwtHeader({ secret: rsa.publicKey, algorithms: ['RS256'], ...options }));
  server = await startServer((io) => {
    io.use(auth.middleware('jwt-header'));
    auth.onAuthenticated(io, (socket) => socket.emit('seen', socket.data.auth));
  });
}

describe('jwt-header (Authorization: Bearer)', () => {
  it('admits a valid RS256 token from the Authorization header', async () => {
    await serve();
    const client = server.client('/', { extraHeaders: { Authorization: `Bearer ${rs256({ sub: 'bob' })}` } });
    const seen = await once<{ user: { sub: string }; strategy: string }>(client, 'seen');
    expect(seen.user.sub).toBe('bob');
    expect(seen.strategy).toBe('jwt-header');
  });

  it('works over the polling transport too', async () => {
    await serve();
    const client = server.client('/', { transports: ['polling'], extraHeaders: { Authorization: `Bearer ${rs256()}` } });
    expect(await codeOf(client)).toBe('connected');
  });

  it('refuses "Bearer" with no token as credentials_bad_format, and passes other schemes', async () => {
    await serve();
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: 'Bearer' } }))).toBe('credentials_bad_format');
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: 'Basic dXNlcjpwYXNz' } }))).toBe('credentials_required');
  });

  it('refuses an HS256 token when only RS256 is allowed', async () => {
    await serve();
    const client = server.client('/', { extraHeaders: { Authorization: `Bearer ${hs256()}` } });
    expect(await codeOf(client)).toBe('invalid_token');
  });

  it('takes any passport-jwt extractor', async () => {
    await serve({ extractor: ExtractJwt.fromHeader('x-access-token') });
    expect(await codeOf(server.client('/', { extraHeaders: { 'x-access-token': rs256() } }))).toBe('connected');
    expect(await codeOf(server.client('/', { extraHeaders: { Authorization: `Bearer ${rs256()}` } }))).toBe('credentials_required');
  });

  it('reads the Authorization header exactly as passport-jwt fromAuthHeaderAsBearerToken() does, without depending on it', () => {
    const theirs = ExtractJwt.fromAuthHeaderAsBearerToken();
    const headers = ['Bearer abc', 'bearer  abc', 'BEARER\tabc def', 'Bearer', 'Bearer ', ' Bearer abc', 'Basic abc', 'JWT abc', 'Bearerabc', 'x Bearer abc', ''];
    for (const authorization of headers) {
      const request = { headers: { authorization }, url: '/' } as unknown as IncomingMessage;
      expect([authorization, fromBearerHeader(request)]).toEqual([authorization, theirs(request as never)]);
    }
  });
});
