import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, anonymous, jwtAuth } from 'sockpass';
import type { Socket as ClientSocket } from 'socket.io-client';
import { codeOf, once, outcome, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Claims = Record<string, unknown>;

async function serve(upgrade: string | null = 'jwt-auth') {
  const auth = new SockPass<Claims>()
    .use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }))
    .use('anonymous', anonymous(upgrade === null ? {} : { upgrade }));
  const guard = auth.guard({ 'chat:send': (a) => typeof a.user.sub === 'string', 'feed:read': true });
  const chat: string[] = [];
  server = await startServer((io) => {
    io.use(auth.middleware(['jwt-auth', 'anonymous']));
    io.on('connection', (socket) => {
      socket.use(guard(socket));
      socket.on('whoami', (ack: (a: unknown) => void) => ack(socket.data.auth));
      socket.on('feed:read', (ack: (a: unknown) => void) => ack({ ok: true }));
      socket.on('chat:send', (text: string, ack: (a: unknown) => void) => {
        chat.push(text);
        ack({ ok: true });
      });
    });
  });
  return { auth, chat };
}

const ask = (client: ClientSocket, event: string, ...args: unknown[]) => client.timeout(5000).emitWithAck(event, ...args);

describe('anonymous', () => {
  it('admits a socket with no credential as anonymous, with user null', async () => {
    await serve();
    const client = server!.client();
    expect(await codeOf(client)).toBe('connected');
    expect(await ask(client, 'whoami')).toEqual({ user: null, strategy: 'anonymous', claims: {}, expiresAt: null, anonymous: true });
  });

  it('still refuses a bad credential: only sockets with none are anonymous', async () => {
    await serve();
    expect(await codeOf(server!.client('/', { auth: { token: 'not.a.jwt' } }))).toBe('invalid_token');
  });

  it('keeps guarded events closed until the socket upgrades in-band, then opens them on the same socket', async () => {
    const { auth, chat } = await serve();
    const client = server!.client();
    await outcome(client);
    const id = client.id;
    expect(await ask(client, 'feed:read')).toEqual({ ok: true });
    expect(await ask(client, 'chat:send', 'hi')).toHaveProperty('error.code', 'forbidden');

    const reply = (await ask(client, 'auth:refresh', { token: hs256({ sub: 'alice' }) })) as { expiresAt: string };
    expect(new Date(reply.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(await ask(client, 'chat:send', 'hello')).toEqual({ ok: true });
    expect(chat).toEqual(['hello']);
    expect(client.id).toBe(id);
    const me = (await ask(client, 'whoami')) as { user: { sub: string }; strategy: string; anonymous?: boolean };
    expect(me.user.sub).toBe('alice');
    expect(me.strategy).toBe('jwt-auth');
    expect(me.anonymous).toBeUndefined();

    // It joined its user room: a revoke reaches it.
    const revoked = once<{ code: string }>(client, 'auth:revoked');
    await auth.revoke(server!.io, { user: 'alice' });
    expect((await revoked).code).toBe('token_revoked');
  });

  it('refuses an upgrade with a bad token and disconnects with its code', async () => {
    await serve();
    const client = server!.client();
    await outcome(client);
    const refused = once<{ code: string }>(client, 'auth:refused');
    const disconnected = once(client, 'disconnect');
    expect(await ask(client, 'auth:refresh', { token: hs256({}, {}, 'another-secret-entirely-different!!') })).toHaveProperty(
      'error.code',
      'invalid_token',
    );
    expect((await refused).code).toBe('invalid_token');
    await disconnected;
  });

  it('refuses an upgrade when no upgrade strategy was named', async () => {
    await serve(null);
    const client = server!.client();
    await outcome(client);
    expect(await ask(client, 'auth:refresh', { token: hs256() })).toHaveProperty('error.code', 'credentials_bad_format');
  });

  it('gives an upgraded socket its token expiry', async () => {
    await serve();
    const client = server!.client();
    await outcome(client);
    const exp = (Math.floor(Date.now() / 1000) + 2) * 1000;
    await ask(client, 'auth:refresh', { token: hs256({ exp: exp / 1000 }) });
    await once(client, 'auth:expired', 5000);
    expect(Date.now() - exp).toBeLessThan(1000);
  });

  it('refuses a non-string upgrade name at construction', () => {
    expect(() => anonymous({ upgrade: '' })).toThrow(TypeError);
    expect(() => anonymous({ upgrade: 42 as unknown as string })).toThrow(TypeError);
  });
});
