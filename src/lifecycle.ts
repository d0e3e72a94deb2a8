/**
 * The lifecycle of an authenticated socket, from `connection` to disconnect:
 * it joins `user:<id>` (and `session:<sid>`) so `revoke()` can find it, one
 * deadline per socket (in a queue shared by all, see `deadline-queue.ts`) asks
 * for a refresh `refreshBefore` ms ahead and cuts it at expiry, sessions are re-read every `revalidateInterval`, and a socket
 * restored by connectionStateRecovery (which skips middlewares) gets the same
 * deadline back, so no socket outlives its credential.
 *
 * The refresh protocol itself is in `refresh.ts`, revalidation in
 * `revalidate.ts`, revocation in `revoke.ts`.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from './errors.js';
import { askForRefresh, listenForRefresh } from './refresh.js';
import { startRevalidation } from './revalidate.js';
import { rememberNamespace, revokedSince } from './revoke.js';
import type { RegistryContext } from './registry.js';
import type { SocketLike } from './socket-like.js';
import { DeadlineQueue } from './deadline-queue.js';
import { addCleanup, cleanUpOnDisconnect, createState, setState, toSocketAuth, type SocketState } from './socket-state.js';
import type { AuthSuccess, SocketAuth, Strategy } from './types.js';
import { EXPIRED_EVENT, REVOKED_EVENT, type AuthNotice } from './wire.js';

const debug = createDebug('sockpass:lifecycle');

/** How the registry runs an authenticated socket's life: rooms, refresh notice, revalidation. Every member has a default in `new SockPass()`. */
export interface LifecycleOptions<U> {
  /** Stable id of a user, for the `user:<id>` room and for comparing users. */
  userId: (user: U) => string | undefined;
  /** Room of every socket of a user, for `revoke({ user })`. Default `user:<id>`. */
  userRoom: (id: string) => string;
  /** Room of every socket of a session, for `revoke({ session })`. Default `session:<sid>`. */
  sessionRoom: (sid: string) => string;
  /** Ms before expiry to emit `auth:refresh`; 0 disables the notice (clients may still refresh unasked). */
  refreshBefore: number;
  /**
   * Ms one refresh may take to verify (an async key resolver or `isRevoked`
   * hook that hangs); past it the refresh is refused with `server_error`.
   */
  refreshTimeout: number;
  /** Ms between re-checks of credentials that can be revalidated (sessions); 0 disables. */
  revalidateInterval: number;
}

/**
 * The state a socket had when its `socket.data.auth` was written, keyed by
 * that object: connectionStateRecovery hands the same `data` back to the
 * restored socket (in-memory adapter), so the strategy, the session's
 * `revalidate` and `since` survive a recovery. Weak: gone with the data.
 */
const carried = new WeakMap<object, SocketState<any>>();

/** Every socket's next deadline (refresh notice or expiry), on one timer. */
const deadlines = new DeadlineQueue<SocketState<any>>(onDeadline);

/** How many sockets have a deadline queued: for tests that prove none is left behind. */
export function queuedDeadlines(): number {
  return deadlines.size;
}

/** The one cleanup step for every socket's deadline. */
function cancelDeadline(state: SocketState<any>): void {
  deadlines.cancel(state);
}

export function startLifecycle<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  const auth = socket.data.auth as SocketAuth<U>;
  const prior = carried.get(auth);
  state.since = prior?.since ?? (state.since || Date.now());
  carried.set(auth, state);
  rememberNamespace(ctx, socket.nsp);
  joinRooms(socket, auth, ctx);
  listenForRefresh(socket, state, ctx);
  startRevalidation(socket, state, ctx);
  scheduleExpiry(socket, state, auth.expiresAt, refreshNoticeAhead(state, ctx));
}

/**
 * A socket restored by connectionStateRecovery skipped the middlewares: it
 * gets its state back from `socket.data.auth` and the same deadline. One that
 * never authenticated (it was waiting for an in-band credential) is cut: the
 * quarantine that held it is gone.
 */
