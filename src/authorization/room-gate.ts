/**
 * The room gate of one registry: which namespaces have a room policy
 * (`auth.rooms(target, policy)`), and the verdict on every way a socket of
 * theirs comes into a room on this node.
 *
 * - A join (the app's `socket.join`, `socketsJoin` from here or from another
 *   node, a client's `auth:join`) enters exactly the rooms the policy admits.
 *   A refused room is not entered; the registry's `failure` gets `forbidden`
 *   with the room, and the client `auth:forbidden` `{ room, code, message, action }`.
 *   An async predicate delays that room's join until it answers; if the
 *   credential changed meanwhile, the new one is asked.
 * - A socket still waiting for its in-band credential joins nothing until it
 *   authenticated: its joins are judged then.
 * - After a refresh, an upgrade, a revalidation or a recovery every room the
 *   socket is in is judged again; a room no longer allowed is left, and the
 *   client gets `auth:left` `{ room, code, action }`.
 * - A restored session (connection-state recovery) gets back only its allowed
 *   rooms; when one was refused, none of its missed packets is replayed (which
 *   of them went to that room cannot be told), and the client gets `auth:left`
 *   for it once connected.
 *
 * Never judged: the socket's own id room and its own `user:`/`session:`
 * rooms (`revoke()` must always reach it).
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, CLIENT_ACTIONS } from '../errors.js';
import { catchRoomChange, childrenOf, interceptJoins, isIn, isServer, restoreOnly, roomsOf, type JoinResult, type RestoredSession, type SocketLike } from '../socketio.js';
import { getState } from '../life/socket-state.js';
import type { SocketAuth } from '../types.js';
import { FORBIDDEN_EVENT, LEFT_EVENT, type RoomForbiddenNotice, type RoomLeftNotice } from '../protocol.js';
import { compileRoomPolicy, type CompiledRoomPolicy, type RoomPolicy } from './rooms.js';

const debug = createDebug('sockpass:room-gate');

/** What the gate needs from its registry. */
export interface RoomGateHost<U> {
  /** The names of a socket's own rooms. */
  readonly options: { userRoom(id: string): string; sessionRoom(sid: string): string };
  /** The user's id as sockpass compares it (undefined: none). */
  userIdOf(user: U): string | undefined;
  /** Reports a refusal to the registry's `failure` listeners, with the room it was about. */
  report(socket: SocketLike, error: AuthError, room?: string): boolean;
}

/** What `auth.rooms()` takes: a Server (its main namespace), a Namespace, or a dynamic parent namespace. */
export interface RoomTarget {
  on(event: string, listener: (...args: any[]) => void): unknown;
}

type Children = { has(nsp: unknown): boolean };

/** A room name no longer than this in messages, so a hostile client cannot make the server echo megabytes. */
const SHOWN = 100;

export class RoomGate<U> {
  readonly #host: RoomGateHost<U>;
  readonly #byNamespace = new WeakMap<object, CompiledRoomPolicy<U>>();
  readonly #parents: Array<{ parent: object; children: Children; policy: CompiledRoomPolicy<U> }> = [];
  /** Rooms a restored session lost, by its `data` object (which becomes the socket's `data`), to tell the client once connected. */
  readonly #droppedAtRestore = new WeakMap<object, string[]>();

  constructor(host: RoomGateHost<U>) {
    this.#host = host;
  }

  /** Whether any namespace has a policy: nothing is looked up per socket otherwise. */
  get configured(): boolean {
    return this.#parents.length > 0 || this.#any;
  }
  #any = false;

  /**
   * Sets the policy of `target`; returns the namespace to watch (a Server's
   * main one, or the target itself). Setting one twice replaces it.
   */
  set(target: RoomTarget, policy: RoomPolicy<U>): object {
    const compiled = compileRoomPolicy(policy);
    if (isServer(target)) {
      const main = target.sockets;
      this.#byNamespace.set(main, compiled);
      this.#any = true;
      return main;
    }
    const children = childrenOf(target);
    if (children !== undefined) {
      const known = this.#parents.find((p) => p.parent === target);
      if (known !== undefined) known.policy = compiled;
      else this.#parents.push({ parent: target, children, policy: compiled });
      return target;
    }
    this.#byNamespace.set(target, compiled);
    this.#any = true;
    return target;
  }

