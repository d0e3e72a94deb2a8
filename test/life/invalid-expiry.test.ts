/**
 * Found while fixing the out-of-range `exp` (see out-of-range-exp.test.ts):
 * any strategy — a custom one, the passport adapter's `expiresAt` option —
 * that hands the lifecycle an Invalid Date made the socket's expiry timer
 * re-arm every millisecond forever (`now >= NaN` is never true), and an
 * in-band refresh to one threw a RangeError after swapping the credential
 * (an unhandled rejection; the ack never came). The lifecycle now fails
 * closed: an invalid expiry is an expired credential.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SockPass, type Strategy } from 'sockpass';
import { once, sleep, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));
afterEach(() => server?.close());

/** A custom strategy: `good` expires in a minute, anything else gets an Invalid Date. */
const custom: Strategy<{ id: string }> = {
  async authenticate(ctx) {
    return this.authenticateCredential!(ctx.auth.token);
  },
  async authenticateCredential(token) {
    const expiresAt = token === 'good' ? new Date(Date.now() + 60_000) : new Date(Number.NaN);
    return { kind: 'success', user: { id: 'alice' }, expiresAt };
  },
};

async function serve(): Promise<void> {
  const auth = new SockPass<{ id: string }>().use('custom', custom);
  server = await startServer((io) => io.use(auth.middleware('custom')));
}

describe('a strategy that returns an Invalid Date expiry', () => {
  it('gets the socket told auth:expired and disconnected at once', async () => {
    await serve();
    const client = server.client('/', { auth: { token: 'bad' } });
    const expired = once<{ code: string }>(client, 'auth:expired', 5000);
    const gone = once(client, 'disconnect', 5000);
    expect((await expired).code).toBe('token_expired');
    await gone;
  });

  it('refuses a refresh to it, answers the ack, and rejects nothing unhandled', async () => {
    await serve();
    const client = server.client('/', { auth: { token: 'good' } });
    await once(client, 'connect');
    const reply = await client.timeout(5000).emitWithAck('auth:refresh', { token: 'bad' });
    expect(reply).toEqual({ error: { code: 'server_error', message: expect.any(String), action: 'stop' } });
    await sleep(50);
    expect(unhandled).toEqual([]);
  });
});
