/**
 * reconnectWithFreshToken's pacing, against a real server that refuses with a
 * recoverable code: clients cut together must not retry together (full
 * jitter), no wait grows past `maxDelay`, and a `getToken()` that never
 * answers ends in `onStop` instead of a socket waiting forever. Every time is
 * taken on the server, when the handshake arrives, so a loaded machine only
 * makes gaps longer, never shorter.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, SockPass, jwtAuth, type Strategy } from 'sockpass';
import { reconnectWithFreshToken, type ClientAuthError } from 'sockpass/client';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
const sockets: ClientSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await server?.close();
  server = undefined;
});

/** A server that refuses every handshake with `store_unavailable` and notes when each subject's handshakes arrived. */
async function serveRefusing() {
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const arrivals = new Map<string, number[]>();
  const refusing: Strategy<unknown> = {
    authenticateCredential: jwt.authenticateCredential!,
    async authenticate(ctx) {
      const result = await jwt.authenticate(ctx);
      const sub = result.kind === 'success' ? String((result.claims as { sub?: unknown } | undefined)?.sub) : 'unverified';
      arrivals.set(sub, [...(arrivals.get(sub) ?? []), performance.now()]);
      return { kind: 'fail', error: new AuthError('store_unavailable', 'the store blinked (test)') };
    },
  };
  const auth = new SockPass().use('jwt-auth', refusing);
  server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  return arrivals;
}

function client(): ClientSocket {
  const socket = connect(server!.url, { transports: ['websocket'], forceNew: true, reconnection: false, autoConnect: false });
  sockets.push(socket);
  return socket;
}

const gapsOf = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('client: reconnectWithFreshToken pacing', () => {
  it('spreads the retries of clients refused together (full jitter)', async () => {
    const arrivals = await serveRefusing();
    const delay = 2000;
    const stops = Array.from({ length: 20 }, (_, i) => {
      const socket = client();
      const stopped = new Promise<ClientAuthError>((resolve) =>
        reconnectWithFreshToken(socket, { getToken: () => hs256({ sub: `c${i}` }), delay, maxAttempts: 1, onStop: resolve }),
      );
      socket.connect();
      return stopped;
    });
    await Promise.all(stops);
    const firstGaps = [...arrivals.values()].map((times) => gapsOf(times)[0]!);
    expect(firstGaps).toHaveLength(20);
    // Without jitter every client waits the full delay; with full jitter the wait is uniform in [0, delay]
    // (a reconnection's own time only adds to a gap, so the bounds hold on a loaded machine).
    expect(firstGaps.filter((gap) => gap < delay * 0.6).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...firstGaps) - Math.min(...firstGaps)).toBeGreaterThan(delay * 0.3);
  });

  it('never waits longer than maxDelay between attempts', { timeout: 40_000 }, async () => {
    const arrivals = await serveRefusing();
    const socket = client();
    const stopped = new Promise<ClientAuthError>((resolve) =>
      reconnectWithFreshToken(socket, { getToken: () => hs256({ sub: 'alice' }), delay: 200, maxDelay: 400, jitter: false, maxAttempts: 6, onStop: resolve }),
    );
    socket.connect();
    expect((await stopped).code).toBe('store_unavailable');
    const gaps = gapsOf(arrivals.get('alice')!);
    expect(gaps).toHaveLength(6);
    // Without jitter: 200, then doubling up to the cap (uncapped, the last would be 3200 and 6400 ms).
    // A loaded machine adds to a gap, never takes from it; the slack is for a slow reconnection.
    [200, 400, 400, 400, 400, 400].forEach((wait, i) => expect(gaps[i]).toBeGreaterThanOrEqual(wait - 5));
    for (const gap of gaps) expect(gap).toBeLessThan(400 + 2000);
  });

  it('takes a wait longer than a timer can hold as the longest one, never as none', async () => {
    const arrivals = await serveRefusing();
    const socket = client();
    // 2^31 ms overflows setTimeout, which then fires at once: an unbounded backoff must not become a retry storm.
    reconnectWithFreshToken(socket, { getToken: () => hs256({ sub: 'alice' }), delay: 2 ** 31, maxDelay: Infinity, jitter: false });
    socket.connect();
    const deadline = Date.now() + 5000;
    while (!arrivals.has('alice') && Date.now() < deadline) await sleep(20);
    await sleep(1000);
    expect(arrivals.get('alice')).toHaveLength(1);
  });

  it('waits for getToken() as long as it takes with tokenTimeout: Infinity', async () => {
    const arrivals = await serveRefusing();
    const socket = client();
    const stops: ClientAuthError[] = [];
    reconnectWithFreshToken(socket, { getToken: () => sleep(300).then(() => hs256({ sub: 'alice' })), tokenTimeout: Infinity, maxAttempts: 0, onStop: (e) => stops.push(e) });
    socket.connect();
    const deadline = Date.now() + 5000;
    while (stops.length === 0 && Date.now() < deadline) await sleep(20);
    expect(stops.map((e) => e.code)).toEqual(['store_unavailable']); // the server's refusal, not a token timeout
    expect(arrivals.get('alice')).toHaveLength(1);
  });

  it('stops with onStop when getToken() does not answer within tokenTimeout, and never connects with its late token', async () => {
    const arrivals = await serveRefusing();
    const socket = client();
    const started = performance.now();
    const stopped = new Promise<ClientAuthError>((resolve) =>
      reconnectWithFreshToken(socket, { getToken: () => sleep(1500).then(() => hs256({ sub: 'alice' })), tokenTimeout: 300, onStop: resolve }),
    );
    socket.connect();
    const error = await Promise.race([stopped, sleep(5000).then(() => undefined)]);
    expect(error).toMatchObject({ code: 'credentials_required', message: 'getToken() gave no token within 300 ms' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    await sleep(1800); // past the moment the late token arrives
    expect(arrivals.size).toBe(0);
    expect(socket.connected).toBe(false);
  });
});
