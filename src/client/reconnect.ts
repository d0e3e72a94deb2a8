/**
 * Reconnecting with a fresh token, and knowing when not to. A refusal is
 * either recoverable — the token expired, the session store or key server
 * blinked — and a new token from the app's `getToken()` fixes it, or terminal
 * — the token is forged, the user is banned, the origin is wrong — and
 * retrying only hammers the server. `reconnectWithFreshToken` tells them
 * apart by the server's code: on a recoverable one it reconnects with a token
 * from `getToken()` (bounded, with backoff); on a terminal one it stops and
 * reports through `onStop`. The backoff is exponential with full jitter and a
 * ceiling: clients cut together (a mass revoke, a key server outage) spread
 * their retries instead of returning in lockstep, and none waits unboundedly.
 * A `getToken()` that never answers is given up on after `tokenTimeout`. A
 * connection counts as a success only once it has lasted `stableAfter` ms,
 * so a server that admits and cuts at once cannot keep it reconnecting
 * forever.
 *
 * It watches both kinds of refusal: a handshake refused (`connect_error`) and
 * a connected socket cut by the server (`auth:expired`, `auth:revoked`,
 * `auth:refused`, `auth:replaced`, then a disconnect). Every (re)connect, including
 * socket.io-client's own after a network drop, sends a token from
 * `getToken()`, so a long-gone token is never replayed.
 *
 * @module
 */
import type { Socket } from 'socket.io-client';
import { CLIENT_ACTIONS, actionFor, type AuthErrorCode, type ClientAction } from '../errors.js';
import { EXPIRED_EVENT, REFUSED_EVENT, REPLACED_EVENT, REVOKED_EVENT, type AuthNotice } from '../protocol.js';
import { ClientAuthError, authErrorCode, type ClientAuthErrorCode, type UnauthorizedData } from './errors.js';
import type { GetToken } from './refresh.js';

/**
 * Refusals that a fresh token (or a moment) can fix: the codes whose action
 * in the server's table is `refresh` or `backoff`. Every other code is terminal.
 */
export const RECOVERABLE_CODES: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>(
  (Object.keys(CLIENT_ACTIONS) as AuthErrorCode[]).filter((code) => retries(CLIENT_ACTIONS[code])),
);

/** True when a fresh token and a reconnect can fix a refusal with this code. */
export function isRecoverable(code: ClientAuthErrorCode | undefined): boolean {
  return code !== undefined && retries(actionFor(code));
}

/** `refresh` and `backoff` are worth another attempt; `login` and `stop` are not. */
function retries(action: ClientAction | undefined): boolean {
  return action === 'refresh' || action === 'backoff';
}

/** Options of {@link reconnectWithFreshToken}. */
export interface ReconnectWithFreshTokenOptions {
  /** Where a fresh token comes from, called before each reconnection attempt. */
  getToken: GetToken;
  /** The `auth` field the server's strategy reads (jwt-auth's `field`). Default `token`. */
  field?: string;
  /** Recoverable refusals in a row before giving up. Default 5. */
  maxAttempts?: number;
  /**
   * Ms of backoff before the first retry; the ceiling doubles with each
   * refusal in a row, up to `maxDelay`. With `jitter` (the default) each wait
   * is drawn uniformly from 0 to that ceiling. Default 250.
   */
  delay?: number;
  /** The longest wait between two attempts, in ms (a server's `retryAfter` may still ask for longer). Default 30000. */
  maxDelay?: number;
  /** Full jitter: each wait is random in [0, ceiling], so clients refused together do not retry together. Default true. */
  jitter?: boolean;
  /** Ms to wait for `getToken()` before giving up with `onStop` (`credentials_required`); `Infinity` waits forever. Default 10000. */
  tokenTimeout?: number;
  /**
   * Ms a connection must stay up before the attempts count starts again.
   * A server that admits and cuts at once (a token inside `clockTolerance`,
   * a revocation with a recoverable code) counts as a refusal. Default 5000.
   */
  stableAfter?: number;
  /**
   * Called once when it stops: a terminal refusal (its code), too many
   * recoverable ones in a row, `getToken()` failing or not answering within
   * `tokenTimeout` (`credentials_required`),
   * a server disconnect with no reason given (`disconnected`), or a refusal
   * from a middleware that is not sockpass, which carries no code (`unknown`).
   */
  onStop?: (error: ClientAuthError) => void;
}

type AuthCallback = (cb: (data: object) => void) => void;

/** setTimeout's longest delay: a longer one (an uncapped backoff, say) would fire at once. */
const LONGEST_TIMER = 2_147_483_647;

/**
 * @example
 * ```ts
 * import { io } from 'socket.io-client';
 * import { reconnectWithFreshToken, answerRefresh } from 'sockpass/client';
 *
 * const socket = io(url, { autoConnect: false });
 * reconnectWithFreshToken(socket, { getToken, onStop: (err) => showLogin(err.code) });
 * answerRefresh(socket, { getToken });
 * socket.connect();
 * ```
 */
