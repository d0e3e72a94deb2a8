/**
 * The contract between the `session` strategy and a session framework: how
 * the framework's cookie names a session, and how that session is loaded.
 * The strategy owns everything around it (Origin check, bounded wait,
 * expiry, user, codes), so a reader for another framework (@fastify/session)
 * is a cookie format and a store read, nothing more.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { CookieSessionId } from './signed-cookie.js';

/** A session as the store returns it (`req.session` over HTTP). */
export interface SessionRecord {
  /** The session's cookie record: sockpass reads the session's expiry from it. */
  cookie?:
    | {
        /** When the cookie, and so the session, expires; falsy for a browser-session cookie. */
        expires?: Date | string | null | false;
        /** The cookie's `maxAge` in ms when the session was saved. */
        originalMaxAge?: number | null;
      }
    | undefined;
  [key: string]: unknown;
}

/** What reading the session for one cookie came to. */
export type SessionRead =
  | {
      /** The session exists. */
      kind: 'found';
      /** A per-handshake view of the request carrying `session` and `sessionID`, for Passport's deserializer. */
      request: Record<string, unknown>;
      /** The session as the store holds it. */
      session: SessionRecord;
      /**
       * The user already deserialized for this session (Passport's
       * `passport.session()` ran in the engine layer); the strategy then
       * does not deserialize again.
       */
      user?: unknown;
    }
  | {
      /** The cookie's signature is not valid for any secret. */
      kind: 'bad_signature';
    }
  | {
      /** Signature valid, but the store has no such session (never existed, destroyed, or already expired). */
      kind: 'not_found';
    }
  | {
      /** The store failed. */
      kind: 'unavailable';
      /** The store's error, kept as the refusal's `cause` (never sent to the client). */
      cause: unknown;
    };

/** A session id taken from a cookie whose format fits. */
export interface CookieSid {
  /** `verified` by its signature, or `claimed` until the framework checks the signature while loading. */
  kind: 'verified' | 'claimed';
  /** The session id. */
  sid: string;
}

/**
 * How one session framework's cookie and store are read. `sessionCookie`
 * uses express-session's by default; `fastifySessionReader()` reads
 * @fastify/session's.
 */
export interface SessionReader {
  /** The framework's default cookie name (`connect.sid` for express-session, `sessionId` for @fastify/session). */
  readonly cookieName: string;
  /** What a raw (URI-decoded) cookie value says: the session id it names, a bad format, or a bad signature. */
  sessionId(raw: string): CookieSessionId;
  /** Loads the session; a `claimed` id's signature is the reader's to check on the way (`bad_signature`). */
  read(request: IncomingMessage, sid: CookieSid): Promise<SessionRead>;
  /**
   * The session (and user) the engine layer already put on the handshake
   * request for this id, when there is one: no store read. Undefined when
   * nothing usable was loaded; the strategy then calls `read`.
   */
  loaded?(request: IncomingMessage, sid: CookieSid, userProperty: string): SessionRead | undefined;
}
