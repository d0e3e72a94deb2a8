/**
 * Example: a chat whose rooms only the right sockets can enter. One room
 * policy (`auth.rooms`) on the main namespace:
 *
 * - `lobby`: public, every logged-in socket;
 * - `chat:*`: member-only, by capability in the token: the `rooms` claim lists
 *   the room patterns the user may join (`claimRooms('rooms')`); Alice's token
 *   carries `["chat:*"]`, Bob's `["chat:general"]`;
 * - `admin`: the admin room, for a token whose role is `admin`;
 * - any other room: refused.
 *
 * The page asks for rooms with `auth:join` and sees `{ ok: true }` or
 * `forbidden`; "drop capabilities" refreshes the socket's token to one
 * without `rooms`, and the server takes it out of the `chat:*` rooms at once
 * (`auth:left`). Every room gets a message every second, so a refused socket
 * can be seen to receive none.
 *
 * Run: `npm run chat-rooms` (builds the browser bundle the page loads, then serves on PORT, default 3015).
 */
import express from 'express';
import jwt from 'jsonwebtoken';
import type { Socket } from 'socket.io';
import { SockPass, claimRooms, jwtAuth } from 'sockpass';
import { checkPassword, runIfMain, startExample, userFromClaims, type DemoUser, type ExampleOptions, type ExampleServer } from '../shared/example-app.js';

/** The rooms each user's token lets them into. */
const CAPABILITIES: Record<DemoUser['role'], string[]> = { admin: ['chat:*'], member: ['chat:general'] };

/** The rooms the page offers, and the server talks in every second. */
export const ROOMS = ['lobby', 'chat:general', 'chat:secret', 'admin', 'unlisted'] as const;

export function createChatRoomsServer(options: ExampleOptions = {}): Promise<ExampleServer> {
  return startExample(new URL('./public/', import.meta.url), { ...options, port: options.port ?? Number(process.env.PORT ?? 3015) }, 600, ({ app, io, tokens }) => {
    const sign = (user: DemoUser, withCapabilities: boolean) =>
      jwt.sign({ sub: user.id, name: user.name, role: user.role, rooms: withCapabilities ? CAPABILITIES[user.role] : [] }, tokens.secret, {
        algorithm: 'HS256',
        expiresIn: Math.round(tokens.ttl),
      });
    app.post('/chat/login', express.json(), (req, res) => {
      const user = checkPassword(req.body?.username, req.body?.password);
      if (user === undefined) return void res.status(401).json({ error: 'wrong username or password' });
      res.json({ token: sign(user, req.body?.capabilities !== false), user });
    });

    const auth = new SockPass<DemoUser>().use('jwt-auth', jwtAuth({ secret: tokens.secret, algorithms: ['HS256'], user: userFromClaims }));
    io.use(auth.middleware('jwt-auth'));
    auth.rooms(io, {
      lobby: true,
      'chat:*': claimRooms('rooms'),
      admin: (a) => a.user.role === 'admin',
    });
    auth.onAuthenticated(io, (socket: Socket) => {
      const { user } = socket.data.auth;
      // The app's own join: judged like the client's requests (the lobby is open to all).
      socket.join('lobby');
      socket.on('say', (payload: { room?: unknown; text?: unknown }) => {
        const room = typeof payload?.room === 'string' ? payload.room : '';
        if (!socket.rooms.has(room) || typeof payload.text !== 'string') return;
        io.to(room).emit('said', { room, from: user.name, text: payload.text.slice(0, 200) });
      });
    });

    let n = 0;
    const ticker = setInterval(() => {
      n++;
      for (const room of ROOMS) io.to(room).emit('said', { room, from: 'server', text: `tick ${n}` });
    }, 1000);
    return { ticker: [], close: async () => clearInterval(ticker) };
  });
}

runIfMain(import.meta.url, 'sockpass chat-rooms example', () => createChatRoomsServer());
