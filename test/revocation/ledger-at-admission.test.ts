/**
 * A revoke is a record, then a kick: the ledger it writes is consulted at every
 * admission (handshake, in-band authentication, refresh, anonymous upgrade),
 * so a revoked credential cannot come straight back, and a revoke that lands
 * while a credential is being verified wins.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, anonymous, jwtAuth, jwtAuthenticateEvent, memoryLedger, type Strategy } from 'sockpass';
import { codeOf, once, outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const jwt = () => jwtAuth({ secret: SECRET, algorithms: ['HS256'] });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A promise the test releases by hand, to hold a verification open while a revoke lands. */
function gate(): { wait: Promise<void>; open(): void; entered: Promise<void>; enter(): void } {
  let open!: () => void;
  let enter!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  const entered = new Promise<void>((r) => (enter = r));
  return { wait, open, entered, enter };
}

/** A strategy whose every verification (handshake and in-band) waits for `g` to open. */
function held<U>(strategy: Strategy<U>, g: ReturnType<typeof gate>): Strategy<U> {
  const out: Strategy<U> = {
    ...strategy,
    async authenticate(ctx) {
      g.enter();
      await g.wait;
      return strategy.authenticate(ctx);
    },
  };
  if (strategy.authenticateCredential !== undefined) {
    out.authenticateCredential = async (credential) => {
      g.enter();
      await g.wait;
      return strategy.authenticateCredential!(credential);
    };
  }
  return out;
}

async function connectedSockets(): Promise<number> {
  return (await server!.io.fetchSockets()).length;
}

describe('a revoked credential stays out', () => {
  it('refuses a revoked token that reconnects on the same node with token_revoked', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const token = hs256({ sub: 'alice' });
    const first = server.client('/', { auth: { token } });
    expect(await codeOf(first)).toBe('connected');
    const gone = once(first, 'disconnect');
    await auth.revoke(server.io, { user: 'alice' });
    await gone;
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('token_revoked');
    // Another user, and alice with a token issued after the revoke, still connect.
    expect(await codeOf(server.client('/', { auth: { token: hs256({ sub: 'bob' }) } }))).toBe('connected');
    await sleep(1100);
    expect(await codeOf(server.client('/', { auth: { token: hs256({ sub: 'alice', iat: nowSeconds() }) } }))).toBe('connected');
  });

  it('revokes one token by its jti: that token is cut and refused, another token of the user is not', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const stolen = hs256({ sub: 'alice', jti: 'stolen-1' });
    const other = hs256({ sub: 'alice', jti: 'laptop-2' });
    const a = server.client('/', { auth: { token: stolen } });
    const b = server.client('/', { auth: { token: other } });
    await Promise.all([outcome(a), outcome(b)]);
    const notice = once<{ code: string }>(a, 'auth:revoked');
    await auth.revoke(server.io, { token: 'stolen-1' });
    expect((await notice).code).toBe('token_revoked');
    await sleep(100);
    expect(a.connected).toBe(false);
    expect(b.connected).toBe(true);
    expect(await codeOf(server.client('/', { auth: { token: stolen } }))).toBe('token_revoked');
  });

  it('refuses a revoked user at in-band authentication (authenticate event) with token_revoked', async () => {
    const auth = new SockPass().use('event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }));
    server = await startServer((io) => io.use(auth.middleware('event')));
    await auth.revoke(server.io, { user: 'alice' });
    const client = server.client('/');
    await outcome(client);
    const refused = once<{ data: { code: string } }>(client, 'unauthorized');
    client.emit('authenticate', { token: hs256({ sub: 'alice', iat: nowSeconds() - 5 }) });
    expect((await refused).data.code).toBe('token_revoked');
  });

  it('refuses an auth:refresh to a revoked token with token_revoked', async () => {
    const auth = new SockPass().use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'alice', jti: 'a' }) } });
    await outcome(client);
    await auth.revoke(server.io, { token: 'b' });
    const reply = (await client.timeout(3000).emitWithAck('auth:refresh', { token: hs256({ sub: 'alice', jti: 'b' }) })) as {
      error?: { code: string };
    };
    expect(reply.error?.code).toBe('token_revoked');
  });
});

