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
 * Costs nothing unless configured: one timer per authenticated socket then.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import type { SocketLike } from '../socketio.js';
import { getState, type SocketState } from '../life/socket-state.js';
import type { SocketAuth } from '../types.js';
import { EXPIRED_EVENT } from '../protocol.js';

const debug = createDebug('sockpass:session-age');

/** How the session age cuts a socket: the lifecycle's cut (notice, then disconnect). */
export type Cut = (socket: SocketLike, event: string, error: AuthError) => void;

interface Clock {
  deadline: number;
  timer: NodeJS.Timeout;
}

const TOO_OLD = 'the session is older than the longest allowed; log in again';

export class SessionAge {
  readonly #maxAge: number;
  readonly #cut: Cut;
  readonly #report: (socket: SocketLike, error: AuthError) => void;
  readonly #clocks = new WeakMap<object, Clock>();

  constructor(maxAge: number, cut: Cut, report: (socket: SocketLike, error: AuthError) => void) {
    if (!(Number.isFinite(maxAge) && maxAge > 0)) throw new TypeError('sockpass: maxSessionAge must be a positive number of ms');
    this.#maxAge = maxAge;
    this.#cut = cut;
    this.#report = report;
  }

  /**
   * A socket entered (or re-entered, after a recovery or an upgrade) its
   * authenticated life: start its clock once, from `admittedAt` when the
   * record has one. Anonymous sockets have no login to age.
   */
  admitted<U>(socket: SocketLike, state: SocketState<U>): void {
    const auth = state.auth;
    if (auth === undefined || auth.anonymous) return;
    let clock = this.#clocks.get(state);
    if (clock === undefined) {
      const admittedAt = startOf(auth, Date.now());
      const deadline = admittedAt + this.#maxAge;
      const timer = setTimeout(() => this.#tooOld(socket), Math.max(0, deadline - Date.now()));
      timer.unref?.();
      clock = { deadline, timer };
      this.#clocks.set(state, clock);
      state.cleanup.push(() => clearTimeout(timer));
      debug('socket %s: session ends at %s', socket.id, new Date(deadline).toISOString());
    }
    // A renewal made a new record: the start travels with it (recovery reads it there).
    auth.admittedAt = new Date(clock.deadline - this.#maxAge);
  }

  /** Throws `session_too_old` when the socket's session has reached its deadline: a refresh must not land past it. */
  check(socket: SocketLike): void {
    const state = getState(socket);
    const clock = state === undefined ? undefined : this.#clocks.get(state);
    if (clock !== undefined && Date.now() >= clock.deadline) throw new AuthError('session_too_old', TOO_OLD);
  }

  /** The deadline a client should plan for: the earlier of the credential's expiry and the session's end. */
  deadlineOf(socket: SocketLike, expiresAt: Date | null): Date | null {
    const state = getState(socket);
    const clock = state === undefined ? undefined : this.#clocks.get(state);
    if (clock === undefined) return expiresAt;
    return expiresAt !== null && expiresAt.getTime() <= clock.deadline ? expiresAt : new Date(clock.deadline);
  }

  /** `session_too_old` for a session being restored past its deadline, else undefined. */
  restoreRefusal(data: unknown): AuthError | undefined {
    const auth = (data as { auth?: SocketAuth<unknown> } | null | undefined)?.auth;
    if (typeof auth !== 'object' || auth === null || auth.anonymous) return undefined;
    return startOf(auth, Date.now()) + this.#maxAge <= Date.now() ? new AuthError('session_too_old', TOO_OLD) : undefined;
  }

  #tooOld(socket: SocketLike): void {
    if (!socket.connected) return;
    const error = new AuthError('session_too_old', TOO_OLD);
    this.#report(socket, error);
    this.#cut(socket, EXPIRED_EVENT, error);
  }
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
