/**
 * Handshakes that arrive together are held to the limit: hundreds of CONNECT
 * packets in one long-polling POST, written back to back on one WebSocket, or
 * on as many connections opened at once. No more than `points` reach the
 * strategy per window; every other one is `rate_limited` with `retryAfter`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, handshakeLimits, jwtAuth, type HandshakeLimitsOptions, type Strategy } from 'sockpass';
import { pollingBurst, websocketBurst, type BurstAnswer } from '../helpers/raw-burst.js';
import { codeOf, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** jwt-auth, counting every handshake the strategy judged. */
async function serve(limits: HandshakeLimitsOptions) {
  const jwt = jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
  const counted = { runs: 0 };
  const strategy: Strategy = {
    ...jwt,
    authenticate: (ctx) => {
      counted.runs++;
      return jwt.authenticate(ctx);
    },
  };
  const auth = new SockPass({ rateLimit: handshakeLimits(limits) }).use('jwt-auth', strategy);
  server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
  return counted;
}

const tally = (answers: BurstAnswer[]) => {
  const codes: Record<string, number> = {};
  for (const a of answers) {
    const key = a.kind === 'connected' ? 'connected' : (a.code ?? 'untyped');
    codes[key] = (codes[key] ?? 0) + 1;
  }
  return codes;
};
const withoutRetryAfter = (answers: BurstAnswer[]) =>
  answers.filter((a) => a.kind === 'refused' && a.code === 'rate_limited' && !(typeof a.retryAfter === 'number' && a.retryAfter > 0)).length;

describe('a burst of handshakes is held to the limit', () => {
  it('200 CONNECT packets in one long-polling POST: 5 judged, 195 rate_limited', async () => {
    const counted = await serve({ address: { points: 5, duration: 60 } });
    const answers = await pollingBurst(server!.url, JSON.stringify({ token: 'forged' }), 200);
    expect(answers).toHaveLength(200);
    expect(counted.runs).toBeLessThanOrEqual(5);
    expect(tally(answers)).toEqual({ invalid_token: counted.runs, rate_limited: 200 - counted.runs });
    expect(withoutRetryAfter(answers)).toBe(0);
  });

  it('200 CONNECT frames written at once on one WebSocket: 5 judged, 195 rate_limited', async () => {
    const counted = await serve({ address: { points: 5, duration: 60 } });
    const answers = await websocketBurst(server!.url, JSON.stringify({ token: 'forged' }), 200);
    expect(answers).toHaveLength(200);
    expect(counted.runs).toBeLessThanOrEqual(5);
    expect(tally(answers)).toEqual({ invalid_token: counted.runs, rate_limited: 200 - counted.runs });
    expect(withoutRetryAfter(answers)).toBe(0);
  });

  it('100 socket.io-client sockets opened together: at most 5 judged', async () => {
    const counted = await serve({ address: { points: 5, duration: 60 } });
    const codes = await Promise.all(Array.from({ length: 100 }, () => codeOf(server!.client('/', { auth: { token: 'forged' } }), 15_000)));
    expect(counted.runs).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(100 - counted.runs);
  });

  it('a burst of valid handshakes is not refused: each success gives its point back', async () => {
    const counted = await serve({ address: { points: 5, duration: 60 } });
    // Sequential waves of 4 (below the limit): every point spent in flight comes back on success.
    for (let wave = 0; wave < 5; wave++) {
      const answers = await websocketBurst(server!.url, JSON.stringify({ token: hs256() }), 4);
      expect(tally(answers)).toEqual({ connected: 4 });
    }
    expect(counted.runs).toBe(20);
    // Still all 5 points for refusals.
    const answers = await websocketBurst(server!.url, JSON.stringify({ token: 'forged' }), 20);
    expect(tally(answers)).toEqual({ invalid_token: 5, rate_limited: 15 });
  });
});