export function reconnectWithFreshToken(socket: Socket, options: ReconnectWithFreshTokenOptions): () => void {
  if (typeof options?.getToken !== 'function') throw new TypeError('sockpass: reconnectWithFreshToken needs a getToken() function');
  const field = options.field ?? 'token';
  const maxAttempts = options.maxAttempts ?? 5;
  const delay = options.delay ?? 250;
  const maxDelay = options.maxDelay ?? 30_000;
  const jitter = options.jitter ?? true;
  const tokenTimeout = options.tokenTimeout ?? 10_000;
  const stableAfter = options.stableAfter ?? 5000;
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stableTimer: ReturnType<typeof setTimeout> | undefined;
  let notice: AuthNotice | undefined;
  let stopped = false;

  const previous = socket.auth as object | AuthCallback | undefined;
  socket.auth = (cb: (data: object) => void) => {
    const withToken = (base: object) => {
      // No token: do not connect with none (nor with one that comes too late); say why and stop.
      let settled = false;
      const giveUp = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(tokenTimer);
        stop(new ClientAuthError('credentials_required', message));
        socket.disconnect();
      };
      const tokenTimer = Number.isFinite(tokenTimeout)
        ? setTimeout(() => {
            // The app closed the socket meanwhile: nothing is waiting for the token any more.
            if (!socket.active) return void (settled = true);
            giveUp(`getToken() gave no token within ${tokenTimeout} ms`);
          }, Math.min(tokenTimeout, LONGEST_TIMER))
        : undefined;
      Promise.resolve()
        .then(() => options.getToken())
        .then(
          (token) => {
            if (settled) return;
            settled = true;
            clearTimeout(tokenTimer);
            cb({ ...base, [field]: token });
          },
          () => giveUp('getToken() failed'),
        );
    };
    if (typeof previous === 'function') previous((data) => void withToken(data));
    else void withToken(previous ?? {});
  };

  // The server's `action` decides; a server that sent none is read by the same table.
  const retry = (code: ClientAuthErrorCode, message: string, retryAfter?: unknown, action?: ClientAction) => {
    if (!retries(action ?? actionFor(code))) return stop(new ClientAuthError(code, message, action));
    if (++attempts > maxAttempts) return stop(new ClientAuthError(code, `gave up after ${maxAttempts} attempts: ${message}`));
    clearTimeout(timer);
    // `rate_limited` says how long the server will keep refusing: retrying sooner only spends the wait.
    const wait = typeof retryAfter === 'number' && Number.isFinite(retryAfter) ? Math.min(Math.max(retryAfter, 0), 3_600_000) : 0;
    const ceiling = Math.min(delay * 2 ** (attempts - 1), maxDelay);
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped && !socket.connected) socket.connect();
    }, Math.min(Math.max(jitter ? Math.random() * ceiling : ceiling, wait), LONGEST_TIMER));
  };

  const onConnect = () => {
    notice = undefined;
    // Only a connection that lasts ends a run of failed attempts: one cut at once is a refusal too.
    clearTimeout(stableTimer);
    stableTimer = setTimeout(() => {
      stableTimer = undefined;
      attempts = 0;
    }, stableAfter);
  };
  const onConnectError = (err: unknown) => {
    const code = authErrorCode(err);
    if (code === undefined) {
      // socket.io-client gives a server's refusal (a CONNECT_ERROR packet) a `data` property; network trouble has none and retries by itself.
      if (typeof err === 'object' && err !== null && Object.prototype.hasOwnProperty.call(err, 'data')) {
        stop(new ClientAuthError('unknown', String((err as Error).message)));
      }
      return;
    }
    const { message, retryAfter, action } = (err as { data: UnauthorizedData }).data;
    retry(code, message, retryAfter, action);
  };
  const onNotice = (payload: unknown) => {
    if (typeof payload === 'object' && payload !== null && typeof (payload as AuthNotice).code === 'string') notice = payload as AuthNotice;
  };
  const onDisconnect = (reason: string) => {
    clearTimeout(stableTimer);
    // Only the server's own disconnects are ours to judge; network drops reconnect by themselves.
    if (reason !== 'io server disconnect') return;
    const why = notice;
    notice = undefined;
    if (why === undefined) return stop(new ClientAuthError('disconnected', 'the server closed the connection'));
    retry(why.code, why.message, why.retryAfter, why.action);
  };

  socket.on('connect', onConnect);
  socket.on('connect_error', onConnectError);
  socket.on(EXPIRED_EVENT, onNotice);
  socket.on(REVOKED_EVENT, onNotice);
  socket.on(REFUSED_EVENT, onNotice);
  socket.on(REPLACED_EVENT, onNotice);
  socket.on('disconnect', onDisconnect);

  function stop(error?: ClientAuthError): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    clearTimeout(stableTimer);
    socket.off('connect', onConnect);
    socket.off('connect_error', onConnectError);
    socket.off(EXPIRED_EVENT, onNotice);
    socket.off(REVOKED_EVENT, onNotice);
    socket.off(REFUSED_EVENT, onNotice);
    socket.off(REPLACED_EVENT, onNotice);
    socket.off('disconnect', onDisconnect);
    if (error !== undefined) options.onStop?.(error);
  }
  return () => stop();
}
