/**
 * Example: the `jwt-authenticate-event` strategy, socketio-jwt's two-round-trip
 * flow: the page connects with no credential, then emits `authenticate` with
 * `{ token }` and waits for `authenticated`. Until then the socket is
 * quarantined: it gets no broadcast and its events reach no handler; after
 * `timeout` ms without a valid token it is told `authentication_timeout` and
 * disconnected.
 *
 * Run: `npx tsx examples/jwt-authenticate-event/server.ts` (PORT default 3013, TOKEN_TTL seconds default 60).
 */
import { SockPass, jwtAuthenticateEvent } from 'sockpass';
import { runIfMain, startTokenExample, type ExampleOptions, type ExampleServer } from '../shared/example-app.js';

export function createJwtAuthenticateEventServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startTokenExample(new URL('./public/', import.meta.url), options, 3013, ({ jwt, lifecycle }) => {
    const auth = new SockPass(lifecycle).use('jwt-authenticate-event', jwtAuthenticateEvent({ ...jwt, timeout: 10_000 }));
    return { auth, middleware: auth.middleware(['jwt-authenticate-event']) };
  });
}

runIfMain(import.meta.url, 'sockpass jwt-authenticate-event example', () => createJwtAuthenticateEventServer());
