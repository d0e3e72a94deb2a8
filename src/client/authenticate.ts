/**
 * `authenticateWithEvent`: the client half of the `authenticate` event
 * strategy (and of socketio-jwt's two-round-trip flow). Sends `{ token }` once
 * the socket is connected and settles on the server's answer: `authenticated`
 * resolves, `unauthorized` rejects with the server's code. Every listener and
 * timer it adds is gone once it settles.
 *
 * @module
 */
import type { Socket } from 'socket.io-client';
import { ClientAuthError, authErrorCode, isUnauthorizedError } from './errors.js';

/** Options of {@link authenticateWithEvent}. */
export interface AuthenticateWithEventOptions {
  /** The server's `eventName`. Default `authenticate`. */
  eventName?: string;
  /** Ms to wait for connect plus the answer before rejecting with `authentication_timeout`. Default 10000. */
  timeout?: number;
}

/**
 * @example
 * ```ts
 * import { io } from 'socket.io-client';
 * import { authenticateWithEvent, authErrorCode } from 'sockpass/client';
 *
 * const socket = io('https://chat.example');
 * try {
 *   await authenticateWithEvent(socket, token);
 *   socket.emit('join', 'lobby');
 * } catch (err) {
 *   if (authErrorCode(err) === 'token_expired') await login();
 * }
 * // After a reconnection the server sees a new socket: authenticate again.
 * socket.io.on('reconnect', () => authenticateWithEvent(socket, token));
 * ```
 */
export function authenticateWithEvent(socket: Socket, token: string, options: AuthenticateWithEventOptions = {}): Promise<void> {
  const eventName = options.eventName ?? 'authenticate';
  const timeout = options.timeout ?? 10_000;
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: ClientAuthError) => {
      clearTimeout(timer);
      socket.off('authenticated', onAuthenticated);
      socket.off('unauthorized', onUnauthorized);
      socket.off('connect', onConnect);
      socket.off('connect_error', onConnectError);
      socket.off('disconnect', onDisconnect);
      if (error === undefined) resolve();
      else reject(error);
    };
    const send = () => socket.emit(eventName, { token });
    const onConnect = () => {
      socket.on('disconnect', onDisconnect);
      send();
    };
    const onAuthenticated = () => settle();
    const onUnauthorized = (payload: unknown) => {
      const message = isUnauthorizedError(payload) ? payload.data.message : 'authentication refused';
      settle(new ClientAuthError(authErrorCode(payload) ?? 'invalid_token', message));
    };
    const onConnectError = (err: Error) => {
      // An active socket retries by itself (network trouble); an inactive one was refused for good.
      if (socket.active) return;
      settle(new ClientAuthError(authErrorCode(err) ?? 'disconnected', err.message));
    };
    const onDisconnect = (reason: string) => settle(new ClientAuthError('disconnected', `disconnected before authenticating (${reason})`));
    const timer = setTimeout(
      () => settle(new ClientAuthError('authentication_timeout', `no answer to ${eventName} within ${timeout} ms`)),
      timeout,
    );
    socket.on('authenticated', onAuthenticated);
    socket.on('unauthorized', onUnauthorized);
    socket.on('connect_error', onConnectError);
    if (socket.connected) onConnect();
    else socket.once('connect', onConnect);
  });
}
