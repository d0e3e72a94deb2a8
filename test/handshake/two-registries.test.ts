/**
 * Found by the compare example's browser test: once `onAuthenticated(io)`
 * attached a registry to the whole Server (so that it judges recovery on
 * every namespace), it also started the sockets another registry admitted on
 * its own namespace, with its own options: a `refreshBefore` that registry
 * never set asked the client for a refresh over and over.
 */
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Collects on demand, as a pull exporter does. */
class InMemoryReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A registry with its own meter, and a way to read back what it recorded. */
function registry() {
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  const auth = new SockPass({ metrics: { meter: provider.getMeter('sockpass') } }).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const handshakes = async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics).find((m) => m.descriptor.name === 'sockpass.handshakes');
    return (metric?.dataPoints ?? []).reduce((sum, p) => sum + (p.value as number), 0);
  };
  return { auth, handshakes, provider };
}

describe('two registries on one server', () => {
  it('share nothing: each has its own deadlines, ledger, namespaces and metrics', async () => {
    const a = registry();
    const b = registry();
    server = await startServer((io) => {
      io.of('/a').use(a.auth.middleware('jwt'));
      io.of('/b').use(b.auth.middleware('jwt'));
    });
    const exp = Math.floor(Date.now() / 1000) + 60;
    const onA = server.client('/a', { auth: { token: hs256({ sub: 'alice', exp }) } });
    const onB = server.client('/b', { auth: { token: hs256({ sub: 'alice', exp }) } });
    const alsoB = server.client('/b', { auth: { token: hs256({ sub: 'bob', exp }) } });
    for (const c of [onA, onB, alsoB]) expect((await outcome(c)).connected).toBe(true);

    expect(a.auth.lifecycle.deadlines.size).toBe(1);
    expect(b.auth.lifecycle.deadlines.size).toBe(2);
    expect([...a.auth.lifecycle.namespaces.values()].map((n) => n.name)).toEqual(['/a']);
    expect([...b.auth.lifecycle.namespaces.values()].map((n) => n.name)).toEqual(['/b']);
    expect(await a.handshakes()).toBe(1);
    expect(await b.handshakes()).toBe(2);

    // A revocation through one registry is recorded in its ledger only, and cuts only its sockets.
    const cut = once(onA, 'disconnect', 5000);
    await a.auth.revoke(server.io.of('/a'), { user: 'alice' });
    await cut;
    expect(a.auth.lifecycle.ledger.size).toBe(1);
    expect(b.auth.lifecycle.ledger.size).toBe(0);
    await sleep(200);
    expect(onB.connected).toBe(true);
    expect(a.auth.lifecycle.deadlines.size).toBe(0);
    expect(b.auth.lifecycle.deadlines.size).toBe(2);
    await Promise.all([a.provider.shutdown(), b.provider.shutdown()]);
  });

  it('leaves the sockets of the other registry to it: no refresh notice it did not configure', async () => {
    const main = new SockPass({ refreshBefore: 60_000 }).use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const other = new SockPass().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const seenByMain: string[] = [];
    server = await startServer((io) => {
      io.use(main.middleware('jwt'));
      main.onAuthenticated(io, (socket) => seenByMain.push(socket.id));
      io.of('/other').use(other.middleware('jwt'));
    });
    const client = server.client('/other', { auth: { token: hs256({ exp: Math.floor(Date.now() / 1000) + 3 }) } });
    let notices = 0;
    client.on('auth:refresh', () => notices++);
    expect((await outcome(client)).connected).toBe(true);
    await sleep(1800);
    expect(notices).toBe(0);
    expect(seenByMain).toEqual([]);
  });
});
