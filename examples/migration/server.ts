/**
 * Example: migrating from passport.socketio (session cookie) to tokens
 * without a flag day. One server, one chain, mode `first`:
 *
 *   io.use(auth.middleware(['jwt-auth', 'session']))
 *
 * A client that sends a token in the handshake `auth` payload is decided by
 * `jwt-auth`; a client that sends none (an old page, an old app build) falls
 * through to `session`, which reads the express-session cookie and the
 * passport user exactly as passport.socketio did. The token goes first
 * because a browser sends the cookie on every same-origin handshake, so with
 * the session first a migrated page could never reach the token strategy.
 * `POST /login` issues both — the session cookie and, in the JSON answer, a
 * JWT for the same user — and both yield the same `socket.data.auth.user`.
 *
 * Run: `npx tsup && npx tsx examples/migration/server.ts` (PORT default 3002;
 * TOKEN_TTL seconds, default 15 minutes; the session lives 30 minutes).
 */
import type { Socket } from 'socket.io';
import { SockPass, jwtAuth, sessionCookie } from 'sockpass';
import {
  envPort,
  runIfMain,
  serveMessages,
  startExample,
  userFromClaims,
  type DemoUser,
  type ExampleOptions,
  type ExampleServer,
} from '../shared/example-app.js';
import { SESSION_COOKIE, loggedInAt, mountWebLogin, ownOrigins, serveWebLogin } from '../shared/web-login.js';

/** The chain, in the order that lets migrated clients use their token. */
export const MIGRATION_CHAIN = ['jwt-auth', 'session'] as const;

export function createMigrationServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  const withPort = { ...options, port: options.port ?? envPort(3002) };
  return startExample(new URL('./public/', import.meta.url), withPort, 900, ({ app, http, io, tokens }) => {
    // Step 1 of the migration: the web app's login stays as it was (express-session + passport).
    const web = mountWebLogin(app, { ttlSeconds: 1800 });

    const auth = new SockPass<DemoUser>()
      // Step 3: the token strategy, for clients that already send a token.
      .use('jwt-auth', jwtAuth<DemoUser>({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }))
      // Step 2: what passport.socketio did, for clients that do not yet.
      .use(
        'session',
        sessionCookie<DemoUser>({ session: web.sessions, passport: web.passport, name: SESSION_COOKIE, allowedOrigins: ownOrigins(http), issuedAt: loggedInAt }),
      );

    serveWebLogin(app, {
      // /login answers with a token for the same user, next to the session cookie it sets.
      loginBody: (user) => {
        const issued = tokens.issue(user);
        return { token: issued.token, tokenExpiresAt: issued.expiresAt };
      },
      // Logging out ends the user's sockets, whichever credential admitted them.
      onLogout: async (_sid, user) => {
        if (user !== undefined) await auth.revoke(io, { user: user.id }, 'you logged out');
      },
    });
    // What the web app itself thinks, for comparison with the socket's user.
    app.get('/me', (req, res) => {
      if (req.user === undefined) return void res.status(401).json({ error: 'not logged in' });
      res.json(req.user);
    });

    io.use(auth.middleware([...MIGRATION_CHAIN]));
    auth.onAuthenticated<Socket>(io, (socket) => {
      socket.emit('hello', socket.data.auth);
      serveMessages(io, socket, socket.data.auth.user);
    });
    return {};
  });
}

runIfMain(import.meta.url, 'sockpass migration example', () => createMigrationServer());
