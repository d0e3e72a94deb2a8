/**
 * Example: the `jwt-header` strategy, `Authorization: Bearer <token>` on the
 * handshake request. Browsers cannot set headers on a WebSocket, so the page
 * uses the HTTP long-polling transport, whose requests carry `extraHeaders`;
 * Node clients can use either transport.
 *
 * Run: `npx tsx examples/jwt-header/server.ts` (PORT, TOKEN_TTL from the environment).
 */
import type { Socket } from 'socket.io';
import { SockPass, jwtHeader } from 'sockpass';
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

export function createJwtHeaderServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 60, ({ app, io, tokens }) => {
    serveTokenRoutes(app, tokens);

    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) }).use(
      'jwt-header',
      jwtHeader({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }),
    );
    io.use(auth.middleware(['jwt-header']));
    auth.onAuthenticated<Socket>(io, (socket) => {
      socket.emit('hello', socket.data.auth);
      serveMessages(io, socket, socket.data.auth.user);
    });
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass jwt-header example', () => createJwtHeaderServer());
