// Type tests against the published declarations: each `Equal` fails to compile when the two types differ,
// `any` included, and each @ts-expect-error fails when the line below it compiles (as it would on `any`).
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { SockPass, handshakeLimits, jwtAuth, jwtHeader, type Claims, type SockPassSocketData, type SocketAuth } from 'sockpass';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
const expectType = <T extends true>(ok: T): T => ok;

interface User { id: string; roles: string[] }
const secret = 'x'.repeat(32);
const toUser = (claims: Claims): User => ({ id: String(claims.sub), roles: [] });
const auth = new SockPass<User>().use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'], user: toUser }));

// An untyped Server: data is `any` there, sockpass's record is not.
const plain = new Server(createServer());
plain.use(auth.middleware('jwt-auth'));
auth.onAuthenticated(plain, (socket) => {
  expectType<Equal<typeof socket.data.auth, SocketAuth<User>>>(true);
  expectType<Equal<typeof socket.data.auth.user, User>>(true);
  expectType<Equal<typeof socket.data.auth.expiresAt, Date | null>>(true);
});

// A typed Server, no type arguments on sockpass's calls: its events and SocketData reach the handler.
interface ClientToServer { ping: (ack: () => void) => void }
interface ServerToClient { hello: (name: string) => void }
interface SocketData extends SockPassSocketData<User> { room?: string }
const io = new Server<ClientToServer, ServerToClient, Record<string, never>, SocketData>(createServer());
io.use(auth.middleware(['jwt-auth']));
io.of('/admin').use(auth.middleware('jwt-auth', { mode: 'all' }));
auth.attach(io);
auth.onAuthenticated(io, (socket) => {
  socket.emit('hello', socket.data.auth.user.id);
  // @ts-expect-error not an event the typed Server emits
  socket.emit('nonexistent');
  // @ts-expect-error `hello` takes a string
  socket.emit('hello', 42);
  socket.on('ping', (ack) => ack());
  expectType<Equal<typeof socket.data.room, string | undefined>>(true);
  expectType<Equal<typeof socket.data.auth.user, User>>(true);
});
auth.onAuthenticated(io.of('/admin'), (socket) => {
  socket.emit('hello', 'admin');
  // @ts-expect-error not an event of the namespace either
  socket.emit('nonexistent');
});
// The app's own SocketData: `connection` sees the record typed too.
io.on('connection', (socket) => {
  expectType<Equal<typeof socket.data.auth.user, User>>(true);
});
void auth.revoke(io, { user: '42' });
void auth.revoke(io.of('/admin'), { user: '42' }, { reason: 'suspended' });

// The user type follows the strategies' `user` mapping when the registry is not typed by hand.
const mapped = new SockPass().use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'], user: toUser }));
mapped.onAuthenticated(plain, (socket) => expectType<Equal<typeof socket.data.auth.user, User>>(true));
const claimsOnly = new SockPass().use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'] }));
claimsOnly.onAuthenticated(plain, (socket) => expectType<Equal<typeof socket.data.auth.user, Claims>>(true));

// @ts-expect-error without a `user` mapping the user is the claims, which are not a User
new SockPass<User>().use('jwt', jwtAuth({ secret, algorithms: ['HS256'] }));
// @ts-expect-error the mapping returns no `roles`: not a User
new SockPass<User>().use('jwt', jwtHeader({ secret, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }));

// A rate limit is what handshakeLimits() makes, not any object.
// @ts-expect-error `{}` is not a HandshakeLimits
new SockPass({ rateLimit: {} });
new SockPass({ rateLimit: handshakeLimits({ address: { points: 5, duration: 60 } }) });
