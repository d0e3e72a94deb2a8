/**
 * The JWT middleware apps write by hand, the bench's reference point: shared
 * by the end-to-end bench's servers (bench/server.ts) and the in-process
 * handshake cost (bench/handshake-cost.ts), so both weigh sockpass against
 * the same code.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Server, Socket } from 'socket.io';

export type Middleware = (socket: Socket, next: (err?: Error) => void) => void;

/** `jwt.verify(token, secret)` with whatever the app holds as the secret; the claims go to `socket.data.user`. */
export function handWritten(key: string | KeyObject, algorithms?: jwt.Algorithm[]): Middleware {
  return function verifyToken(socket, next) {
    try {
      socket.data.user = jwt.verify(socket.handshake.auth.token as string, key, algorithms ? { algorithms } : {});
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  };
}

type Claims = { sub: string; exp: number };

/**
 * The same middleware with what sockpass's `jwt-auth` guarantees by default,
 * written as the Socket.IO docs' recipes write it: the revocation list
 * checked at the handshake, the socket in its `user:<sub>` room (what
 * `revoke()` reaches on every node), one `setTimeout` per socket that tells
 * `auth:expired` and disconnects at `exp` (cleared on disconnect), and an
 * `auth:refresh` listener that verifies a new token for the same user and
 * moves the timer; `revoke` records the user, then disconnects its room. It
 * is the fair reference for "what would I pay if I wrote
 * it myself": the hand-written middleware above gives none of these.
 */
export function handWrittenLife(
  key: KeyObject,
  algorithms: jwt.Algorithm[],
): { install: (io: Server, onConnection: () => void) => void; revoke: (io: Server, user: string) => void } {
  const verifyToken = handWritten(key, algorithms);
  // The revoked users (none in the bench's rounds) stand in for the app's ledger.
  const revoked = new Set<string>();
  const expire = (socket: Socket) => {
    socket.emit('auth:expired', { code: 'token_expired', message: 'credential has expired' });
    socket.disconnect(true);
  };
  return {
    // The middleware and the connection listener; `onConnection` runs after the guarantees are set up.
    install(io, onConnection) {
      io.use((socket, next) => {
        verifyToken(socket, (err) => {
          if (err === undefined && revoked.has((socket.data.user as Claims).sub)) return next(new Error('revoked'));
          next(err);
        });
      });
      io.on('connection', (socket) => {
        startLife(socket);
        onConnection();
      });
    },
    // Record, then kick: the room reaches the user's sockets on every node.
    revoke(io, user) {
      revoked.add(user);
      io.in(`user:${user}`).emit('auth:revoked', { code: 'token_revoked', message: 'credentials have been revoked' });
      io.in(`user:${user}`).disconnectSockets(true);
    },
  };

  function startLife(socket: Socket): void {
    const claims = socket.data.user as Claims;
    void socket.join(`user:${claims.sub}`);
    let timer = setTimeout(expire, claims.exp * 1000 - Date.now(), socket);
    socket.on('auth:refresh', (token: unknown, ack?: (reply: unknown) => void) => {
      try {
        const next = jwt.verify(String(token), key, { algorithms }) as Claims;
        if (next.sub !== claims.sub || revoked.has(next.sub)) throw new Error('refused');
        clearTimeout(timer);
        socket.data.user = next;
        timer = setTimeout(expire, next.exp * 1000 - Date.now(), socket);
        ack?.({ ok: true });
      } catch {
        ack?.({ ok: false });
      }
    });
    socket.on('disconnect', () => clearTimeout(timer));
  }
}
