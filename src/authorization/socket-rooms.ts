/**
 * Where room authorization touches Socket.IO's sockets, and nowhere else.
 *
 * Every way into a room on this node ends in the socket's own `join()`: the
 * app's `socket.join(room)`, `io.in(…).socketsJoin(…)` (the adapter's
 * `addSockets` calls `socket.join(rooms)` for each local socket, and the Redis
 * adapter does the same for a request from another node), and sockpass's own
 * rooms. So a socket of a namespace with a room policy gets its `join`
 * replaced by one that asks the gate first and passes on exactly the rooms
 * it admits. Connection-state recovery is the one way in that does not go
 * through `join()` of the finished socket (Socket.IO joins the restored rooms
 * in the constructor): it is judged where the session is restored
 * (`recovery.ts`).
 *
 * @module
 */
import type { SocketLike } from '../socket-like.js';

/** What a socket's `join` returns: the adapter may answer with a promise (the sharded Redis adapter does). */
export type JoinResult = Promise<void> | void;

/** Decides which of `rooms` the socket enters, and enters them through `join` (the socket's own, unjudged). */
export type JoinJudge = (rooms: string[], join: (rooms: string[]) => JoinResult) => JoinResult;

/** A Socket.IO socket as far as rooms go: public API only (`rooms` is Socket.IO's documented getter). */
export interface RoomSocket extends SocketLike {
  readonly rooms: ReadonlySet<string>;
}

/**
 * Replaces `socket.join` by one that hands the rooms to `judge`. The
 * replacement is an own property of this socket only; the original is kept
 * to enter the admitted rooms.
 */
export function interceptJoins(socket: SocketLike, judge: JoinJudge): void {
  const join = socket.join;
  const enter = (rooms: string[]): JoinResult => (rooms.length === 0 ? undefined : join.call(socket, rooms));
  socket.join = function judgedJoin(rooms: string | string[]): JoinResult {
    return judge(Array.isArray(rooms) ? [...rooms] : [rooms], enter);
  };
}

/** The rooms the socket is in on this node (a copy: leaving while iterating is safe). */
export function roomsOf(socket: SocketLike): string[] {
  const rooms = (socket as RoomSocket).rooms;
  return rooms === undefined ? [] : [...rooms];
}

/** True when the socket is in `room` on this node. */
export function isIn(socket: SocketLike, room: string): boolean {
  return (socket as RoomSocket).rooms?.has(room) === true;
}
