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
 * `exp` keeps the old one unless `allowRefreshToRemoveExpiry`). A revoked token
 * is refused with `token_revoked`. A refused token gets `{ error: { code, message } }`,
 * then `auth:refused` and a disconnect. For an anonymous socket the same
 * event is the upgrade: the token is verified by the strategy named in
 * `anonymous({ upgrade })`.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, toAuthError } from '../errors.js';
import { TIMED_OUT, withTimeout } from '../timeout.js';
import { cutSocket, renewCredential, upgradeAnonymous } from './lifecycle.js';
import { recordRefresh } from '../metrics.js';
import type { RegistryContext } from '../registry-context.js';
import type { SocketLike } from '../socket-like.js';
import { getState, type SocketState } from './socket-state.js';
import type { Strategy } from '../types.js';
import { REFRESH_EVENT, REFUSED_EVENT, type RefreshReply } from '../wire.js';
import { upgradeTarget } from '../../strategies/anonymous.js';

const debug = createDebug('sockpass:refresh');

type Ack = (reply: RefreshReply) => void;

/**
 * The `auth:refresh` listener of each registry: one function for all its
 * sockets (Socket.IO calls it with the socket as `this`), not a closure per
 * socket, which cost ~200 bytes of every idle socket's heap.
 */
const listeners = new WeakMap<object, (this: SocketLike, payload: unknown, maybeAck?: unknown) => void>();

function refreshListener<U>(ctx: RegistryContext<U>): (this: SocketLike, payload: unknown, maybeAck?: unknown) => void {
  let listener = listeners.get(ctx);
  if (listener !== undefined) return listener;
  listener = function onRefresh(this: SocketLike, payload: unknown, maybeAck?: unknown): void {
    const socket = this;
    const state = getState<U>(socket);
    const ack = (typeof maybeAck === 'function' ? maybeAck : typeof payload === 'function' ? payload : undefined) as Ack | undefined;
    if (state === undefined) return;
    // One refresh at a time: a client flooding tokens costs one verification, not one per packet.
    if (state.refreshing) {
      ack?.({ error: { code: 'credentials_bad_format', message: 'a refresh is already in progress' } });
      return;
    }
    state.refreshing = true;
    refresh(socket, state, ctx, payload).then(
      (expiresAt) => {
        state.refreshing = false;
        recordRefresh(state.strategyName, 'success');
        ack?.({ expiresAt: expiresAt === null ? null : expiresAt.toISOString() });
      },
      (err: unknown) => {
        state.refreshing = false;
        const error = toAuthError(err, state.strategyName);
        recordRefresh(state.strategyName, error.code);
        if (!socket.connected) return;
        ctx.reportFailure(socket, error);
        ack?.({ error: { code: error.code, message: error.message } });
        cutSocket(socket, REFUSED_EVENT, error);
      },
    );
  };
  listeners.set(ctx, listener);
  return listener;
}

/** Takes `auth:refresh` answers (and unasked refreshes) from the client for as long as the socket lives. */
export function listenForRefresh<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  // A recovered or upgraded socket must not get two listeners; the listener dies with the socket.
  if (state.listening) return;
  state.listening = true;
  socket.on(REFRESH_EVENT, refreshListener(ctx));
}

/** Verifies one refresh and applies it; resolves to the new expiry, rejects with the AuthError to report. */
async function refresh<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>, payload: unknown): Promise<Date | null> {
  const token = readToken(payload);
  const upgrading = state.auth?.anonymous === true;
  let name = state.strategyName;
  let strategy: Strategy<U> | undefined = state.strategy;
  if (upgrading) {
    name = upgradeTarget(state.strategy) ?? '';
    strategy = ctx.strategy(name);
    if (name === '' || strategy === undefined) {
      throw new AuthError('credentials_bad_format', 'this anonymous socket cannot upgrade in-band');
    }
  }
  if (strategy?.authenticateCredential === undefined) {
    throw new AuthError('credentials_bad_format', 'this socket\'s credential cannot be refreshed in-band', { strategy: name });
  }
  const verifying = strategy.authenticateCredential(token);
  const result = ctx.options.refreshTimeout > 0 ? await withTimeout(verifying, ctx.options.refreshTimeout) : await verifying;
  if (result === TIMED_OUT) throw new AuthError('server_error', 'the refresh took too long to verify', { strategy: name });
  if (!socket.connected) throw new AuthError('token_expired', 'the socket closed during the refresh');
  if (result === null || typeof result !== 'object') throw new AuthError('server_error', 'refresh failed', { strategy: name });
  if (result.kind === 'fail') throw toAuthError(result.error, name);
  if (result.kind === 'pass') throw new AuthError('credentials_required', 'no token in the refresh', { strategy: name });
  if (result.expiresAt instanceof Date && Number.isNaN(result.expiresAt.getTime())) {
    throw new AuthError('server_error', 'the strategy gave an invalid expiry', { strategy: name });
  }
  // An upgrading socket now names a user: the connection cap counts it first (a refusal cuts it with auth:refused).
  const capped = upgrading && ctx.caps !== undefined && !result.anonymous ? ctx.options.userId(result.user) : undefined;
  if (capped !== undefined) {
    const refusal = await ctx.caps!.admitConnected(socket, capped);
    if (refusal !== undefined) throw refusal;
    if (!socket.connected) throw new AuthError('token_expired', 'the socket closed during the refresh');
  }
  // The ledger is checked in the same synchronous step that applies the credential: a revoke during the verification wins.
  if (upgrading) upgradeAnonymous(socket, state, name, strategy, result, ctx);
  else renewCredential(socket, state, result, ctx);
  debug('socket %s: credential refreshed by %s', socket.id, name);
  return state.auth?.expiresAt ?? null;
}

function readToken(payload: unknown): unknown {
  if (typeof payload === 'string') return payload;
  if (typeof payload !== 'object' || payload === null || !Object.prototype.hasOwnProperty.call(payload, 'token')) {
    throw new AuthError('credentials_bad_format', 'a refresh carries { token }');
  }
  return (payload as { token: unknown }).token;
}
