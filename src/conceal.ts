/**
 * Keeps credentials out of what tools that display sockets read, such as
 * @socket.io/admin-ui's dashboard, which shows every socket's handshake
 * headers, query and URL and (in development mode) every event a socket
 * receives. sockpass's strategies read the credential during the handshake;
 * once the chain has admitted a socket, its `socket.handshake.headers` is
 * replaced by a copy with the credential headers (`authorization`,
 * `proxy-authorization`, `cookie`, and any the app names) shown as
 * `[hidden]`, and the events that carry a token in-band (`authenticate`,
 * `auth:refresh`, and any the app names) are hidden from the socket's
 * catch-all (`onAny`) listeners, which is where the admin UI reads events.
 * The token in the query string is already taken out of `handshake.query`
 * and `handshake.url` by `jwt-query`; `handshake.auth` is never displayed.
 *
 * The shared HTTP request (`socket.request`) is left as it is: the session
 * strategy's revalidation reads the cookie there, and other namespaces of
 * the same connection still authenticate with it.
 *
 * @module
 */
import createDebug from 'debug';
import type { SockPassMiddleware } from './registry.js';
import { REFRESH_EVENT } from './protocol.js';
import { hideFromCatchAll, type SocketLike } from './socketio.js';

const debug = createDebug('sockpass:conceal');

/** What a concealed credential looks like to a display. */
export const HIDDEN = '[hidden]';

/** Options of {@link concealCredentials}: more header and event names that carry credentials in your app. */
export interface ConcealOptions {
  /** Header names (any case) hidden besides `authorization`, `proxy-authorization` and `cookie`, e.g. `x-api-key`. */
  headers?: readonly string[];
  /** Event names hidden from catch-all listeners besides `authenticate` and `auth:refresh`. */
  events?: readonly string[];
}

/** The parts of a Socket.IO socket concealment touches. */
interface ConcealableSocket {
  handshake: { headers: Record<string, string | string[] | undefined> };
}

/**
 * Wraps a namespace middleware (the registry's): when it admits a socket,
 * the socket's handshake headers and in-band credential events are
 * concealed from displays.
 *
 * @example
 * ```ts
 * instrument(io, { auth: false, mode: 'development' });   // @socket.io/admin-ui
 * io.use(concealCredentials(auth.middleware(['jwt-header', 'session'])));
 * ```
 */
export function concealCredentials(middleware: SockPassMiddleware, options: ConcealOptions = {}): SockPassMiddleware {
  if (typeof middleware !== 'function') throw new TypeError('sockpass: concealCredentials() wraps a middleware, e.g. auth.middleware([...])');
  const headers = new Set(['authorization', 'proxy-authorization', 'cookie', ...(options.headers ?? []).map((h) => h.toLowerCase())]);
  const events = new Set<unknown>(['authenticate', REFRESH_EVENT, ...(options.events ?? [])]);
  return function concealingMiddleware(socket, next) {
    middleware(socket, (err) => {
      if (err === undefined || err === null) conceal(socket as unknown as ConcealableSocket, headers, events);
      next(err);
    });
  };
}

function conceal(socket: ConcealableSocket, headers: ReadonlySet<string>, events: ReadonlySet<unknown>): void {
  const shown: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(socket.handshake.headers)) shown[name] = headers.has(name) && value !== undefined ? HIDDEN : value;
  // A copy on this socket's handshake only: the shared request keeps its headers for the strategies that re-read them.
  socket.handshake.headers = shown;
  hideFromCatchAll(socket as unknown as SocketLike, events);
  debug('concealed the handshake credentials of a socket');
}
