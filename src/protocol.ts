/**
 * The lifecycle's wire protocol: the event names and payloads a server and a
 * client exchange after the handshake (expiry, refresh, revocation, guards).
 * Shared by the server modules and `sockpass/client`, so both sides spell
 * them the same way. Types only and string constants: safe in a browser.
 *
 * @module
 */
import type { AuthErrorCode } from './errors.js';

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

/** Why the server is about to disconnect a socket. `message` never holds a credential. */
export interface AuthNotice {
  /** Why, e.g. `token_expired` or `token_revoked`. */
  code: AuthErrorCode;
  /** Human-readable reason. */
  message: string;
}

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

/** Server → client `auth:forbidden`. */
export interface ForbiddenNotice {
  /** The event the guard refused. */
  event: string;
  /** Always `forbidden`. */
  code: 'forbidden';
  /** Human-readable reason. */
  message: string;
}
