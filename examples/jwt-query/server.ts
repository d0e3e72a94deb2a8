/**
 * Example: the `jwt-query` strategy, the token in the handshake URL
 * (`?token=…`), as socketio-jwt's legacy clients send it. The strategy removes
 * the token from `handshake.query` and the request URL once read, but every
 * proxy on the way has seen the URL: the page says so.
 *
 * Run: `npx tsx examples/jwt-query/server.ts` (PORT default 3011, TOKEN_TTL seconds default 60).
 */
import { SockPass, jwtQuery } from 'sockpass';
import { runIfMain, startTokenExample, type ExampleOptions, type ExampleServer } from '../shared/example-app.js';

export function createJwtQueryServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startTokenExample(new URL('./public/', import.meta.url), options, 3011, ({ jwt, lifecycle }) => {
    const auth = new SockPass(lifecycle).use('jwt-query', jwtQuery(jwt));
    return { auth, middleware: auth.middleware(['jwt-query']) };
  });
}

runIfMain(import.meta.url, 'sockpass jwt-query example', () => createJwtQueryServer());
