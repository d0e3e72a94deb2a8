/**
 * The lifecycle of an authenticated socket, from `connection` to disconnect:
 * it joins `user:<id>` (and `session:<sid>`) so `revoke()` can find it, one
 * timer per socket asks for a refresh `refreshBefore` ms ahead and cuts it at
 * expiry, sessions are re-read every `revalidateInterval`, and a socket
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
import { addCleanup, dropCleanup, runCleanup, setState, toSocketAuth, type SocketState } from './socket-state.js';
import type { AuthSuccess, SocketAuth, Strategy } from './types.js';
import { EXPIRED_EVENT, REVOKED_EVENT, type AuthNotice } from './wire.js';

const debug = createDebug('sockpass:lifecycle');

export interface LifecycleOptions<U> {
  /** Stable id of a user, for the `user:<id>` room and for comparing users. */
  userId: (user: U) => string | undefined;
  userRoom: (id: string) => string;
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

/** setTimeout's delay is a 32-bit int; longer waits are chained. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * What a socket's state was when its `socket.data.auth` was written, keyed by
 * that object: connectionStateRecovery hands the same `data` back to the
 * restored socket (in-memory adapter), so the strategy and the session's
 * `revalidate` survive a recovery. Weak: gone with the data.
 */
const carried = new WeakMap<object, Carried>();

interface Carried extends Pick<SocketState<any>, 'strategyName' | 'strategy' | 'result'> {
  /** When the credential was last proven (ms epoch): a revoke after it still applies on recovery. */
  since: number;
}

export function startLifecycle<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  const auth = socket.data.auth as SocketAuth<U>;
  const since = carried.get(auth)?.since ?? Date.now();
  carried.set(auth, { strategyName: state.strategyName, strategy: state.strategy, result: state.result, since });
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
  const prior = carried.get(auth);
  const state: SocketState<U> = {
    // Authenticated only once it passed the checks below, so onAuthenticated handlers never see a socket being cut.
    status: 'pending',
    strategyName: prior?.strategyName ?? auth.strategy,
    strategy: prior?.strategy ?? (ctx.strategy(auth.strategy) as Strategy<U> | undefined),
    result: prior?.result ?? fromSocketAuth(auth),
    waiters: [],
    cleanup: [],
  };
  setState(socket, state);
  socket.once('disconnect', () => runCleanup(state as SocketState<unknown>));
  debug('socket %s: recovered, credential expires %s', socket.id, auth.expiresAt?.toISOString() ?? 'never');
  if (auth.expiresAt !== null && auth.expiresAt.getTime() <= Date.now()) return expire(socket);
  // Revoked while it was away: the revoke found it in no room. Unknown age (a serializing adapter) counts as old.
  if (revokedSince(ctx, roomsOf(auth, ctx), prior?.since ?? 0)) {
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
 * Arms the socket's one timer: it fires `refreshBefore` ms ahead of
 * `expiresAt` (but not before half the remaining life) to emit
 * `auth:refresh`, then at `expiresAt` to emit `auth:expired` and disconnect.
 * Re-arming replaces the previous timer.
 */
export function scheduleExpiry<U>(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null, refreshBefore = 0): void {
  const previous = state.cancelExpiry;
  if (previous !== undefined) {
    state.cancelExpiry = undefined;
    dropCleanup(state as SocketState<unknown>, previous);
    previous();
  }
  if (expiresAt === null) return;
  const exp = expiresAt.getTime();
  // An Invalid Date would re-arm the timer every millisecond forever (now >= NaN is never true): fail closed.
  if (Number.isNaN(exp)) return expire(socket);
  // Never before half the remaining life: a refreshBefore longer than the tokens' life
  // would otherwise ask again the moment each refresh lands, in a loop.
  let noticeAt = refreshBefore > 0 ? Math.max(exp - refreshBefore, Date.now() + (exp - Date.now()) / 2) : Number.POSITIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  // The canceller is also the cleanup step: one closure per socket, not three (this runs for every socket).
  const cancel = (): void => clearTimeout(timer);
  state.cancelExpiry = cancel;
  addCleanup(state as SocketState<unknown>, cancel);
  const tick = (): void => {
    timer = undefined;
    const now = Date.now();
    if (now >= exp) return expire(socket);
    if (now >= noticeAt) {
      noticeAt = Number.POSITIVE_INFINITY;
      askForRefresh(socket, expiresAt);
    }
    timer = setTimeout(tick, Math.min(Math.min(noticeAt, exp) - now, MAX_DELAY));
  };
  tick();
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
  carried.set(auth, { strategyName, strategy, result, since: Date.now() });
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
