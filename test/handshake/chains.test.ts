import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth, jwtAuthenticateEvent, jwtHeader, type FailureEvent, type Strategy } from 'sockpass';
import { codeOf, once, startServer, type TestServer } from '../helpers/server.js';
import { SECRET, hs256, rs256, rsa, signRawPayload } from '../helpers/tokens.js';

let server: TestServer;
afterEach(() => server?.close());

function registry() {
  return new SockPass()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
    .use('jwt-header', jwtHeader({ secret: rsa.publicKey, algorithms: ['RS256'] }));
}

describe('mode first', () => {
  it('lets the first strategy that finds credentials decide, even when a later one would succeed', async () => {
    const auth = registry();
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'jwt-header']));
      auth.onAuthenticated(io, (s) => s.emit('seen', s.data.auth.strategy));
    });
    const headerOnly = server.client('/', { extraHeaders: { Authorization: `Bearer ${rs256()}` } });
    expect(await once(headerOnly, 'seen')).toBe('jwt-header');
    const badAuthGoodHeader = server.client('/', {
      auth: { token: 'garbage' },
      extraHeaders: { Authorization: `Bearer ${rs256()}` },
    });
    expect(await codeOf(badAuthGoodHeader)).toBe('invalid_token');
  });
});

describe('mode all', () => {
  it('keeps a signed top-level __proto__ claim an own property: claims inherit nothing, guards see nothing', async () => {
    const auth = registry();
    const guard = auth.guard({ 'admin:ban': (a) => a.claims.role === 'admin' });
    let seen: { proto: unknown; role: unknown; own: unknown } | undefined;
    const handled: string[] = [];
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'jwt-header'], { mode: 'all' }));
      auth.onAuthenticated(io, (s) => {
        const claims = s.data.auth.claims;
        seen = { proto: Object.getPrototypeOf(claims), role: claims.role, own: Object.getOwnPropertyDescriptor(claims, '__proto__')?.value };
        s.use(guard(s));
        s.on('admin:ban', () => handled.push('admin:ban'));
        s.emit('ready');
      });
    });
    const hostile = `{"sub":"alice","exp":${Math.floor(Date.now() / 1000) + 60},"__proto__":{"role":"admin"}}`;
    const client = server.client('/', {
      auth: { token: signRawPayload(hostile, 'HS256') },
      extraHeaders: { Authorization: `Bearer ${signRawPayload(hostile, 'RS256')}` },
    });
    await once(client, 'ready');
    const refused = once<{ event: string }>(client, 'auth:forbidden');
    client.emit('admin:ban');
    expect((await refused).event).toBe('admin:ban');
    expect(handled).toEqual([]);
    expect(seen).toEqual({ proto: Object.prototype, role: undefined, own: { role: 'admin' } });
  });

  it('needs every strategy, for the same user', async () => {
    const auth = registry();
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth', 'jwt-header'], { mode: 'all' }));
      auth.onAuthenticated(io, (s) => s.emit('seen', s.data.auth));
    });
    const both = server.client('/', {
      auth: { token: hs256({ sub: 'alice', a: 1 }) },
      extraHeaders: { Authorization: `Bearer ${rs256({ sub: 'alice', b: 2 }, { expiresIn: 30 })}` },
    });
    const seen = await once<{ strategy: string; claims: Record<string, number>; expiresAt: string }>(both, 'seen');
    expect(seen.strategy).toBe('jwt-auth+jwt-header');
    expect(seen.claims).toMatchObject({ a: 1, b: 2 });
    // the sooner of the two expiries
    expect(new Date(seen.expiresAt).getTime()).toBeLessThan(Date.now() + 31_000);

    expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('credentials_required');
    const mismatch = server.client('/', {
      auth: { token: hs256({ sub: 'alice' }) },
      extraHeaders: { Authorization: `Bearer ${rs256({ sub: 'mallory' })}` },
    });
    expect(await codeOf(mismatch)).toBe('user_mismatch');
  });
});

