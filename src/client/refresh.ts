/**
 * The client half of in-band refresh: answer the server's `auth:refresh`
 * notice with a fresh token from the app's `getToken()`, on the same socket,
 * so the connection (and every message in flight) survives token rotation.
 * `refreshToken` sends one unasked — to refresh early, or to upgrade an
 * anonymous socket after the user logs in.
 *
 * @module
 */
import type { Socket } from 'socket.io-client';
import { REFRESH_EVENT, type RefreshNotice, type RefreshReply } from '../protocol.js';
import { ClientAuthError } from './errors.js';

/** The app's source of tokens: its own refresh endpoint, an OAuth library, a cache. */
export type GetToken = () => string | Promise<string>;

/** Options of {@link refreshToken}. */
export interface RefreshTokenOptions {
  /** Ms to wait for the server's answer. Default 10000. */
  timeout?: number;
}

/** Options of {@link answerRefresh}. */
export interface AnswerRefreshOptions extends RefreshTokenOptions {
  /** Where a fresh token comes from, called on each `auth:refresh` notice. */
  getToken: GetToken;
  /**
   * A refresh that failed: `getToken()` threw, the server refused the token
   * (it disconnects the socket then; see `reconnectWithFreshToken`), or no
   * answer came in time.
   */
  onError?: (error: ClientAuthError) => void;
}

/**
 * Sends `token` as the socket's new credential. Resolves with the new expiry
 * (`null`: none), rejects with a `ClientAuthError` carrying the server's code.
 *
 * @example
 * ```ts
 * const expiresAt = await refreshToken(socket, await fetchNewToken());
 * ```
 */
export function refreshToken(socket: Socket, token: string, options: RefreshTokenOptions = {}): Promise<Date | null> {
  const timeout = options.timeout ?? 10_000;
  return new Promise((resolve, reject) => {
    socket.timeout(timeout).emit(REFRESH_EVENT, { token }, (err: Error | null, reply?: RefreshReply) => {
      if (err) {
        const code = socket.connected ? 'authentication_timeout' : 'disconnected';
        return reject(new ClientAuthError(code, code === 'disconnected' ? 'the socket closed before the refresh was answered' : 'no answer to the refresh in time'));
      }
      if (typeof reply !== 'object' || reply === null) return reject(new ClientAuthError('server_error', 'malformed refresh answer'));
      if ('error' in reply) return reject(new ClientAuthError(reply.error.code, reply.error.message, reply.error.action));
      resolve(reply.expiresAt === null ? null : new Date(reply.expiresAt));
    });
  });
}

/**
 * Answers every `auth:refresh` notice with `getToken()`. Returns a function
 * that stops answering.
 *
 * @example
 * ```ts
 * import { connectWithToken, answerRefresh } from 'sockpass/client';
 * const socket = connectWithToken(url, { token: await getToken() });
 * answerRefresh(socket, { getToken, onError: (err) => console.warn('refresh failed', err.code) });
 * ```
 */
export function answerRefresh(socket: Socket, options: AnswerRefreshOptions): () => void {
  if (typeof options?.getToken !== 'function') throw new TypeError('sockpass: answerRefresh needs a getToken() function');
  let busy = false;
  const onNotice = async (_notice: RefreshNotice) => {
    // The server asks once per credential; a notice during our own refresh is already answered.
    if (busy) return;
    busy = true;
    try {
      const token = await options.getToken();
      await refreshToken(socket, token, options);
    } catch (err) {
      const error = err instanceof ClientAuthError ? err : new ClientAuthError('credentials_required', 'getToken() failed');
      options.onError?.(error);
    } finally {
      busy = false;
    }
  };
  socket.on(REFRESH_EVENT, onNotice);
  return () => {
    socket.off(REFRESH_EVENT, onNotice);
  };
}
