/**
 * The lifecycle's wire protocol: the event names and payloads a server and a
 * client exchange after the handshake (expiry, refresh, revocation, guards).
 * Shared by the server modules and `sockpass/client`, so both sides spell
 * them the same way. Types only and string constants: safe in a browser.
 *
 * @module
 */
import type { AuthNotice, ClientAction } from './errors.js';

export type { AuthNotice } from './errors.js';

/** Server → client: the credential expired; a disconnect follows. Payload: {@link AuthNotice} with `token_expired`. */
export const EXPIRED_EVENT = 'auth:expired';
/**
 * Both ways. Server → client: `{ expiresAt }`, "send me a new token before then".
 * Client → server: `{ token }` with an ack, answered by a {@link RefreshReply};
 * a client may send it unasked (refresh early, or upgrade an anonymous socket).
 */
export const REFRESH_EVENT = 'auth:refresh';
/** Server → client: `auth.revoke()` or a failed revalidation cut the socket; a disconnect follows. */
export const REVOKED_EVENT = 'auth:revoked';
/** Server → client: a refresh or upgrade credential was refused; a disconnect follows. */
export const REFUSED_EVENT = 'auth:refused';
/** Server → client: a newer socket of the same user replaced this one (connection caps); a disconnect follows. Payload: {@link AuthNotice} with `connection_replaced`. */
export const REPLACED_EVENT = 'auth:replaced';
/** Server → client: a guard refused an event; the socket stays. Payload: {@link ForbiddenNotice}. */
export const FORBIDDEN_EVENT = 'auth:forbidden';

/**
 * Client → server: `{ room }` with an ack, answered by a {@link RoomReply}:
 * join a room the namespace's room policy (`auth.rooms()`) allows.
 */
export const JOIN_EVENT = 'auth:join';
/** Client → server: `{ room }` with an ack, answered by a {@link RoomReply}: leave a room. */
export const LEAVE_EVENT = 'auth:leave';
/**
 * Server → client: the socket was taken out of a room it was in, because its
 * credential changed (a refresh, an upgrade, a revalidation, a recovery) and
 * the room policy no longer allows it. Payload: {@link RoomLeftNotice}.
 */
export const LEFT_EVENT = 'auth:left';

/** Server → client `auth:refresh`: the current credential's expiry, ISO 8601. */
export interface RefreshNotice {
  /** When the current credential expires. */
  expiresAt: string;
}

/** Client → server `auth:refresh`. */
export interface RefreshRequest {
  /** The new token, verified by the strategy that admitted the socket. */
  token: string;
}

/** The ack of a client's `auth:refresh`: the new expiry (ISO 8601, or null), or why it was refused. */
export type RefreshReply =
  | {
      /** The new expiry, or `null` when the new token does not expire. */
      expiresAt: string | null;
    }
  | {
      /** Why the token was refused; a disconnect follows. */
      error: AuthNotice;
    };

/** Server → client `auth:forbidden` from a guard: an event was refused. */
export interface ForbiddenNotice {
  /** The event the guard refused. */
  event: string;
  /** Always `forbidden`. */
  code: 'forbidden';
  /** Human-readable reason. */
  message: string;
  /** Always `stop`: sending the same event again is refused again. */
  action: ClientAction;
}

/** Server → client `auth:forbidden` from a room policy: a join was refused; the socket is not in `room`. */
export interface RoomForbiddenNotice {
  /** The room the socket was not let into. */
  room: string;
  /** Always `forbidden`. */
  code: 'forbidden';
  /** Human-readable reason. */
  message: string;
  /** Always `stop`. */
  action: ClientAction;
}

/** Server → client `auth:left`. */
export interface RoomLeftNotice {
  /** The room the socket left. */
  room: string;
  /** Always `forbidden`: the room policy no longer allows this socket in. */
  code: 'forbidden';
  /** Always `stop`. */
  action: ClientAction;
}

/** Client → server `auth:join` / `auth:leave`. */
export interface RoomRequest {
  /** The room's name. */
  room: string;
}

/** The ack of `auth:join` / `auth:leave`. */
export type RoomReply =
  | {
      /** The socket is now in (`auth:join`) or out of (`auth:leave`) `room`. */
      ok: true;
      /** The room asked for. */
      room: string;
    }
  | {
      /** Why not: `forbidden` (the policy refused, or a room the client may not join or leave), `credentials_bad_format` (no `{ room }`). */
      error: AuthNotice;
    };
