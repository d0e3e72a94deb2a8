/**
 * In-band refresh: a socket swaps its credential for a fresh one on the same
 * connection, with no reconnect and no missed message.
 *
 * The server emits `auth:refresh` `{ expiresAt }` some time before expiry
 * (`refreshBefore`); the client answers, or refreshes unasked, by emitting
 * `auth:refresh` `{ token }` with an ack. The token is verified by the
 * strategy that admitted the socket (`authenticateCredential`, which also runs
 * the `isRevoked` hook), must name the same user, and moves the expiry; the
 * ack gets `{ expiresAt }` (the deadline the socket now has: a token without
 * `exp` keeps the old one unless `allowRefreshToRemoveExpiry`; with
 * `maxSessionAge`, the session's end when it comes first). A revoked token
 * is refused with `token_revoked`. A refused token gets `{ error: { code, message, action } }`,
 * then `auth:refused` and a disconnect. For an anonymous socket the same
 * event is the upgrade: the token is verified by the strategy named in
 * `anonymous({ upgrade })`.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, toAuthError } from '../errors.js';
import { failureOf, normalizeResult } from '../handshake/pipeline.js';
import { TIMED_OUT, withTimeout } from '../time.js';
import type { SocketLike } from '../socketio.js';
import type { Metrics } from '../metrics.js';
import type { SocketState } from './socket-state.js';
import type { AuthResult, AuthSuccess, Strategy } from '../types.js';
import { REFRESH_EVENT, REFUSED_EVENT, type RefreshReply } from '../protocol.js';

const debug = createDebug('sockpass:refresh');

type Ack = (reply: RefreshReply) => void;

/** What refresh needs of the Lifecycle (declared here, so this file does not import it). */
export interface RefreshOwner<U> {
  readonly metrics: Metrics | undefined;
  readonly options: { readonly refreshTimeout: number };
  strategy(name: string): Strategy<U> | undefined;
  /** Both give the deadline the ack reports; an upgrade names a user for the first time, so the Lifecycle asks the connection cap first. */
  renew(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): Date | null;
  upgrade(socket: SocketLike, state: SocketState<U>, strategyName: string, strategy: Strategy<U>, result: AuthSuccess<U>): Promise<Date | null>;
  refuse(socket: SocketLike, event: string, err: unknown, strategy: string): AuthError;
}

/** Takes `auth:refresh` answers (and unasked refreshes) from the client for as long as the socket lives. */
export function listenForRefresh<U>(life: RefreshOwner<U>, socket: SocketLike, state: SocketState<U>): void {
  // A recovered or upgraded socket must not get two listeners; the listener dies with the socket.
  if (state.listeningForRefresh) return;
  state.listeningForRefresh = true;
  socket.on(REFRESH_EVENT, (payload: unknown, maybeAck?: unknown) => {
    const ack = (typeof maybeAck === 'function' ? maybeAck : typeof payload === 'function' ? payload : undefined) as Ack | undefined;
    // One refresh at a time: a client flooding tokens costs one verification, not one per packet.
    if (state.refreshing) {
      ack?.({ error: new AuthError('credentials_bad_format', 'a refresh is already in progress').notice });
      return;
    }
    state.refreshing = true;
    refresh(life, socket, state, payload).then(
      (expiresAt) => {
        state.refreshing = false;
        life.metrics?.refresh(state.strategyName, 'success');
        ack?.({ expiresAt: expiresAt === null ? null : expiresAt.toISOString() });
      },
      (err: unknown) => {
        state.refreshing = false;
        const error = toAuthError(err, state.strategyName);
        life.metrics?.refresh(state.strategyName, error.code);
        if (!socket.connected) return;
        ack?.({ error: error.notice });
        life.refuse(socket, REFUSED_EVENT, error, state.strategyName);
      },
    );
  });
}

/** Verifies one refresh and applies it; resolves to the new expiry, rejects with the AuthError to report. */
async function refresh<U>(life: RefreshOwner<U>, socket: SocketLike, state: SocketState<U>, payload: unknown): Promise<Date | null> {
  const upgrading = state.auth?.anonymous === true;
  let name = state.strategyName;
  let strategy: Strategy<U> | undefined = state.strategy;
  if (upgrading) {
    name = state.strategy?.upgradeWith ?? '';
    strategy = life.strategy(name);
    if (name === '' || strategy === undefined) {
      throw new AuthError('credentials_bad_format', 'this anonymous socket cannot upgrade in-band');
    }
  }
  if (strategy?.authenticateCredential === undefined) {
    throw new AuthError('credentials_bad_format', 'this socket\'s credential cannot be refreshed in-band', { strategy: name });
  }
  if (typeof payload !== 'string' && (typeof payload !== 'object' || payload === null || !Object.prototype.hasOwnProperty.call(payload, 'token'))) {
    throw new AuthError('credentials_bad_format', 'a refresh carries { token }');
  }
  const token = typeof payload === 'string' ? payload : (payload as { token: unknown }).token;
  let result: AuthResult<U> | typeof TIMED_OUT;
  try {
    const verifying = strategy.authenticateCredential(token);
    const timeout = life.options.refreshTimeout;
    result = timeout > 0 ? await withTimeout(verifying, timeout) : await verifying;
  } catch (err) {
    result = failureOf(err, name);
  }
  if (result === TIMED_OUT) throw new AuthError('server_error', 'the refresh took too long to verify', { strategy: name });
  if (!socket.connected) throw new AuthError('token_expired', 'the socket closed during the refresh');
  result = normalizeResult<U>(result, name);
  if (result.kind === 'fail') throw result.error;
  if (result.kind === 'pass') throw new AuthError('credentials_required', 'no token in the refresh', { strategy: name });
  if (result.expiresAt instanceof Date && Number.isNaN(result.expiresAt.getTime())) {
    throw new AuthError('server_error', 'the strategy gave an invalid expiry', { strategy: name });
  }
  // The ledger is checked in the same synchronous step that applies the credential: a revoke during the verification wins.
  const deadline = upgrading ? await life.upgrade(socket, state, name, strategy, result) : life.renew(socket, state, result);
  debug('socket %s: credential refreshed by %s', socket.id, name);
  return deadline;
}
