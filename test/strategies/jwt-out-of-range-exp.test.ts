/**
 * Found by the soak's hostile refreshes: a correctly signed token whose `exp`
 * lies beyond what a Date can hold (`1e300`, or `1e999`, which JSON reads as
 * Infinity) passed jsonwebtoken's check ("not expired") and became an
 * Invalid Date expiry. An in-band refresh with it threw a RangeError after
 * the credential was swapped (an unhandled rejection; the client's ack never
 * came), and a socket admitted with it re-armed its expiry timer every
 * millisecond, forever. Such an `exp` is now refused as `invalid_token`.
 */
import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import { codeOf, once, sleep, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));
afterEach(() => server?.close());

/** HS256 over raw payload text: jsonwebtoken's sign() refuses such an `exp`, an issuer's own code may not. */
function signRaw(payload: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const body = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

const OUT_OF_RANGE = [
  ['1e300', signRaw('{"sub":"alice","exp":1e300}')],
  ['1e999 (Infinity)', signRaw('{"sub":"alice","exp":1e999}')],
  ['9e15', signRaw('{"sub":"alice","exp":9000000000000000}')],
] as const;

async function serve(): Promise<void> {
  const hs = { secret: SECRET, algorithms: ['HS256' as const] };
  const auth = new SockPass()
    .use('jwt-auth', jwtAuth(hs))
    .use('event', jwtAuthenticateEvent({ ...hs, timeout: 5000 }));
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth']));
    io.of('/event').use(auth.middleware(['event']));
  });
}

describe('a token whose exp is beyond the range of a Date', () => {
  it.each(OUT_OF_RANGE)('is refused at the handshake with invalid_token (exp %s)', async (_label, token) => {
    await serve();
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('invalid_token');
  });

  it.each(OUT_OF_RANGE)('is refused in the authenticate event with invalid_token (exp %s)', async (_label, token) => {
    await serve();
    const client = server.client('/event');
    await once(client, 'connect');
    client.emit('authenticate', { token });
    const told = await once<{ data: { code: string } }>(client, 'unauthorized');
    expect(told.data.code).toBe('invalid_token');
  });

  it.each(OUT_OF_RANGE)('is refused as an in-band refresh, the ack answers, nothing rejects unhandled (exp %s)', async (_label, token) => {
    await serve();
    const client = server.client('/', { auth: { token: hs256() } });
    await once(client, 'connect');
    const reply = await client.timeout(5000).emitWithAck('auth:refresh', { token });
    expect(reply).toEqual({ error: { code: 'invalid_token', message: expect.any(String), action: 'login' } });
    await sleep(50);
    expect(unhandled).toEqual([]);
  });

  it('still accepts an exp far in the future but within range', async () => {
    await serve();
    const token = signRaw(`{"sub":"alice","exp":${Math.floor(Date.now() / 1000) + 10 * 365 * 86400}}`);
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('connected');
  });
});
