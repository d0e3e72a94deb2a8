import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import type { Socket } from 'socket.io';
import { outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';
import { queuedDeadlines } from '../../src/life/lifecycle.js';
import { getState } from '../../src/life/socket-state.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('what an idle authenticated socket keeps', () => {
  it('keeps one record (no second Date, no copy of the result), no cleanup list of its own, and leaves no deadline behind when it goes', async () => {
    const sockets: Socket[] = [];
    server = await startServer((io) => {
      const auth = new SockPass().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
      io.use(auth.middleware('jwt'));
      auth.onAuthenticated(io, (socket) => sockets.push(socket as unknown as Socket));
    });
    const before = queuedDeadlines();
    const clients = [0, 1, 2].map((i) => server!.client('/', { auth: { token: hs256({ sub: `user-${i}` }, { expiresIn: 60 }) } }));
    for (const c of clients) expect((await outcome(c)).connected).toBe(true);
    for (let t = 0; t < 40 && sockets.length < 3; t++) await sleep(25);

    expect(queuedDeadlines() - before).toBe(3);
    // The record is the claims, the user and one Date: a JWT's issue time is read from claims.iat, not kept as a second Date.
    for (const socket of sockets) {
      expect(Object.keys(socket.data.auth as object)).toEqual(['user', 'strategy', 'claims', 'expiresAt']);
      // The state points at that same record rather than keeping the strategy's result beside it.
      expect(getState(socket)?.auth).toBe(socket.data.auth);
    }
    // The deadline's cancel runs for every socket from one process-wide step: nothing per socket (~60 B each).
    for (const socket of sockets) expect(getState(socket)?.cleanup).toHaveLength(0);

    clients[0]!.disconnect();
    for (let t = 0; t < 40 && queuedDeadlines() - before > 2; t++) await sleep(25);
    expect(queuedDeadlines() - before).toBe(2);
    // The server cutting a socket takes its deadline too.
    sockets[1]!.disconnect(true);
    for (let t = 0; t < 40 && queuedDeadlines() - before > 1; t++) await sleep(25);
    expect(queuedDeadlines() - before).toBe(1);
  });
});
