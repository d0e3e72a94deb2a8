/**
 * Example: the `jwt-query` strategy, the token in the handshake URL
 * (`?token=…`), as socketio-jwt's legacy clients send it. The strategy removes
 * the token from `handshake.query` and the request URL once read, but every
 * proxy on the way has seen the URL: the page says so.
 *
 * Run: `npx tsx examples/jwt-query/server.ts` (PORT, TOKEN_TTL from the environment).
 */
import type { Socket } from 'socket.io';
import { SockPass, jwtQuery } from 'sockpass';
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

export function createJwtQueryServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), options, 60, ({ app, io, tokens }) => {
    serveTokenRoutes(app, tokens);

    const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) }).use(
      'jwt-query',
      jwtQuery({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }),
    );
    io.use(auth.middleware(['jwt-query']));
    auth.onAuthenticated<Socket>(io, (socket) => {
      socket.emit('hello', socket.data.auth);
      serveMessages(io, socket, socket.data.auth.user);
    });
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass jwt-query example', () => createJwtQueryServer());
