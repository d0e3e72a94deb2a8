/**
 * Example: the `jwt-header` strategy, `Authorization: Bearer <token>` on the
 * handshake request. Browsers cannot set headers on a WebSocket, so the page
 * uses the HTTP long-polling transport, whose requests carry `extraHeaders`;
 * Node clients can use either transport.
 *
 * Run: `npx tsx examples/jwt-header/server.ts` (PORT default 3012, TOKEN_TTL seconds default 60).
 */
import { SockPass, jwtHeader } from 'sockpass';
import { runIfMain, startTokenExample, type ExampleOptions, type ExampleServer } from '../shared/example-app.js';

export function createJwtHeaderServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startTokenExample(new URL('./public/', import.meta.url), options, 3012, ({ jwt, lifecycle }) => {
    const auth = new SockPass(lifecycle).use('jwt-header', jwtHeader(jwt));
    return { auth, middleware: auth.middleware(['jwt-header']) };
  });
}

runIfMain(import.meta.url, 'sockpass jwt-header example', () => createJwtHeaderServer());
