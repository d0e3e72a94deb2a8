/**
 * Example: the `jwt-auth` strategy, the token in the Socket.IO handshake
 * `auth` payload. `POST /login` trades a password for a short-lived JWT, the
 * page connects with `io({ auth: { token } })`, and when the server asks for
 * a fresh token (`auth:refresh`) the page gets one from `POST /token`.
 *
 * Run: `npx tsx examples/jwt-auth/server.ts` (PORT, TOKEN_TTL from the environment).
 */
import type { Socket } from 'socket.io';
import { SockPass, jwtAuth } from 'sockpass';
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

export function createJwtAuthServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 60, ({ app, io, tokens }) => {
    serveTokenRoutes(app, tokens);

    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) }).use(
      'jwt-auth',
      jwtAuth({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }),
    );
    io.use(auth.middleware(['jwt-auth']));
    auth.onAuthenticated<Socket>(io, (socket) => {
      socket.emit('hello', socket.data.auth);
      serveMessages(io, socket, socket.data.auth.user);
    });
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass jwt-auth example', () => createJwtAuthServer());
