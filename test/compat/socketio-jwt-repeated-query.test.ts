/**
 * Found by the soak's hostile handshakes on the socketio-jwt drop-in: its
 * handshake flow meant to refuse a repeated `token` query parameter
 * (`credentials_bad_format`, as jwt-query does), but looked for an array in
 * `handshake.query` — and Engine.IO keeps only the last of repeated
 * parameters, so `?token=<anything>&token=<valid>` was admitted on the last
 * one. A proxy or WAF that inspects the first copy then sees a different
 * credential than the server uses (HTTP parameter pollution).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { authorize } from 'sockpass/compat/socketio-jwt';
import { rawHandshake } from '../helpers/raw-client.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

async function serve(): Promise<void> {
  server = await startServer((io) => io.use(authorize({ secret: SECRET, handshake: true }) as Parameters<typeof io.use>[0]));
}

describe('socketio-jwt drop-in, handshake flow', () => {
  it.each([
    ['a forged token, then a valid one', () => `token=forged&token=${hs256()}`],
    ['a valid token, then a forged one', () => `token=${hs256()}&token=forged`],
    ['the same valid token twice', () => {
      const t = hs256();
      return `token=${t}&token=${t}`;
    }],
  ])('refuses a repeated token query parameter with credentials_bad_format: %s', async (_label, query) => {
    await serve();
    const outcome = await rawHandshake(server.url, { query: query() });
    expect(outcome).toMatchObject({ kind: 'refused', code: 'credentials_bad_format' });
  });

  it('still admits one token in the query', async () => {
    await serve();
    expect(await codeOf(server.client('/', { query: { token: hs256() } }))).toBe('connected');
  });
});
