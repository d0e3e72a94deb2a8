/**
 * Metrics through the OpenTelemetry API, read back with a real SDK: a
 * MeterProvider set as the API's global provider and an in-memory reader.
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SockPass, handshakeLimits, jwks, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import { signWith, signingKey, startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256 } from '../helpers/tokens.js';
import { eventually } from '../helpers/eventually.js';

/** Collects on demand, as a pull exporter (Prometheus) does. */
class InMemoryReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let reader: InMemoryReader;
let provider: MeterProvider;
let server: TestServer | undefined;
let idp: JwksServer | undefined;

beforeEach(() => {
  reader = new InMemoryReader();
  provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
});
afterEach(async () => {
  await server?.close();
  await idp?.close();
  server = idp = undefined;
  metrics.disable();
  await provider.shutdown();
});

/** Data points of one instrument, as `attributes → value`. */
async function points(name: string): Promise<Array<DataPoint<unknown>>> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as Array<DataPoint<unknown>>;
}
async function value(name: string, attributes: Record<string, string>): Promise<unknown> {
  const point = (await points(name)).find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  return point?.value;
}

describe('metrics', () => {
  it('counts handshakes by strategy and outcome, and times them', async () => {
    const auth = new SockPass({ metrics: true })
      .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
      .use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware(['jwt-auth', 'event'])));
    for (let i = 0; i < 3; i++) expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
    expect(await codeOf(server.client('/', { auth: { token: 'bad' } }))).toBe('invalid_token');
    expect(await codeOf(server.client('/'))).toBe('connected'); // waits for the authenticate event

    expect(await value('sockpass.handshakes', { strategy: 'jwt-auth', outcome: 'success' })).toBe(3);
    expect(await value('sockpass.handshakes', { strategy: 'jwt-auth', outcome: 'invalid_token' })).toBe(1);
    expect(await value('sockpass.handshakes', { strategy: 'event', outcome: 'deferred' })).toBe(1);
    const duration = (await value('sockpass.handshake.duration', { strategy: 'jwt-auth', outcome: 'success' })) as Histogram;
    expect(duration.count).toBe(3);
    expect(duration.sum).toBeGreaterThan(0);
    expect(duration.sum).toBeLessThan(5);
  });

  it('counts rate-limited refusals by limit', async () => {
    const auth = new SockPass({ metrics: true, rateLimit: handshakeLimits({ address: { points: 1, duration: 60 } }) }).use(
      'jwt-auth',
      jwtAuth({ secret: SECRET, algorithms: ['HS256'] }),
    );
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    expect(await codeOf(server.client('/', { auth: { token: 'bad' } }))).toBe('invalid_token');
    for (let i = 0; i < 2; i++) expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('rate_limited');
    expect(await value('sockpass.rate_limited', { limit: 'address' })).toBe(2);
    expect(await value('sockpass.handshakes', { strategy: 'none', outcome: 'rate_limited' })).toBe(2);
  });

  it('counts JWKS fetches by outcome', async () => {
    const a = signingKey('a');
    idp = await startJwksServer([a]);
    const auth = new SockPass({ metrics: true }).use('jwt-auth', jwtAuth({ secret: jwks({ uri: idp.jwksUri, cooldown: 0, metrics: true }), algorithms: ['RS256'] }));
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    expect(await codeOf(server.client('/', { auth: { token: signWith(a) } }))).toBe('connected');
    await idp.setMode('down');
    expect(await codeOf(server.client('/', { auth: { token: signWith(signingKey('b')) } }))).toBe('key_unavailable');
    expect(await value('sockpass.jwks.fetches', { outcome: 'success' })).toBe(1);
    expect(await value('sockpass.jwks.fetches', { outcome: 'failure' })).toBe(1);
  });

  it('follows authenticated sockets, refreshes, expiries and revocations through the lifecycle', async () => {
    const auth = new SockPass({ metrics: true }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    const sockets = { strategy: 'jwt-auth', namespace: '/' };
    const alice = server.client('/', { auth: { token: hs256({ sub: 'alice' }) } });
    const bob = server.client('/', { auth: { token: hs256({ sub: 'bob' }) } });
    const brief = server.client('/', { auth: { token: hs256({ sub: 'carol', exp: Math.floor(Date.now() / 1000) + 2 }) } });
    for (const c of [alice, bob, brief]) expect(await codeOf(c)).toBe('connected');
    expect(await value('sockpass.sockets.authenticated', sockets)).toBe(3);

    const reply = await alice.timeout(5000).emitWithAck('auth:refresh', { token: hs256({ sub: 'alice' }) });
    expect(reply).toHaveProperty('expiresAt');
    await expect(alice.timeout(5000).emitWithAck('auth:refresh', { token: 'forged' })).resolves.toHaveProperty('error.code', 'invalid_token');
    expect(await value('sockpass.refreshes', { strategy: 'jwt-auth', outcome: 'success' })).toBe(1);
    expect(await value('sockpass.refreshes', { strategy: 'jwt-auth', outcome: 'invalid_token' })).toBe(1);

    await once(brief, 'disconnect', 5000);
    expect(await value('sockpass.expiries', { strategy: 'jwt-auth' })).toBe(1);

    await auth.revoke(server.io, { user: 'bob' });
    await once(bob, 'disconnect', 5000);
    expect(await value('sockpass.revocations', { target: 'user' })).toBe(1);
    // alice was cut by her refused refresh, carol expired, bob was revoked: none is left.
    await eventually(async () => expect(await value('sockpass.sockets.authenticated', sockets)).toBe(0), { timeout: 1000 });
  });

  it('records nothing, and costs nothing, once the SDK is gone; picks up a provider installed later', async () => {
    const auth = new SockPass({ metrics: true }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('jwt-auth')));
    metrics.disable();
    expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
    expect(await points('sockpass.handshakes')).toEqual([]);
    metrics.setGlobalMeterProvider(provider);
    expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
    expect(await value('sockpass.handshakes', { strategy: 'jwt-auth', outcome: 'success' })).toBe(1);
  });

  it('keeps the outcome of a handshake after one user opened 300 dynamic namespaces', async () => {
    const auth = new SockPass({ metrics: true }).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.of(/^\/room-\d+$/).use(auth.middleware('jwt-auth')));
    const token = hs256({ sub: 'mallory' });
    for (let i = 0; i < 300; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => server!.client(`/room-${i + j}`, { auth: { token } }));
      for (const c of batch) expect(await codeOf(c)).toBe('connected');
      for (const c of batch) c.disconnect();
    }
    expect(await codeOf(server.client('/room-9999', { auth: { token: 'forged' } }))).toBe('invalid_token');
    expect(await value('sockpass.handshakes', { strategy: 'jwt-auth', outcome: 'invalid_token' })).toBe(1);
    expect(await value('sockpass.handshakes', { strategy: 'jwt-auth', outcome: 'success' })).toBe(300);
  }, 60_000);

  it('records the outcome of the in-band authenticate event', async () => {
    const auth = new SockPass({ metrics: true }).use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('event')));
    const good = server.client('/');
    expect(await codeOf(good)).toBe('connected');
    const authenticated = once(good, 'authenticated', 5000);
    good.emit('authenticate', { token: hs256() });
    await authenticated;
    const bad = server.client('/');
    expect(await codeOf(bad)).toBe('connected');
    const refused = once(bad, 'unauthorized', 5000);
    bad.emit('authenticate', { token: 'forged' });
    await refused;
    expect(await value('sockpass.handshakes', { strategy: 'event', outcome: 'deferred' })).toBe(2);
    expect(await value('sockpass.handshakes', { strategy: 'event', outcome: 'success' })).toBe(1);
    expect(await value('sockpass.handshakes', { strategy: 'event', outcome: 'invalid_token' })).toBe(1);
  });
});
