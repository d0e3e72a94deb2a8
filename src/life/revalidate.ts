/**
 * Revalidation: a credential that can change behind the socket's back (a
 * session destroyed by a logout on another node, a user banned in the
 * database) is re-checked every `revalidateInterval` ms through the
 * `revalidate()` its strategy returned. One store read per socket per
 * interval, never one per packet, and never two at once for one socket.
 *
 * Still valid: the expiry may move (rolling sessions). No longer valid: the
 * client gets `auth:revoked` (`auth:expired` for an expired token or
 * session) with the code `revalidate()` returned, and is disconnected.
 * Unknown (`store_unavailable`): the socket keeps what it had and is checked
 * again next interval — cutting every cookie socket on a store blip would
 * send them all back to reconnect against the same broken store; the expiry
 * timer still ends the socket at its session's deadline.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, toAuthError } from '../errors.js';
import { cutSocket, moveExpiry } from './lifecycle.js';
import type { RegistryContext } from '../registry-context.js';
import type { SocketLike } from '../socket-like.js';
import { onCleanup, type SocketState } from './socket-state.js';
import type { AuthResult } from '../types.js';
import { EXPIRED_EVENT, REVOKED_EVENT } from '../wire.js';

const debug = createDebug('sockpass:revalidate');

const running = new WeakSet<object>();

export function startRevalidation<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  const interval = ctx.options.revalidateInterval;
  if (!(interval > 0) || state.revalidate === undefined || running.has(state)) return;
  running.add(state);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async (): Promise<void> => {
    timer = undefined;
    const revalidate = state.revalidate;
    if (revalidate === undefined) return stop();
    let result: AuthResult<U>;
    try {
      result = await revalidate();
    } catch (err) {
      result = { kind: 'fail', error: toAuthError(err, state.strategyName) };
    }
    if (stopped || !socket.connected) return;
    if (result !== null && typeof result === 'object' && result.kind === 'success') {
      moveExpiry(socket, state, result.expiresAt, ctx);
      ctx.authorization.revalidated(socket);
      timer = setTimeout(run, interval);
      return;
    }
    const error =
      result?.kind === 'fail'
        ? toAuthError(result.error, state.strategyName)
        : new AuthError('credentials_required', 'the credential no longer holds a login', { strategy: state.strategyName });
    if (error.code === 'store_unavailable') {
      debug('socket %s: store unavailable at revalidation, checking again next interval', socket.id);
      timer = setTimeout(run, interval);
      return;
    }
    debug('socket %s: revalidation failed (%s)', socket.id, error.code);
    ctx.reportFailure(socket, error);
    cutSocket(socket, error.code === 'token_expired' || error.code === 'session_expired' ? EXPIRED_EVENT : REVOKED_EVENT, error);
  };
  const run = (): void => void check();
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
    running.delete(state);
  };

  // The first check lands somewhere in the first interval, so sockets that
  // connected together (a deploy, a reconnect storm) do not read the store together.
  timer = setTimeout(run, Math.max(1, Math.round(interval * (0.5 + Math.random() / 2))));
  onCleanup(state as SocketState<unknown>, stop);
}
