// An ESM app against the published declarations: strict, typed users, typed events.
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { AuthError, SockPass, jwtAuth, type AuthErrorCode } from 'sockpass';

interface User { id: string; roles: string[] }
interface ServerToClient { hello: (name: string) => void }
interface SocketData { auth: import('sockpass').SocketAuth<User> }

const io = new Server<Record<string, never>, ServerToClient, Record<string, never>, SocketData>(createServer());
const auth = new SockPass<User>().use(
  'jwt-auth',
  jwtAuth({ secret: 'x'.repeat(32), algorithms: ['HS256'], user: (c) => ({ id: String(c.sub), roles: [] }) }),
);
io.use(auth.middleware(['jwt-auth']));
io.of('/admin').use(auth.middleware('jwt-auth', { mode: 'all' }));
auth.onAuthenticated(io, (socket) => {
  const id: string = socket.data.auth.user.id;
  const expires: Date | null = socket.data.auth.expiresAt;
  void id;
  void expires;
});
function describeCode(code: AuthErrorCode): string {
  switch (code) {
    case 'token_expired':
      return 'refresh';
    default:
      return code;
  }
}
void describeCode(new AuthError('forbidden', 'x').code);
