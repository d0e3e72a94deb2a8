/**
 * Builds the read-only HandshakeContext that every strategy of a chain sees,
 * from a Socket.IO socket. Cookies are parsed on first access only, so token
 * strategies pay nothing for them.
 *
 * @module
 */
import { parse as parseCookieHeader } from 'cookie';
import type { IncomingMessage } from 'node:http';
import type { HandshakeContext } from './types.js';

/** The part of a Socket.IO server socket the context reads: public API only. */
export interface HandshakeSource {
  /** Socket.IO's `socket.handshake`. */
  handshake: {
    /** Parsed query string of the handshake URL. */
    query: Record<string, unknown>;
    /** The client's `auth` payload. */
    auth: unknown;
    /** Headers of the handshake request. */
    headers: Record<string, string | string[] | undefined>;
    /** The client's remote address. */
    address: string;
    /** True over TLS. */
    secure: boolean;
  };
  /** The handshake's HTTP request (`socket.request`). */
  request: IncomingMessage;
  /** The namespace the socket joins; only its `name` is read. */
  nsp: {
    /** Namespace name, e.g. `/` or `/admin`. */
    name: string;
  };
}

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

/**
 * A class rather than an object literal: its getter and method live on the
 * prototype, so a handshake allocates one small object, not a closure per
 * member (this runs for every connection).
 */
class SocketHandshakeContext implements HandshakeContext {
  readonly query: HandshakeContext['query'];
  readonly auth: HandshakeContext['auth'];
  readonly headers: HandshakeContext['headers'];
  readonly origin: string | undefined;
  readonly address: string;
  readonly namespace: string;
  readonly secure: boolean;
  readonly request: IncomingMessage;
  #source: HandshakeSource['handshake'];
  #cookies: Readonly<Record<string, string | undefined>> | undefined;

  constructor(socket: HandshakeSource) {
    const { handshake } = socket;
    const auth = handshake.auth;
    const origin = handshake.headers.origin;
    this.#source = handshake;
    this.#cookies = undefined;
    this.query = handshake.query as HandshakeContext['query'];
    this.auth = typeof auth === 'object' && auth !== null && !Array.isArray(auth) ? (auth as Record<string, unknown>) : EMPTY;
    this.headers = handshake.headers;
    this.origin = typeof origin === 'string' ? origin : undefined;
    this.address = handshake.address;
    this.namespace = socket.nsp.name;
    this.secure = handshake.secure;
    this.request = socket.request;
  }

  get cookies(): Readonly<Record<string, string | undefined>> {
    if (this.#cookies === undefined) this.#cookies = Object.freeze(parseCookies(this.#source.headers.cookie));
    return this.#cookies;
  }

  forgetQueryParameter(name: string): void {
    delete this.#source.query[name];
    this.request.url = removeQueryParameter(this.request.url ?? '/', name);
  }
}

export function createHandshakeContext(socket: HandshakeSource): HandshakeContext {
  return new SocketHandshakeContext(socket);
}

function parseCookies(header: string | string[] | undefined): Record<string, string | undefined> {
  if (typeof header !== 'string' || header.length === 0) return {};
  // cookie.parse returns a null-prototype object, so `__proto__` in a cookie name is inert.
  return parseCookieHeader(header);
}

/** Drops every occurrence of `name` from a request URL's query, keeping the rest verbatim. */
export function removeQueryParameter(url: string, name: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      const key = pair.split('=', 1)[0] ?? '';
      let decoded = key;
      try {
        decoded = decodeURIComponent(key.replace(/\+/g, ' '));
      } catch {
        // a malformed escape cannot equal a well-formed name; keep it as is
      }
      return decoded !== name;
    });
  return kept.length > 0 ? `${url.slice(0, q)}?${kept.join('&')}` : url.slice(0, q);
}
