/**
 * `revoke({ token })` on one node finds the token's sockets through the
 * Lifecycle's token index (`src/life/token-index.ts`), not by walking every
 * socket: each socket is filed under the `jti` of the credential it holds now
 * (handshake, in-band `authenticate`, `auth:refresh` to a new token, anonymous
 * upgrade), moved when that changes, and forgotten at disconnect. Real server,
 * real clients; the index is read through the registry's internal
 * `lifecycle` seam.
 */
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, anonymous, jwtAuth, jwtAuthenticateEvent } from 'sockpass';
import { eventually } from '../helpers/eventually.js';
import { once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const jwt = () => jwtAuth({ secret: SECRET, algorithms: ['HS256'] });

function watch(client: ClientSocket) {
  const events: string[] = [];
  const notices: unknown[] = [];
  client.on('auth:revoked', (n: unknown) => {
    events.push('auth:revoked');
    notices.push(n);
  });
  const ended = new Promise<void>((resolve) =>
    client.on('disconnect', () => {
      events.push('disconnect');
      resolve();
    }),
  );
  return { events, notices, ended };
}

async function refresh(client: ClientSocket, token: string): Promise<void> {
  const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token })) as { error?: { code: string } };
  expect(reply.error).toBeUndefined();
}

describe('the token index', () => {
  it('files each socket under its jti, moves it on refresh, and is empty once every socket disconnected', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => {
      io.use(auth.middleware('jwt'));
      io.of('/admin').use(auth.middleware('jwt'));
    });
    const tokens = auth.lifecycle.tokens;
    const shared = hs256({ sub: 'alice', jti: 'a-1' }, { expiresIn: 60 });
    const tab1 = server.client('/', { auth: { token: shared } });
    const tab2 = server.client('/admin', { auth: { token: shared } });
    const noJti = server.client('/', { auth: { token: hs256({ sub: 'bob' }) } });
    for (const c of [tab1, tab2, noJti]) expect((await outcome(c)).connected).toBe(true);
    expect(tokens.size).toBe(1);
    expect(tokens.holders('a-1')).toHaveLength(2);

    await refresh(tab1, hs256({ sub: 'alice', jti: 'a-2' }, { expiresIn: 120 }));
    expect(tokens.holders('a-1')).toHaveLength(1);
    expect(tokens.holders('a-2')).toHaveLength(1);
    // A refresh to a token without a jti takes the socket out.
    await refresh(tab2, hs256({ sub: 'alice' }, { expiresIn: 120 }));
    expect(tokens.holders('a-1')).toHaveLength(0);
    expect(tokens.size).toBe(1);

    for (const c of [tab1, tab2, noJti]) c.disconnect();
    await eventually(() => expect(tokens.size).toBe(0));
  });

  it('files a socket that authenticated in-band or upgraded from anonymous, and forgets it at disconnect', async () => {
    const auth = new SockPass()
      .use('jwt', jwt())
      .use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }))
      .use('anon', anonymous({ upgrade: 'jwt' }));
    server = await startServer((io) => {
      io.of('/event').use(auth.middleware('event'));
      io.of('/open').use(auth.middleware('anon'));
    });
    const tokens = auth.lifecycle.tokens;
    const inBand = server.client('/event');
    expect((await outcome(inBand)).connected).toBe(true);
    const authenticated = once(inBand, 'authenticated');
    inBand.emit('authenticate', { token: hs256({ sub: 'carol', jti: 'c-1' }) });
    await authenticated;
    await eventually(() => expect(tokens.holders('c-1')).toHaveLength(1));

    const visitor = server.client('/open');
    expect((await outcome(visitor)).connected).toBe(true);
    expect(tokens.size).toBe(1);
    await refresh(visitor, hs256({ sub: 'dan', jti: 'd-1' }));
    expect(tokens.holders('d-1')).toHaveLength(1);

    const cut = watch(visitor);
    await auth.revoke(server.io, { token: 'd-1' });
    await cut.ended;
    expect(cut.events).toEqual(['auth:revoked', 'disconnect']);
    inBand.disconnect();
    await eventually(() => expect(tokens.size).toBe(0));
  });
});

describe('the token index and connection state recovery', () => {
  it('files a recovered socket again under its jti, once, and revoke({ token }) cuts it', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')), {
      connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: true },
    });
    const tokens = auth.lifecycle.tokens;
    const client = server.client('/', { reconnection: true, randomizationFactor: 0, auth: { token: hs256({ sub: 'gus', jti: 'g-1' }, { expiresIn: 60 }) } });
    expect((await outcome(client)).connected).toBe(true);
    // Recovery restores from the offset of the last broadcast the client got.
    const got = once(client, 'offset', 5000);
    server.io.emit('offset', 1);
    await got;
    client.io.opts.reconnectionDelay = 50;
    client.io.opts.reconnectionDelayMax = 50;
    const back = once(client, 'connect', 10_000);
    client.io.engine.close();
    await back;
    expect(client.recovered).toBe(true);
    // The dropped socket's entry went at its disconnect; the restored one is filed.
    expect(tokens.holders('g-1')).toHaveLength(1);
    expect(tokens.holders('g-1')[0]!.socket.id).toBe(client.id);
    client.io.opts.reconnection = false;
    const cut = watch(client);
    await auth.revoke(server.io, { token: 'g-1' });
    await cut.ended;
    expect(cut.events).toEqual(['auth:revoked', 'disconnect']);
    expect(tokens.size).toBe(0);
  });
});

describe('revoke({ token }) on one node', () => {
  it('leaves a socket refreshed away from the revoked jti, and cuts it by its new jti', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'erin', jti: 'old' }, { expiresIn: 60 }) } });
    const other = server.client('/', { auth: { token: hs256({ sub: 'erin', jti: 'old' }, { expiresIn: 60 }) } });
    expect((await outcome(client)).connected).toBe(true);
    expect((await outcome(other)).connected).toBe(true);
    await refresh(client, hs256({ sub: 'erin', jti: 'new' }, { expiresIn: 120 }));
    const w = watch(client);
    const o = watch(other);

    await auth.revoke(server.io, { token: 'old' });
    await o.ended;
    expect(o.events).toEqual(['auth:revoked', 'disconnect']);
    await sleep(200);
    expect(client.connected).toBe(true);
    expect(w.events).toEqual([]);

    await auth.revoke(server.io, { token: 'new' }, 'token leaked');
    await w.ended;
    expect(w.events).toEqual(['auth:revoked', 'disconnect']);
    expect(w.notices).toEqual([{ code: 'token_revoked', message: 'token leaked', action: 'login' }]);
    await eventually(() => expect(auth.lifecycle.tokens.size).toBe(0));
  });

  it('does not ask the in-memory adapter to relay to other nodes (it has none, and would only warn)', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'fay', jti: 'f-1' }) } });
    expect((await outcome(client)).connected).toBe(true);
    const warnings: unknown[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      const w = watch(client);
      // Resolves: no other node to wait for.
      await auth.revoke(server.io, { token: 'f-1' });
      await w.ended;
    } finally {
      console.warn = warn;
    }
    expect(warnings).toEqual([]);
  });
});
