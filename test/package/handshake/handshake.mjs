// An ES module app on the installed package: one real jwt-auth handshake over loopback, its outcome printed as JSON.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { SockPass, jwtAuth } from 'sockpass';

const SECRET = 'handshake-secret-that-is-long-enough!';
const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: 'esm-user', exp: Math.floor(Date.now() / 1000) + 60 })}`;
const token = `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;

const http = createServer();
const io = new Server(http);
const auth = new SockPass().use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
io.use(auth.middleware('jwt-auth'));
auth.onAuthenticated(io, (socket) => socket.emit('seen', { user: socket.data.auth.user.sub, strategy: socket.data.auth.strategy }));
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: 'no handshake within 15 s' }));
  process.exit(1);
}, 15_000);
http.listen(0, '127.0.0.1', () => {
  const client = connect(`http://127.0.0.1:${http.address().port}`, { auth: { token }, transports: ['websocket'] });
  client.on('connect_error', (err) => {
    console.log(JSON.stringify({ error: err.message, data: err.data }));
    process.exit(1);
  });
  client.on('seen', (seen) => {
    console.log(JSON.stringify({ ...seen, node: process.version, module: typeof require === 'undefined' ? 'esm' : 'commonjs' }));
    clearTimeout(timer);
    client.close();
    io.close();
  });
});
