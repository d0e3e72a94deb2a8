/**
 * `connectWithToken`: opens a socket.io-client socket with the token where a
 * handshake strategy reads it — the `auth` payload (`jwt-auth`), the query
 * string (`jwt-query`) or an `Authorization: Bearer` header (`jwt-header`) —
 * keeping whatever the app already put there.
 *
 * @module
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';

/** Where the token travels: `auth` payload (default), `query` string, or `header`. */
export type TokenPlacement = 'auth' | 'query' | 'header';

/** Options of {@link connectWithToken}: socket.io-client's own options, plus the token and where it travels. */
export interface ConnectWithTokenOptions extends Partial<ManagerOptions & SocketOptions> {
  /** The token to send. */
  token: string;
  /** Default `auth`, the one that never puts the token in a URL. */
  via?: TokenPlacement;
  /**
   * Name of the `auth` field (jwt-auth's `field`) or query parameter
   * (jwt-query's `parameter`). Default `token`. Ignored for `header`.
   */
  name?: string;
}

type AuthCallback = (cb: (data: object) => void) => void;

/**
 * @example
 * ```ts
 * import { connectWithToken } from 'sockpass/client';
 *
 * const socket = connectWithToken('https://chat.example', { token });                 // jwt-auth
 * const legacy = connectWithToken(url, { token, via: 'query' });                       // jwt-query (proxies log URLs)
 * const service = connectWithToken(url, { token, via: 'header' });                     // jwt-header, Node
 * const browser = connectWithToken(url, { token, via: 'header', transports: ['polling'] });
 * ```
 *
 * Browsers cannot set headers on a WebSocket: with `via: 'header'` in a
 * browser, start with the polling transport (the handshake is authenticated
 * on the first request; the later upgrade needs no header).
 */
export function connectWithToken(url: string, options: ConnectWithTokenOptions): Socket {
  const { token, via = 'auth', name = 'token', ...ioOptions } = options;
  if (typeof token !== 'string' || token.length === 0) throw new TypeError('sockpass: connectWithToken needs a non-empty token');
  return io(url, placeToken(ioOptions, token, via, name));
}

/** The socket.io-client options with the token added where `via` says; exported for apps that build their own Manager. */
export function placeToken(
  options: Partial<ManagerOptions & SocketOptions>,
  token: string,
  via: TokenPlacement = 'auth',
  name = 'token',
): Partial<ManagerOptions & SocketOptions> {
  switch (via) {
    case 'auth': {
      const auth = options.auth as object | AuthCallback | undefined;
      if (typeof auth === 'function') {
        return { ...options, auth: (cb: (data: object) => void) => auth((data) => cb({ ...data, [name]: token })) };
      }
      return { ...options, auth: { ...auth, [name]: token } };
    }
    case 'query': {
      const query = typeof options.query === 'string' ? Object.fromEntries(new URLSearchParams(options.query)) : options.query;
      return { ...options, query: { ...query, [name]: token } };
    }
    case 'header':
      return { ...options, extraHeaders: { ...options.extraHeaders, Authorization: `Bearer ${token}` } };
    default:
      throw new TypeError(`sockpass: unknown token placement ${JSON.stringify(via)}`);
  }
}
