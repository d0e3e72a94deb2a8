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
import type { Socket } from 'socket.io';

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
