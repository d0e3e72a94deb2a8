/**
 * Example: the `jwt-auth` strategy, the token in the Socket.IO handshake
 * `auth` payload. `POST /login` trades a password for a short-lived JWT, the
 * page connects with `io({ auth: { token } })`, and when the server asks for
 * a fresh token (`auth:refresh`) the page gets one from `POST /token`.
 *
 * Run: `npx tsx examples/jwt-auth/server.ts` (PORT default 3010, TOKEN_TTL seconds default 60).
 */
import { SockPass, jwtAuth } from 'sockpass';
import { runIfMain, startTokenExample, type ExampleOptions, type ExampleServer } from '../shared/example-app.js';

export function createJwtAuthServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startTokenExample(new URL('./public/', import.meta.url), options, 3010, ({ jwt, lifecycle }) => {
    const auth = new SockPass(lifecycle).use('jwt-auth', jwtAuth(jwt));
    return { auth, middleware: auth.middleware(['jwt-auth']) };
  });
}

runIfMain(import.meta.url, 'sockpass jwt-auth example', () => createJwtAuthServer());