describe('a revoke that lands while a credential is being verified wins', () => {
  it('leaves no connected socket when it lands during the handshake', async () => {
    const g = gate();
    const auth = new SockPass().use('jwt', held(jwt(), g));
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'alice' }) } });
    const result = codeOf(client);
    await g.entered;
    await auth.revoke(server.io, { user: 'alice' });
    g.open();
    expect(await result).toBe('token_revoked');
    await sleep(50);
    expect(await connectedSockets()).toBe(0);
  });

  it('leaves no connected socket when a destroyed session\'s handshake is in flight', async () => {
    const g = gate();
    const session: Strategy<{ id: string }> = {
      async authenticate() {
        return { kind: 'success', user: { id: 'carol' }, session: 'sid-1', expiresAt: null };
      },
    };
    const auth = new SockPass<{ id: string }>().use('session', held(session, g));
    server = await startServer((io) => io.use(auth.middleware('session')));
    const client = server.client('/');
    const result = codeOf(client);
    await g.entered;
    await auth.revoke(server.io, { session: 'sid-1' });
    g.open();
    expect(await result).toBe('token_revoked');
    expect(await connectedSockets()).toBe(0);
  });

  it('leaves no upgraded socket when it lands during an anonymous upgrade', async () => {
    const g = gate();
    const auth = new SockPass().use('jwt', held(jwt(), g)).use('anon', anonymous({ upgrade: 'jwt' }));
    server = await startServer((io) => io.use(auth.middleware(['jwt', 'anon'])));
    const client = server.client('/');
    // The anonymous handshake passes the held JWT strategy with "no credential": open it for that one.
    const opened = outcome(client);
    await g.entered;
    g.open();
    await opened;
    const g2 = gate();
    Object.assign(g, g2);
    const reply = client.timeout(3000).emitWithAck('auth:refresh', { token: hs256({ sub: 'alice' }) }) as Promise<{ error?: { code: string } }>;
    await g2.entered;
    await auth.revoke(server.io, { user: 'alice' });
    g2.open();
    expect((await reply).error?.code).toBe('token_revoked');
    await sleep(50);
    expect(client.connected).toBe(false);
    expect(await connectedSockets()).toBe(0);
  });

  it('leaves no authenticated socket when it lands during in-band authentication', async () => {
    const g = gate();
    const auth = new SockPass().use('event', held(jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'] }), g));
    server = await startServer((io) => io.use(auth.middleware('event')));
    const client = server.client('/');
    const opened = outcome(client);
    await g.entered;
    g.open();
    await opened;
    const g2 = gate();
    Object.assign(g, g2);
    const refused = once<{ data: { code: string } }>(client, 'unauthorized');
    client.emit('authenticate', { token: hs256({ sub: 'alice' }) });
    await g2.entered;
    await auth.revoke(server.io, { user: 'alice' });
    g2.open();
    expect((await refused).data.code).toBe('token_revoked');
    await sleep(50);
    expect(await connectedSockets()).toBe(0);
  });
});

describe('the revocation ledger', () => {
  it('is the one the app passes, and a revoke records in it what it revoked', async () => {
    const ledger = memoryLedger();
    const auth = new SockPass({ ledger }).use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const before = Date.now();
    await auth.revoke(server.io, { user: 'alice' });
    const hit = ledger.isRevoked({ user: 'alice', issuedAt: before - 1000 });
    expect(hit?.kind).toBe('user');
    expect(hit!.at).toBeGreaterThanOrEqual(before);
    // The default lifetime: at least the floor, at most the cap.
    expect(hit!.until - hit!.at).toBeGreaterThanOrEqual(60 * 60_000);
    expect(hit!.until - hit!.at).toBeLessThanOrEqual(30 * 24 * 60 * 60_000);
    expect(ledger.isRevoked({ user: 'alice', issuedAt: Date.now() + 1000 })).toBeUndefined();
  });

  it('keeps an entry for revocationTtl when the app sets one', async () => {
    const ledger = memoryLedger();
    const auth = new SockPass({ ledger, revocationTtl: 5000 }).use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    await auth.revoke(server.io, { session: 's' });
    const hit = ledger.isRevoked({ session: 's' });
    expect(hit!.until - hit!.at).toBe(5000);
  });

  it('rejects revoke() when the ledger cannot record, and still cuts the sockets it can reach', async () => {
    const failing = memoryLedger();
    failing.record = async () => {
      throw new Error('redis down');
    };
    const auth = new SockPass({ ledger: failing }).use('jwt', jwt());
    server = await startServer((io) => io.use(auth.middleware('jwt')));
    const client = server.client('/', { auth: { token: hs256({ sub: 'alice' }) } });
    await outcome(client);
    const gone = once(client, 'disconnect');
    await expect(auth.revoke(server.io, { user: 'alice' })).rejects.toMatchObject({ code: 'store_unavailable' });
    await gone;
  });
});
