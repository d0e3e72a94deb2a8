/**
 * Authorization beyond the handshake, as one object per registry (its
 * Lifecycle owns it) with one hook per moment of a socket's life: the room
 * gate (`room-gate.ts`, the client's requests in `room-requests.ts`) and the
 * session's absolute age (`session-age.ts`). The Lifecycle calls these hooks
 * and nothing else of this folder:
 *
 * - `connected`: a socket reached `connection` (before the app's listeners);
 * - `admitted`: its authenticated life started (handshake, in-band, recovery)
 *   or its credential was swapped; `sessionEnd`: the deadline that gives;
 * - `beforeRenewal` / `renewed`: around a refresh, an anonymous upgrade or a
 *   second `authenticate` event;
 * - `revalidated`: its session was found still valid;
 * - `restoreRefusal` / `restoring`: connection-state recovery is about to
 *   restore a session.
 *
 * Each is a no-op (one field read) when nothing is configured.
 *
 * @module
 */
import type { AuthError } from '../errors.js';
import type { RestoredSession, SocketLike } from '../socketio.js';
import type { SocketState } from '../life/socket-state.js';
import { RoomGate, type RoomGateHost, type RoomTarget } from './room-gate.js';
import { RoomRequests } from './room-requests.js';
import type { RoomPolicy } from './rooms.js';
import { SessionAge, tooOld } from './session-age.js';

/** What authorization needs of the Lifecycle (declared here, so this folder does not import it). */
export type AuthorizationHost<U> = RoomGateHost<U>;

export class Authorization<U> {
  readonly rooms: RoomGate<U>;
  readonly #requests: RoomRequests<U>;
  readonly sessionAge: SessionAge | undefined;

  /** `maxSessionAge` in ms, or undefined for none. */
  constructor(host: AuthorizationHost<U>, maxSessionAge: number | undefined) {
    this.rooms = new RoomGate(host);
    this.#requests = new RoomRequests(this.rooms, host);
    this.sessionAge = maxSessionAge === undefined ? undefined : new SessionAge(maxSessionAge);
  }

  /** `auth.rooms(target, policy)`: returns the namespace (or parent) the registry must watch. */
  setRoomPolicy(target: RoomTarget, policy: RoomPolicy<U>): object {
    return this.rooms.set(target, policy);
  }

  /** A socket reached `connection`: in a namespace with a room policy, its joins and room requests are judged from now on. */
  connected(socket: SocketLike): void {
    if (this.rooms.watch(socket) !== undefined) this.#requests.listen(socket);
  }

  /**
   * Its authenticated life started, or its credential was swapped: the
   * session's end is set (once; a recovered socket keeps its start) and
   * written on the record. Called before the Lifecycle arms the deadline.
   */
  admitted(socket: SocketLike, state: SocketState<U>): void {
    this.sessionAge?.admitted(socket, state);
  }

  /** The session's end (ms epoch), one more deadline for the Lifecycle's queue; Infinity for none. */
  sessionEnd(state: SocketState<U>): number {
    return this.sessionAge === undefined ? Number.POSITIVE_INFINITY : this.sessionAge.endOf(state);
  }

  /** What a socket is cut with at its session's end. */
  sessionTooOld(): AuthError {
    return tooOld();
  }

  /** Before a refresh or an upgrade is applied: throws `session_too_old` past the session's deadline. */
  beforeRenewal(socket: SocketLike): void {
    this.sessionAge?.check(socket);
  }

  /**
   * A refresh or an upgrade was applied: every room is judged again.
   * Returns the deadline to report to the client.
   */
  renewed(socket: SocketLike, state: SocketState<U>): Date | null {
    void this.rooms.rejudge(socket);
    const expiresAt = state.auth?.expiresAt ?? null;
    return this.sessionAge === undefined ? expiresAt : this.sessionAge.deadlineOf(socket, expiresAt);
  }

  /** A revalidation found the credential still valid: every room is judged again (a predicate may read what changed). */
  revalidated(socket: SocketLike): void {
    void this.rooms.rejudge(socket);
  }

  /** `session_too_old` for a session being restored past its session age, else undefined. */
  restoreRefusal(data: unknown): AuthError | undefined {
    return this.sessionAge?.restoreRefusal(data);
  }

  /** A session about to be restored on `nsp`: it comes back with only its allowed rooms. */
  restoring(nsp: object, session: RestoredSession): Promise<RestoredSession> | RestoredSession {
    return this.rooms.configured ? this.rooms.restoring(nsp, session) : session;
  }
}
