/**
 * A login's absolute age (`maxSessionAge`): however often a socket refreshes
 * its credential, it is cut at `admittedAt + maxSessionAge` with
 * `session_too_old` (told as `auth:expired`, action `login`), distinct from
 * `token_expired` (action `refresh`): a refresh chain cannot keep one login
 * alive forever.
 *
 * `admittedAt` is when the socket was first admitted with a user, or the
 * credential's OpenID `auth_time` claim (when the user actually signed in)
 * when it is earlier: with it, a reconnect with a refreshed token does not
 * start the clock again. It is kept on `socket.data.auth.admittedAt` so a
 * recovered socket keeps its deadline, and a restored session past it is not
 * restored. A refresh past the deadline is refused; the refresh ack reports
 * the earlier of the token's expiry and the session's deadline.
 *
 * The cut itself is the Lifecycle's: the session's end is one more deadline
 * in its deadline queue, beside the credential's expiry (no timer of its own
 * per socket). Costs nothing unless configured.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import type { SocketLike } from '../socketio.js';
import { getState, type SocketState } from '../life/socket-state.js';
import type { SocketAuth } from '../types.js';

const debug = createDebug('sockpass:session-age');

const TOO_OLD = 'the session is older than the longest allowed; log in again';

export class SessionAge {
  readonly #maxAge: number;
  /** The session's end (ms epoch) of each socket state, set at its first admission with a user. */
  readonly #ends = new WeakMap<object, number>();

  constructor(maxAge: number) {
    if (!(Number.isFinite(maxAge) && maxAge > 0)) throw new TypeError('sockpass: maxSessionAge must be a positive number of ms');
    this.#maxAge = maxAge;
  }

  /**
   * A socket entered (or re-entered, after a recovery or an upgrade) its
   * authenticated life, or renewed its credential: its session's end is set
   * once, from `admittedAt` when the record has one, and the start is written
   * on the (new) record. Anonymous sockets have no login to age.
   */
  admitted<U>(socket: SocketLike, state: SocketState<U>): void {
    const auth = state.auth;
    if (auth === undefined || auth.anonymous) return;
    let end = this.#ends.get(state);
    if (end === undefined) {
      end = startOf(auth, Date.now()) + this.#maxAge;
      this.#ends.set(state, end);
      debug('socket %s: session ends at %s', socket.id, new Date(end).toISOString());
    }
    // A renewal made a new record: the start travels with it (recovery reads it there).
    auth.admittedAt = new Date(end - this.#maxAge);
  }

  /** The session's end (ms epoch) for the Lifecycle's deadline queue, or Infinity before the first admission with a user. */
  endOf(state: object): number {
    return this.#ends.get(state) ?? Number.POSITIVE_INFINITY;
  }

  /** Throws `session_too_old` when the socket's session has reached its end: a refresh must not land past it. */
  check(socket: SocketLike): void {
    const state = getState(socket);
    if (state !== undefined && Date.now() >= this.endOf(state)) throw tooOld();
  }

  /** The deadline a client should plan for: the earlier of the credential's expiry and the session's end. */
  deadlineOf(socket: SocketLike, expiresAt: Date | null): Date | null {
    const state = getState(socket);
    const end = state === undefined ? Number.POSITIVE_INFINITY : this.endOf(state);
    if (end === Number.POSITIVE_INFINITY) return expiresAt;
    return expiresAt !== null && expiresAt.getTime() <= end ? expiresAt : new Date(end);
  }

  /** `session_too_old` for a session being restored past its end, else undefined. */
  restoreRefusal(data: unknown): AuthError | undefined {
    const auth = (data as { auth?: SocketAuth<unknown> } | null | undefined)?.auth;
    if (typeof auth !== 'object' || auth === null || auth.anonymous) return undefined;
    return startOf(auth, Date.now()) + this.#maxAge <= Date.now() ? tooOld() : undefined;
  }
}

/** The cut at the session's end, and the refusal of a refresh past it. */
export function tooOld(): AuthError {
  return new AuthError('session_too_old', TOO_OLD);
}

/** When the login began: the record's `admittedAt`, else `auth_time`, else now; never later than now. */
function startOf(auth: SocketAuth<unknown>, now: number): number {
  const recorded = toMs(auth.admittedAt);
  if (recorded !== undefined) return Math.min(recorded, now);
  const authTime = auth.claims?.auth_time;
  if (typeof authTime === 'number' && Number.isFinite(authTime) && authTime > 0) return Math.min(authTime * 1000, now);
  return now;
}

/** A Date, an ISO string or a number (a serializing adapter may have turned the Date into either), as ms. */
function toMs(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string' || typeof value === 'number') {
    const ms = new Date(value).getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
