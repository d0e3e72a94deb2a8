/**
 * Found by the compare example's browser test: once `onAuthenticated(io)`
 * attached a registry to the whole Server (so that it judges recovery on
 * every namespace), it also started the sockets another registry admitted on
 * its own namespace, with its own options: a `refreshBefore` that registry
 * never set asked the client for a refresh over and over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SockPass, jwtAuth } from 'sockpass';
import { outcome, sleep, startServer, type TestServer } from '../helpers/server.js';
import { hs256, SECRET } from '../helpers/tokens.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('two registries on one server', () => {
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
