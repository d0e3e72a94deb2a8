/**
 * Example: the `session` strategy, the approach passport.socketio took. The
 * web app logs the user in with passport-style `req.login` into an
 * express-session (MemoryStore here; any store works); the socket handshake
 * carries the session cookie the browser already has, and the strategy
 * deserializes the same user `req.user` would be. Only this page's own
 * `Origin` is trusted (cross-site WebSocket hijacking), logging out revokes the
 * session's sockets at once, and a socket never outlives its session.
 *
 * Run: `npx tsx examples/session/server.ts` (PORT default 3014; TOKEN_TTL is the session's lifetime in seconds, default 30 minutes).
 */
import { SockPass, sessionCookie } from 'sockpass';
import {
  envPort,
  runIfMain,
  serveDemoSockets,
  startExample,
  type DemoUser,
  type ExampleOptions,
  type ExampleServer,
} from '../shared/example-app.js';
import { SESSION_COOKIE, loggedInAt, mountWebLogin, ownOrigins, serveWebLogin } from '../shared/web-login.js';

export function createSessionServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), { ...options, port: options.port ?? envPort(3014) }, 1800, ({ app, http, io, tokens }) => {
    const web = mountWebLogin(app, { ttlSeconds: tokens.ttl });
    const auth = new SockPass<DemoUser>().use(
      'session',
      sessionCookie<DemoUser>({
        session: web.sessions,
        passport: web.passport,
        name: SESSION_COOKIE,
        allowedOrigins: ownOrigins(http),
        issuedAt: loggedInAt,
      }),
    );
    serveWebLogin(app, {
      // The sockets of this session go with it, on every node (through the adapter).
      onLogout: (sessionId) => auth.revoke(io, { session: sessionId }, 'you logged out'),
    });

    io.use(auth.middleware(['session']));
    serveDemoSockets(auth, io);
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass session example', () => createSessionServer());