export function resumeRecovered<U>(socket: SocketLike, ctx: RegistryContext<U>): void {
  const auth = socket.data.auth as SocketAuth<U> | undefined;
  if (auth === undefined || auth === null || typeof auth !== 'object') {
    debug('socket %s: recovered without authentication, disconnecting', socket.id);
    const error = new AuthError('credentials_required', 'authentication did not complete before the connection dropped');
    ctx.reportFailure(socket, error);
    socket.emit('unauthorized', { message: error.message, data: error.data });
    socket.disconnect();
    return;
  }
  // A serializing adapter may hand back a string; ours keeps the Date.
  if (auth.expiresAt !== null && !(auth.expiresAt instanceof Date)) auth.expiresAt = new Date(auth.expiresAt as unknown as string);
  const prior = carried.get(auth) as SocketState<U> | undefined;
  const state = createState<U>(
    socket,
    prior?.strategyName ?? auth.strategy,
    prior?.strategy ?? (ctx.strategy(auth.strategy) as Strategy<U> | undefined),
  );
  // Authenticated only once it passed the checks below, so onAuthenticated handlers never see a socket being cut.
  state.result = prior?.result ?? fromSocketAuth(auth);
  state.since = prior?.since ?? 0;
  setState(socket, state);
  socket.on('disconnect', cleanUpOnDisconnect);
  debug('socket %s: recovered, credential expires %s', socket.id, auth.expiresAt?.toISOString() ?? 'never');
  if (auth.expiresAt !== null && auth.expiresAt.getTime() <= Date.now()) return expire(socket);
  // Revoked while it was away: the revoke found it in no room. Unknown age (a serializing adapter) counts as old.
  if (revokedSince(ctx, roomsOf(auth, ctx), state.since)) {
    return cutSocket(socket, REVOKED_EVENT, new AuthError('token_revoked', 'credentials have been revoked'));
  }
  state.status = 'authenticated';
  startLifecycle(socket, state, ctx);
}

function fromSocketAuth<U>(auth: SocketAuth<U>): AuthSuccess<U> {
  const result: AuthSuccess<U> = { kind: 'success', user: auth.user, claims: auth.claims, expiresAt: auth.expiresAt };
  if (auth.session !== undefined) result.session = auth.session;
  if (auth.anonymous) result.anonymous = true;
  return result;
}

export function joinRooms<U>(socket: SocketLike, auth: SocketAuth<U>, ctx: RegistryContext<U>): void {
  const rooms = roomsOf(auth, ctx);
  if (rooms.length > 0) void socket.join(rooms);
}

/** The revocation rooms of a socket: `user:<id>` unless anonymous, and `session:<sid>` for a session. */
function roomsOf<U>(auth: SocketAuth<U>, ctx: RegistryContext<U>): string[] {
  const rooms: string[] = [];
  const id = auth.anonymous ? undefined : ctx.options.userId(auth.user);
  if (id !== undefined) rooms.push(ctx.options.userRoom(id));
  if (auth.session !== undefined) rooms.push(ctx.options.sessionRoom(auth.session));
  return rooms;
}

/** Ms ahead of expiry to ask for a refresh, or 0 when this socket's strategy cannot take one. */
function refreshNoticeAhead<U>(state: SocketState<U>, ctx: RegistryContext<U>): number {
  return state.strategy?.authenticateCredential === undefined ? 0 : ctx.options.refreshBefore;
}

/**
 * Sets the socket's deadline: `refreshBefore` ms ahead of `expiresAt` (but
 * not before half the remaining life) it is asked for a refresh
 * (`auth:refresh`), and at `expiresAt` it is told `auth:expired` and
 * disconnected. Re-arming replaces the previous deadline.
 */
