/**
 * Revalidation: a credential that can change behind the socket's back (a
 * session destroyed by a logout on another node, a user banned in the
 * database) is re-checked every `revalidateInterval` ms through the
 * `revalidate()` its strategy returned. One store read per socket per
 * interval, never one per packet, and never two at once for one socket.
 *
 * Still valid: the expiry may move (rolling sessions), and the socket's rooms
 * are judged again by its namespace's room policy. No longer valid: the
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
import { AuthError } from '../errors.js';
import { failureOf, normalizeResult } from '../handshake/pipeline.js';
import type { SocketLike } from '../socketio.js';
import type { SocketState } from './socket-state.js';
import type { AuthResult } from '../types.js';
import { EXPIRED_EVENT, REVOKED_EVENT } from '../protocol.js';

const debug = createDebug('sockpass:revalidate');

/** What revalidation needs of the Lifecycle (declared here, so this file does not import it). */
export interface RevalidationOwner<U> {
  readonly options: { readonly revalidateInterval: number };
  revalidated(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null | undefined): void;
  refuse(socket: SocketLike, event: string, err: unknown, strategy: string): AuthError;
}

export function startRevalidation<U>(life: RevalidationOwner<U>, socket: SocketLike, state: SocketState<U>): void {
  const interval = life.options.revalidateInterval;
  if (!(interval > 0) || state.revalidate === undefined || state.revalidating) return;
  state.revalidating = true;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async (): Promise<void> => {
    timer = undefined;
    const revalidate = state.revalidate;
    if (revalidate === undefined) return stop();
    let result: AuthResult<U>;
    try {
      result = normalizeResult(await revalidate(), state.strategyName);
    } catch (err) {
      result = failureOf(err, state.strategyName);
    }
    if (stopped || !socket.connected) return;
    if (result.kind === 'success') {
      life.revalidated(socket, state, result.expiresAt);
      timer = setTimeout(run, interval);
      return;
    }
    const error =
      result.kind === 'fail' ? result.error : new AuthError('credentials_required', 'the credential no longer holds a login', { strategy: state.strategyName });
    if (error.code === 'store_unavailable') {
      debug('socket %s: store unavailable at revalidation, checking again next interval', socket.id);
      timer = setTimeout(run, interval);
      return;
    }
    debug('socket %s: revalidation failed (%s)', socket.id, error.code);
    life.refuse(socket, error.code === 'token_expired' || error.code === 'session_expired' ? EXPIRED_EVENT : REVOKED_EVENT, error, state.strategyName);
  };
  const run = (): void => void check();
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
    state.revalidating = false;
  };

  // The first check lands somewhere in the first interval, so sockets that
  // connected together (a deploy, a reconnect storm) do not read the store together.
  timer = setTimeout(run, Math.max(1, Math.round(interval * (0.5 + Math.random() / 2))));
  state.addCleanup(stop);
}