describe('namespaces', () => {
  it('runs a different chain on each namespace, including dynamic ones', async () => {
    const auth = registry();
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      io.of('/admin').use(auth.middleware('jwt-header'));
      const rooms = io.of(/^\/room-\d+$/);
      rooms.use(auth.middleware('jwt-auth'));
      auth.onAuthenticated(io.of('/admin'), (s) => s.emit('seen', `admin:${s.data.auth.strategy}`));
      auth.onAuthenticated(rooms, (s) => s.emit('seen', `${s.nsp.name}:${s.data.auth.strategy}`));
    });
    const admin = server.client('/admin', { extraHeaders: { Authorization: `Bearer ${rs256()}` } });
    expect(await once(admin, 'seen')).toBe('admin:jwt-header');
    expect(await codeOf(server.client('/admin', { auth: { token: hs256() } }))).toBe('credentials_required');
    const room = server.client('/room-7', { auth: { token: hs256() } });
    expect(await once(room, 'seen')).toBe('/room-7:jwt-auth');
    expect(await codeOf(server.client('/room-8'))).toBe('credentials_required');
  });

  it('works on a namespace chosen by a function', async () => {
    const auth = registry();
    server = await startServer((io) => {
      const tenants = io.of((name, _auth, next) => next(null, name.startsWith('/tenant-')));
      tenants.use(auth.middleware('jwt-header'));
      auth.onAuthenticated(tenants, (s) => s.emit('seen', s.nsp.name));
    });
    const ok = server.client('/tenant-a', { extraHeaders: { Authorization: `Bearer ${rs256()}` } });
    expect(await once(ok, 'seen')).toBe('/tenant-a');
    expect(await codeOf(server.client('/tenant-b', { auth: { token: hs256() } }))).toBe('credentials_required');
  });

  it('fires onAuthenticated only for authenticated sockets of its namespace', async () => {
    const auth = registry();
    const seen: string[] = [];
    server = await startServer((io) => {
      io.use(auth.middleware('jwt-auth'));
      io.of('/other').use(auth.middleware('jwt-auth'));
      auth.onAuthenticated(io, (s) => seen.push(`${s.nsp.name}:${(s.data.auth.user as { sub: string }).sub}`));
    });
    await codeOf(server.client('/', { auth: { token: 'bad' } }));
    await codeOf(server.client('/other', { auth: { token: hs256({ sub: 'o' }) } }));
    const ok = server.client('/', { auth: { token: hs256({ sub: 'm' }) } });
    expect(await codeOf(ok)).toBe('connected');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(['/:m']);
  });
});

describe('failure hook', () => {
  it('reports code, strategy, namespace and address, never the token', async () => {
    const auth = registry();
    const failures: FailureEvent[] = [];
    auth.on('failure', (f) => failures.push(f));
    server = await startServer((io) => io.use(auth.middleware(['jwt-auth'])));
    const token = hs256({ exp: Math.floor(Date.now() / 1000) - 5 });
    expect(await codeOf(server.client('/', { auth: { token } }))).toBe('token_expired');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toEqual({ code: 'token_expired', strategy: 'jwt-auth', namespace: '/', address: expect.stringContaining('127.0.0.1') });
    expect(JSON.stringify(failures)).not.toContain(token);
  });

  it('contains a failure listener that throws: the handshake is refused with server_error and the server keeps serving', async () => {
    const auth = registry().use('jwt-event', jwtAuthenticateEvent({ secret: SECRET, algorithms: ['HS256'], timeout: 5000 }));
    let calls = 0;
    auth.on('failure', () => {
      calls++;
      throw new Error('rate limiter bug');
    });
    server = await startServer((io) => {
      io.use(auth.middleware(['jwt-auth']));
      io.of('/event').use(auth.middleware(['jwt-event']));
    });
    expect(await codeOf(server.client('/', { auth: { token: 'not-a-jwt' } }))).toBe('server_error');
    // In-band refusal: told and disconnected, no crash.
    const inBand = server.client('/event');
    inBand.on('connect', () => inBand.emit('authenticate', { token: 'not-a-jwt' }));
    const cut = once(inBand, 'disconnect');
    expect((await once<{ data: { code: string } }>(inBand, 'unauthorized')).data.code).toBe('invalid_token');
    await cut;
    expect(calls).toBe(2);
    expect(await codeOf(server.client('/', { auth: { token: hs256() } }))).toBe('connected');
  });
});

describe('custom strategies', () => {
  it('turns a throwing strategy into server_error without leaking its message', async () => {
    const boom: Strategy<unknown> = {
      async authenticate() {
        throw new Error('secret internals: db password is hunter2');
      },
    };
    const auth = new SockPass().use('boom', boom);
    server = await startServer((io) => io.use(auth.middleware('boom')));
    const client = server.client('/');
    const err = await once<Error & { data: { code: string; message: string } }>(client, 'connect_error');
    expect(err.data.code).toBe('server_error');
    expect(JSON.stringify(err.data) + err.message).not.toContain('hunter2');
  });
});
