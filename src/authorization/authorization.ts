/**
 * Authorization beyond the handshake, as one object per registry with one
 * hook per moment of a socket's life: the room gate (`room-gate.ts`, the
 * client's requests in `room-requests.ts`) and the session's absolute age
 * (`session-age.ts`). The lifecycle calls these hooks and nothing else of
 * this folder, so the two stay apart:
 *
 * - `connected`: a socket reached `connection` (before the app's listeners);
 * - `admitted`: its authenticated life started (handshake, in-band, recovery);
 * - `beforeRenewal` / `renewed`: around a refresh or an anonymous upgrade;
 * - `revalidated`: its session was found still valid;
 * - `restoring`: connection-state recovery is about to restore a session.
 *
 * Each is a no-op (one field read) when nothing is configured.
 *
 * @module
 */
import type { AuthError } from '../errors.js';
import type { SocketLike } from '../socket-like.js';
import type { SocketState } from '../life/socket-state.js';
import { RoomGate, type RestoredSession, type RoomGateHost, type RoomTarget } from './room-gate.js';
import { listenForRoomRequests } from './room-requests.js';
import type { RoomPolicy } from './rooms.js';
import { SessionAge, type Cut } from './session-age.js';

/** What authorization needs from its registry. */
export interface AuthorizationHost<U> extends RoomGateHost<U> {
  /** `maxSessionAge` in ms, or undefined for none. */
  readonly maxSessionAge: number | undefined;
  /** The lifecycle's cut: a notice, then a disconnect. */
  readonly cut: Cut;
}

export class Authorization<U> {
  readonly #host: AuthorizationHost<U>;
  readonly rooms: RoomGate<U>;
  readonly sessionAge: SessionAge | undefined;

  constructor(host: AuthorizationHost<U>) {
    this.#host = host;
    this.rooms = new RoomGate(host);
    this.sessionAge =
      host.maxSessionAge === undefined ? undefined : new SessionAge(host.maxSessionAge, host.cut, (socket, error) => host.reportFailure(socket, error));
  }

  /** `auth.rooms(target, policy)`: returns the namespace (or parent) the registry must watch. */
  setRoomPolicy(target: RoomTarget, policy: RoomPolicy<U>): object {
    return this.rooms.set(target, policy);
  }

  /** A socket reached `connection`: in a namespace with a room policy, its joins and room requests are judged from now on. */
  connected(socket: SocketLike): void {
    if (this.rooms.watch(socket) !== undefined) listenForRoomRequests(socket, this.rooms, this.#host);
  }

  /** Its authenticated life started: the session's clock starts (once; a recovered socket keeps its start). */
  admitted(socket: SocketLike, state: SocketState<U>): void {
    this.sessionAge?.admitted(socket, state as SocketState<unknown>);
  }

  /** Before a refresh or an upgrade is applied: throws `session_too_old` past the session's deadline. */
  beforeRenewal(socket: SocketLike): void {
    this.sessionAge?.check(socket);
  }

  /**
   * A refresh or an upgrade was applied: the session clock carries over to
   * the new record (an upgrade starts it), every room is judged again.
   * Returns the deadline to report to the client.
   */
  renewed(socket: SocketLike, state: SocketState<U>): Date | null {
    this.admitted(socket, state);
    void this.rooms.rejudge(socket);
    const expiresAt = state.auth?.expiresAt ?? null;
    return this.sessionAge === undefined ? expiresAt : this.sessionAge.deadlineOf(socket, expiresAt);
  }

  /** A revalidation found the credential still valid: every room is judged again (a predicate may read what changed). */
  revalidated(socket: SocketLike): void {
    void this.rooms.rejudge(socket);
  }

  /**
   * A session about to be restored on `nsp`: refused (undefined) past its
   * session age, else restored with only its allowed rooms.
   */
  async restoring(nsp: object, session: RestoredSession): Promise<RestoredSession | undefined> {
    const tooOld: AuthError | undefined = this.sessionAge?.restoreRefusal(session.data);
    if (tooOld !== undefined) return undefined;
    return this.rooms.restoring(nsp, session);
  }
}