  /** The policy of a namespace: its own, else its dynamic parent's. */
  policyOf(nsp: object): CompiledRoomPolicy<U> | undefined {
    const own = this.#byNamespace.get(nsp);
    if (own !== undefined) return own;
    for (const { children, policy } of this.#parents) if (children.has(nsp)) return policy;
    return undefined;
  }

  /**
   * A socket of a namespace with a policy connected: its joins go through the
   * gate from now on. Returns the policy, or undefined when the namespace has none.
   */
  watch(socket: SocketLike): CompiledRoomPolicy<U> | undefined {
    if (!this.configured) return undefined;
    const policy = this.policyOf(socket.nsp);
    if (policy === undefined) return undefined;
    interceptJoins(socket, (rooms, enter) => this.#join(socket, policy, rooms, enter));
    const dropped = this.#droppedAtRestore.get(socket.data);
    if (dropped !== undefined) {
      this.#droppedAtRestore.delete(socket.data);
      for (const room of dropped) tellLeft(socket, room);
    }
    return policy;
  }

  /** True for the socket's own id room and its own `user:`/`session:` rooms. */
  isOwn(socket: SocketLike, room: string): boolean {
    if (room === socket.id) return true;
    return this.#ownRoomsOf(getState<U>(socket)?.auth).includes(room);
  }

  /**
   * True for a room a client may never ask for: any user's or session's
   * sockpass room, or a name shaped like a socket id (another socket's
   * private room, on this node or another).
   */
  isReserved(socket: SocketLike, room: string): boolean {
    const { userRoom, sessionRoom } = this.#host.options;
    const userPrefix = userRoom('');
    const sessionPrefix = sessionRoom('');
    if (userPrefix !== '' && room.startsWith(userPrefix)) return true;
    if (sessionPrefix !== '' && room.startsWith(sessionPrefix)) return true;
    return SOCKET_ID.test(room) || socket.nsp.sockets.has(room);
  }

  /** A client's request for a room, through the socket's judged join: resolves to whether the socket is now in it. */
  async request(socket: SocketLike, room: string): Promise<boolean> {
    await socket.join(room);
    return isIn(socket, room);
  }

  /**
   * The socket's credential changed: every room it is in is judged again;
   * those no longer allowed are left, the client told `auth:left`. Returns a
   * promise only when an async predicate has to answer first.
   */
  rejudge(socket: SocketLike): void | Promise<void> {
    if (!this.configured) return;
    const policy = this.policyOf(socket.nsp);
    if (policy === undefined) return;
    const state = getState<U>(socket);
    const auth = state?.auth;
    const waiting: Array<Promise<void>> = [];
    for (const room of roomsOf(socket)) {
      if (this.isOwn(socket, room)) continue;
      const verdict = policy.allows(auth, room);
      if (verdict === true) continue;
      if (verdict === false) {
        leaveRefused(socket, room);
        continue;
      }
      waiting.push(
        verdict.then((allowed) => {
          // A newer credential has its own re-judgment running.
          if (allowed || state?.auth !== auth || !socket.connected || !isIn(socket, room)) return;
          leaveRefused(socket, room);
        }),
      );
    }
    if (waiting.length > 0) return Promise.all(waiting).then(() => undefined);
  }

  /**
   * A session being restored on `nsp`: only its allowed rooms come back.
   * When one is refused, its missed packets are dropped too.
   */
  async restoring(nsp: object, session: RestoredSession): Promise<RestoredSession> {
    if (!this.configured) return session;
    const policy = this.policyOf(nsp);
    if (policy === undefined || !Array.isArray(session.rooms)) return session;
    const data = session.data as { auth?: SocketAuth<U> } | undefined;
    const auth = typeof data?.auth === 'object' && data.auth !== null ? data.auth : undefined;
    const own = new Set<string>(this.#ownRoomsOf(auth));
    if (typeof session.sid === 'string') own.add(session.sid);
    const kept: string[] = [];
    const dropped: string[] = [];
    for (const room of session.rooms as unknown[]) {
      if (typeof room !== 'string') continue;
      if (own.has(room) || (await policy.allows(auth, room))) kept.push(room);
      else dropped.push(room);
    }
    if (dropped.length === 0) return session;
    debug('restoring a session without %d refused room(s) and without its missed packets', dropped.length);
    if (typeof data === 'object' && data !== null) this.#droppedAtRestore.set(data, dropped);
    return restoreOnly(session, kept);
  }

  #ownRoomsOf(auth: SocketAuth<U> | undefined): string[] {
    if (auth === undefined || auth === null) return [];
    const { userRoom, sessionRoom } = this.#host.options;
    const rooms: string[] = [];
    const id = auth.anonymous ? undefined : this.#host.userIdOf(auth.user);
    if (id !== undefined) rooms.push(userRoom(id));
    if (typeof auth.session === 'string') rooms.push(sessionRoom(auth.session));
    return rooms;
  }

  /** Enters the admitted rooms at once, the async verdicts as they answer; refuses the rest. */
  #join(socket: SocketLike, policy: CompiledRoomPolicy<U>, rooms: string[], enter: (rooms: string[]) => JoinResult): JoinResult {
    const state = getState<U>(socket);
    const own = rooms.filter((room) => this.isOwn(socket, room));
    const judged = own.length === rooms.length ? [] : rooms.filter((room) => !this.isOwn(socket, room));
    if (judged.length === 0) return enter(own);
    // Not authenticated yet (an in-band credential is on its way): judge with the credential, once it came.
    if (state !== undefined && state.status === 'pending') {
      state.addWaiter(() => void this.#join(socket, policy, judged, enter));
      return enter(own);
    }
    const auth = state?.auth ?? (socket.data.auth as SocketAuth<U> | undefined);
    const now = [...own];
    const later: Array<Promise<JoinResult>> = [];
    for (const room of judged) {
      const verdict = policy.allows(auth, room);
      if (verdict === true) now.push(room);
      else if (verdict === false) this.#refuse(socket, room);
      else later.push(verdict.then((allowed) => this.#settle(socket, policy, room, allowed, auth, enter)));
    }
    const entered = enter(now);
    if (later.length === 0) return entered;
    return Promise.all([entered, ...later]).then(() => undefined);
  }

  /** An async verdict came: enter, refuse, or ask again if the credential changed while it was thought over. */
  #settle(
    socket: SocketLike,
    policy: CompiledRoomPolicy<U>,
    room: string,
    allowed: boolean,
    askedFor: SocketAuth<U> | undefined,
    enter: (rooms: string[]) => JoinResult,
  ): JoinResult {
    if (!socket.connected) return;
    const current = getState<U>(socket)?.auth ?? (socket.data.auth as SocketAuth<U> | undefined);
    if (current !== askedFor) return this.#join(socket, policy, [room], enter);
    if (!allowed) return this.#refuse(socket, room);
    return enter([room]);
  }

  #refuse(socket: SocketLike, room: string): void {
    debug('socket %s: refused room %s', socket.id, room);
    const message = `not allowed in room ${shown(room)}`;
    this.#host.report(socket, new AuthError('forbidden', message), room);
    if (!socket.connected) return;
    const notice: RoomForbiddenNotice = { room, code: 'forbidden', message, action: CLIENT_ACTIONS.forbidden };
    socket.emit(FORBIDDEN_EVENT, notice);
  }
}

/**
 * Socket.IO's socket ids (and Engine.IO's, which old clients use as the
 * socket's room): 20 characters of base64url. A client must not join
 * another socket's private room, on any node, so such names are reserved.
 */
const SOCKET_ID = /^[A-Za-z0-9_-]{20}$/;

function shown(room: string): string {
  return room.length > SHOWN ? room.slice(0, SHOWN) + '…' : room;
}

function leaveRefused(socket: SocketLike, room: string): void {
  debug('socket %s: leaves room %s, no longer allowed', socket.id, room);
  catchRoomChange(socket.leave(room), roomChangeFailed);
  tellLeft(socket, room);
}

function tellLeft(socket: SocketLike, room: string): void {
  if (!socket.connected) return;
  const notice: RoomLeftNotice = { room, code: 'forbidden', action: CLIENT_ACTIONS.forbidden };
  socket.emit(LEFT_EVENT, notice);
}

function roomChangeFailed(err: unknown): void {
  debug('room change failed: %s', (err as Error)?.message);
}
