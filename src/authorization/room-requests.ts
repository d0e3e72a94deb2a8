/**
 * The client's side door into rooms: `auth:join` `{ room }` and `auth:leave`
 * `{ room }`, each with an ack. A join goes through the same judged
 * `socket.join` as the app's own joins, so the room policy decides; the ack
 * is `{ ok: true, room }` or `{ error: { code: 'forbidden', message, action } }`
 * (a refused join also gets `auth:forbidden` and is reported to `failure`).
 *
 * What a client may never ask for, whatever the policy says: another user's
 * or session's sockpass room, or another socket's id room (a name shaped like
 * a socket id); and it may never leave its own id, `user:` or `session:` room,
 * which `revoke()` and `io.to(socket.id)` must keep reaching.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, CLIENT_ACTIONS } from '../errors.js';
import type { SocketLike } from '../socketio.js';
import { FORBIDDEN_EVENT, JOIN_EVENT, LEAVE_EVENT, type RoomForbiddenNotice, type RoomReply } from '../protocol.js';
import type { RoomGate, RoomGateHost } from './room-gate.js';

const debug = createDebug('sockpass:room-requests');

/** Longest room name a client may ask for; a longer one is `credentials_bad_format`. */
const MAX_ROOM_LENGTH = 256;
/**
 * Joins a socket may have waiting for an async predicate at once: a client
 * flooding `auth:join` costs this many predicate calls (a database read each,
 * perhaps), not one per packet. Past it: `rate_limited`.
 */
const MAX_IN_FLIGHT = 8;

type Ack = (reply: RoomReply) => void;

/** The `auth:join` / `auth:leave` listeners of one registry's room gate. */
export class RoomRequests<U> {
  readonly #gate: RoomGate<U>;
  readonly #host: RoomGateHost<U>;
  /** Joins waiting for an answer, per socket (gone with the socket). */
  readonly #inFlight = new WeakMap<SocketLike, number>();

  constructor(gate: RoomGate<U>, host: RoomGateHost<U>) {
    this.#gate = gate;
    this.#host = host;
  }

  /** Takes `auth:join` / `auth:leave` from a socket of a namespace with a room policy; the listeners die with the socket. */
  listen(socket: SocketLike): void {
    socket.on(JOIN_EVENT, (payload: unknown, maybeAck?: unknown) => this.#onJoin(socket, payload, maybeAck));
    socket.on(LEAVE_EVENT, (payload: unknown, maybeAck?: unknown) => this.#onLeave(socket, payload, maybeAck));
  }

  #onJoin(socket: SocketLike, payload: unknown, maybeAck: unknown): void {
    const gate = this.#gate;
    const ack = ackOf(payload, maybeAck);
    const room = roomOf(payload);
    if (room instanceof AuthError) return ack?.({ error: room.notice });
    if (gate.isOwn(socket, room)) return ack?.({ ok: true, room });
    if (gate.isReserved(socket, room)) {
      const error = new AuthError('forbidden', 'this room cannot be asked for');
      this.#host.report(socket, error, room);
      const notice: RoomForbiddenNotice = { room, code: 'forbidden', message: error.message, action: CLIENT_ACTIONS.forbidden };
      socket.emit(FORBIDDEN_EVENT, notice);
      return ack?.({ error: error.notice });
    }
    const waiting = this.#inFlight.get(socket) ?? 0;
    if (waiting >= MAX_IN_FLIGHT) return ack?.({ error: new AuthError('rate_limited', 'too many room requests at once').notice });
    this.#inFlight.set(socket, waiting + 1);
    const done = () => this.#inFlight.set(socket, (this.#inFlight.get(socket) ?? 1) - 1);
    gate.request(socket, room).then(
      (inside) => {
        done();
        if (!socket.connected) return;
        ack?.(inside ? { ok: true, room } : { error: new AuthError('forbidden', 'not allowed in this room').notice });
      },
      (err: unknown) => {
        done();
        debug('socket %s: join failed: %s', socket.id, (err as Error)?.message);
        ack?.({ error: new AuthError('server_error', 'the room could not be joined').notice });
      },
    );
  }

  #onLeave(socket: SocketLike, payload: unknown, maybeAck: unknown): void {
    const ack = ackOf(payload, maybeAck);
    const room = roomOf(payload);
    if (room instanceof AuthError) return ack?.({ error: room.notice });
    if (this.#gate.isOwn(socket, room)) return ack?.({ error: new AuthError('forbidden', 'a socket cannot leave its own rooms').notice });
    Promise.resolve(socket.leave(room)).then(
      () => ack?.({ ok: true, room }),
      (err: unknown) => {
        debug('socket %s: leave failed: %s', socket.id, (err as Error)?.message);
        ack?.({ error: new AuthError('server_error', 'the room could not be left').notice });
      },
    );
  }
}

function ackOf(payload: unknown, maybeAck: unknown): Ack | undefined {
  return (typeof maybeAck === 'function' ? maybeAck : typeof payload === 'function' ? payload : undefined) as Ack | undefined;
}

function roomOf(payload: unknown): string | AuthError {
  const room = typeof payload === 'object' && payload !== null ? (payload as { room?: unknown }).room : undefined;
  if (typeof room !== 'string' || room === '' || room.length > MAX_ROOM_LENGTH) {
    return new AuthError('credentials_bad_format', `a room request carries { room }, a name of 1 to ${MAX_ROOM_LENGTH} characters`);
  }
  return room;
}