export function scheduleExpiry<U>(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null, refreshBefore = 0): void {
  deadlines.cancel(state);
  state.expiresAtMs = Number.POSITIVE_INFINITY;
  state.noticeAt = Number.POSITIVE_INFINITY;
  if (expiresAt === null) return;
  const exp = expiresAt.getTime();
  // An Invalid Date must not leave a socket without a deadline: fail closed.
  if (Number.isNaN(exp)) return expire(socket);
  const now = Date.now();
  if (now >= exp) return expire(socket);
  state.expiresAtMs = exp;
  // Never before half the remaining life: a refreshBefore longer than the tokens' life
  // would otherwise ask again the moment each refresh lands, in a loop.
  if (refreshBefore > 0) state.noticeAt = Math.max(exp - refreshBefore, now + (exp - now) / 2);
  addCleanup(state as SocketState<unknown>, cancelDeadline);
  deadlines.schedule(state, Math.min(state.noticeAt, exp));
}

function onDeadline(state: SocketState<any>): void {
  const { socket } = state;
  if (!socket.connected) return;
  const now = Date.now();
  if (now >= state.expiresAtMs) return expire(socket);
  if (now >= state.noticeAt) {
    state.noticeAt = Number.POSITIVE_INFINITY;
    askForRefresh(socket, new Date(state.expiresAtMs));
  }
  deadlines.schedule(state, Math.min(state.noticeAt, state.expiresAtMs));
}

/**
 * A fresh credential for an authenticated socket (in-band refresh, a second
 * `authenticate` event): it must name the same user; claims and expiry move,
 * the socket stays. Throws `user_mismatch` otherwise.
 */
export function renewCredential<U>(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>, ctx: RegistryContext<U>): void {
  const current = state.result;
  const before = current === undefined || current.anonymous ? undefined : ctx.options.userId(current.user);
  if (before === undefined || ctx.options.userId(result.user) !== before) {
    throw new AuthError('user_mismatch', 'the new credential names another user', { strategy: state.strategyName });
  }
  // A refreshed token does not carry the session's revalidation; keep it.
  if (result.revalidate === undefined && current?.revalidate !== undefined) result = { ...result, revalidate: current.revalidate };
  adopt(socket, state, state.strategyName, state.strategy, result, ctx);
}

/**
 * An anonymous socket proved who it is (see `anonymous({ upgrade })`): it
 * becomes an ordinary authenticated socket of `strategyName`, joins its user
 * room, and gets the new credential's expiry.
 */
export function upgradeAnonymous<U>(
  socket: SocketLike,
  state: SocketState<U>,
  strategyName: string,
  strategy: Strategy<U>,
  result: AuthSuccess<U>,
  ctx: RegistryContext<U>,
): void {
  if (result.anonymous || ctx.options.userId(result.user) === undefined) {
    throw new AuthError('credentials_required', 'the upgrade credential names no user', { strategy: strategyName });
  }
  adopt(socket, state, strategyName, strategy, result, ctx);
  joinRooms(socket, socket.data.auth as SocketAuth<U>, ctx);
  debug('socket %s: anonymous socket upgraded by %s', socket.id, strategyName);
}

function adopt<U>(
  socket: SocketLike,
  state: SocketState<U>,
  strategyName: string,
  strategy: Strategy<U> | undefined,
  result: AuthSuccess<U>,
  ctx: RegistryContext<U>,
): void {
  state.strategyName = strategyName;
  state.strategy = strategy;
  state.result = result;
  const auth = toSocketAuth(strategyName, result);
  socket.data.auth = auth;
  state.since = Date.now();
  carried.set(auth, state);
  scheduleExpiry(socket, state, auth.expiresAt, refreshNoticeAhead(state, ctx));
}

/** Tells the client why (`event` with `{ code, message }`), then disconnects this namespace's socket. */
export function cutSocket(socket: SocketLike, event: string, error: AuthError): void {
  if (!socket.connected) return;
  debug('socket %s: %s (%s)', socket.id, event, error.code);
  const notice: AuthNotice = { code: error.code, message: error.message };
  socket.emit(event, notice);
  socket.disconnect();
}

export function expire(socket: SocketLike): void {
  cutSocket(socket, EXPIRED_EVENT, new AuthError('token_expired', 'credential has expired'));
}
