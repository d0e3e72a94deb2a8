/**
 * Example: the `jwt-authenticate-event` strategy, socketio-jwt's two-round-trip
 * flow: the page connects with no credential, then emits `authenticate` with
 * `{ token }` and waits for `authenticated`. Until then the socket is
 * quarantined: it gets no broadcast and its events reach no handler; after
 * `timeout` ms without a valid token it is told `authentication_timeout` and
 * disconnected.
 *
 * Run: `npx tsx examples/jwt-authenticate-event/server.ts` (PORT, TOKEN_TTL from the environment).
 */
import type { Socket } from 'socket.io';
import { SockPass, jwtAuthenticateEvent } from 'sockpass';
import {
  refreshBeforeFor,
  runIfMain,
  serveMessages,
  serveTokenRoutes,
  startExample,
  userFromClaims,
  type DemoUser,
  type ExampleOptions,
  type ExampleServer,
} from '../shared/example-app.js';

export function createJwtAuthenticateEventServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 60, ({ app, io, tokens }) => {
    serveTokenRoutes(app, tokens);

    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) }).use(
      'jwt-authenticate-event',
      jwtAuthenticateEvent({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims, timeout: 10_000 }),
    );
    io.use(auth.middleware(['jwt-authenticate-event']));
    auth.onAuthenticated<Socket>(io, (socket) => {
      socket.emit('hello', socket.data.auth);
      serveMessages(io, socket, socket.data.auth.user);
    });
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass jwt-authenticate-event example', () => createJwtAuthenticateEventServer());
