/**
 * Example: the `jwt-auth` strategy, the token in the Socket.IO handshake
 * `auth` payload. `POST /login` trades a password for a short-lived JWT, the
 * page connects with `io({ auth: { token } })`, and when the server asks for
 * a fresh token (`auth:refresh`) the page gets one from `POST /token`.
 *
 * Run: `npx tsx examples/jwt-auth/server.ts` (PORT, TOKEN_TTL from the environment).
 */
import { fileURLToPath } from 'node:url';
import { Server, type Socket } from 'socket.io';
import { SockPass, jwtAuth } from 'sockpass';
import {
  closeServer,
  createExampleApp,
  createTokenIssuer,
  envPort,
  envTokenTtl,
  listen,
  newHttpServer,
  refreshBeforeFor,
  runIfMain,
  serveMessages,
  serveTokenRoutes,
  startTicker,
  userFromClaims,
  type DemoUser,
  type ExampleOptions,
  type ExampleServer,
} from '../shared/example-app.js';

export async function createJwtAuthServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  const tokens = createTokenIssuer(options.tokenTtl ?? envTokenTtl(60));
  const app = createExampleApp(fileURLToPath(new URL('./public/', import.meta.url)));
  serveTokenRoutes(app, tokens);

  const http = newHttpServer(app);
  const io = new Server(http);
  const auth = new SockPass<DemoUser>({ refreshBefore: refreshBeforeFor(tokens.ttl) }).use(
    'jwt-auth',
    jwtAuth({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }),
  );
  io.use(auth.middleware(['jwt-auth']));
  auth.onAuthenticated<Socket>(io, (socket) => {
    socket.emit('hello', socket.data.auth);
    serveMessages(io, socket, socket.data.auth.user);
  });
  const stopTicker = startTicker([io]);

  const { url, port } = await listen(http, options.port ?? envPort(), options.host);
  return {
    url,
    port,
    http,
    io,
    async close() {
      stopTicker();
      await closeServer(io, http);
    },
  };
}

runIfMain(import.meta.url, 'sockpass jwt-auth example', () => createJwtAuthServer());
