/**
 * A session restored twice leaves no ghost. The in-memory adapter does not
 * delete a session when it restores it, so the same `pid`/`offset` presented
 * twice gave two sockets with one id: `revoke({ user })` cut the one in
 * `nsp.sockets`, and the other stayed connected with its handlers running.
 * sockpass restores a session once; a second attempt gets a fresh socket,
 * which authenticates as any new one (docs/lifecycle.md, restored sessions).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import { once, outcome, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/eventually.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('duplicate recovery', () => {
  it('restores one session once: the same pid and offset twice leave no ghost after a revoke', async () => {
    const auth = new SockPass().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
    const recovered: string[] = [];
    server = await startServer(
      (io) => {
        io.use(auth.middleware('jwt'));
        io.on('connection', (socket) => {
          if (socket.recovered) recovered.push(socket.id);
        });
      },
      { connectionStateRecovery: { maxDisconnectionDuration: 10_000, skipMiddlewares: true } },
    );
    const token = hs256({ sub: 'alice' }, { expiresIn: 60 });
    const first = server.client('/', { auth: { token }, reconnection: false });
    expect((await outcome(first)).connected).toBe(true);
    const got = once(first, 'offset', 5000);
    server.io.emit('offset', 1);
    await got;
    const session = first as unknown as { _pid: string; _lastOffset: string };
    const { _pid: pid, _lastOffset: offset } = session;
    expect(typeof pid).toBe('string');
    // A network blip: the transport drops, the server keeps the session for recovery.
    first.io.engine.close();
    await eventually(() => server!.io.of('/').sockets.size === 0);

    const again = [0, 1].map(() => server!.client('/', { auth: { token, pid, offset }, reconnection: false }));
    for (const c of again) expect((await outcome(c)).connected).toBe(true);
    expect(recovered.length).toBeLessThanOrEqual(1);
    expect(server.io.of('/').sockets.size).toBe(2);

    await auth.revoke(server.io, { user: 'alice' });
    await eventually(() => again.every((c) => !c.connected));
  });
});
