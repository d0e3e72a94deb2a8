/**
 * The lifecycle of an authenticated socket: it joins `user:<id>` (and
 * `session:<sid>`), and is told `auth:expired` and disconnected when its
 * credential expires, so no socket outlives its credential.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from './errors.js';
import type { RegistryContext } from './registry.js';
import type { SocketLike } from './socket-like.js';
import { onCleanup, toSocketAuth, type SocketState } from './socket-state.js';
import type { AuthSuccess, SocketAuth } from './types.js';

const debug = createDebug('sockpass:lifecycle');

export interface LifecycleOptions<U> {
  /** Stable id of a user, for the `user:<id>` room and for comparing users. */
  userId: (user: U) => string | undefined;
  userRoom: (id: string) => string;
  sessionRoom: (sid: string) => string;
  /** Ms before expiry to emit `auth:refresh`; 0 disables in-band refresh. */
  refreshBefore: number;
  /** Ms the client has to answer `auth:refresh` before expiry applies as usual. */
  refreshTimeout: number;
  /** Ms between re-checks of credentials that can be revalidated (sessions); 0 disables. */
  revalidateInterval: number;
}

/** setTimeout's delay is a 32-bit int; longer waits are chained. */
const MAX_DELAY = 2 ** 31 - 1;

export function startLifecycle<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  const auth = socket.data.auth as SocketAuth<U>;
  joinRooms(socket, auth, ctx);
  scheduleExpiry(socket, state, auth.expiresAt);
}

/** A socket restored by connectionStateRecovery skipped the middlewares: re-arm its expiry from its data. */
export function resumeRecovered<U>(socket: SocketLike, ctx: RegistryContext<U>): void {
  const auth = socket.data.auth as SocketAuth<U> | undefined;
  if (auth === undefined) return;
  const state: SocketState<U> = {
    status: 'authenticated',
    strategyName: auth.strategy,
    strategy: undefined,
    result: undefined,
    waiters: [],
    cleanup: [],
  };
  socket.once('disconnect', () => state.cleanup.splice(0).forEach((step) => step()));
  const expiresAt = auth.expiresAt === null ? null : new Date(auth.expiresAt);
  if (expiresAt !== null && expiresAt.getTime() <= Date.now()) return expire(socket);
  joinRooms(socket, auth, ctx);
  scheduleExpiry(socket, state, expiresAt);
}

function joinRooms<U>(socket: SocketLike, auth: SocketAuth<U>, ctx: RegistryContext<U>): void {
  const rooms: string[] = [];
  const id = auth.anonymous ? undefined : ctx.options.userId(auth.user);
  if (id !== undefined) rooms.push(ctx.options.userRoom(id));
  if (auth.session !== undefined) rooms.push(ctx.options.sessionRoom(auth.session));
  if (rooms.length > 0) void socket.join(rooms);
}

export function scheduleExpiry<U>(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null): void {
  state.cancelExpiry?.();
  state.cancelExpiry = undefined;
  if (expiresAt === null) return;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = expiresAt.getTime() - Date.now();
    if (delay <= 0) return expire(socket);
    timer = setTimeout(delay > MAX_DELAY ? arm : () => expire(socket), Math.min(delay, MAX_DELAY));
  };
  arm();
  state.cancelExpiry = onCleanup(state as SocketState<unknown>, () => clearTimeout(timer));
}

/**
 * A fresh credential for an authenticated socket (in-band refresh, a second
 * `authenticate` event): it must name the same user; claims and expiry move,
 * the socket stays. Throws `user_mismatch` otherwise.
 */
export function renewCredential<U>(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>, ctx: RegistryContext<U>): void {
  const current = state.result;
  const before = current === undefined ? undefined : ctx.options.userId(current.user);
  if (before === undefined || ctx.options.userId(result.user) !== before) {
    throw new AuthError('user_mismatch', 'the new credential names another user', { strategy: state.strategyName });
  }
  state.result = result;
  socket.data.auth = toSocketAuth(state.strategyName, result);
  scheduleExpiry(socket, state, result.expiresAt ?? null);
}

export function expire(socket: SocketLike): void {
  debug('socket %s: credential expired', socket.id);
  socket.emit('auth:expired', { code: 'token_expired', message: 'credential has expired' });
  socket.disconnect(true);
}
