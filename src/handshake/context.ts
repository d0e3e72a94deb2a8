/**
 * Builds the read-only HandshakeContext that every strategy of a chain sees,
 * from a Socket.IO socket. Cookies are parsed on first access only, so token
 * strategies pay nothing for them.
 *
 * @module
 */
import { parse as parseCookieHeader } from 'cookie';
import type { IncomingMessage } from 'node:http';
import type { HandshakeContext } from '../types.js';

/** The part of a Socket.IO server socket the context reads: public API only. */
export interface HandshakeSource {
  /** Socket.IO's `socket.handshake`. */
  handshake: {
    /** Parsed query string of the handshake URL. */
    query: Record<string, unknown>;
    /** The client's `auth` payload. */
    auth: unknown;
    /** The request URL as Socket.IO copied it when the socket was built: apps log it. */
    url?: string;
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

type Query = HandshakeContext['query'];

/**
 * Where the query parameters a strategy took out of the URL are kept: on the
 * Engine.IO connection's request, which every namespace multiplexed on it
 * shares. Engine.IO's parsed query is shared too, so a second namespace would
 * no longer find a token the first one forgot. Only sockpass's contexts read
 * it, and it goes with the connection.
 */
const FORGOTTEN = Symbol('sockpass.forgottenQuery');

type RequestWithForgotten = IncomingMessage & { [FORGOTTEN]?: Record<string, string | string[]> };

/**
 * A class rather than an object literal: its getter and method live on the
 * prototype, so a handshake allocates one small object, not a closure per
 * member (this runs for every connection).
 */
class SocketHandshakeContext implements HandshakeContext {
  readonly auth: HandshakeContext['auth'];
  readonly headers: HandshakeContext['headers'];
  readonly origin: string | undefined;
  readonly address: string;
  readonly namespace: string;
  readonly secure: boolean;
  readonly request: IncomingMessage;
  #source: HandshakeSource['handshake'];
  #cookies: Readonly<Record<string, string | undefined>> | undefined;
  #query: Query | undefined;

  constructor(socket: HandshakeSource) {
    const { handshake } = socket;
    const auth = handshake.auth;
    const origin = handshake.headers.origin;
    this.#source = handshake;
    this.#cookies = undefined;
    this.#query = undefined;
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

  /** A null-prototype copy, made on first access (Engine.IO's own object inherits from Object.prototype). */
  get query(): Query {
    if (this.#query === undefined) {
      const query = Object.assign(Object.create(null) as Record<string, string | string[] | undefined>, this.#source.query, (this.request as RequestWithForgotten)[FORGOTTEN]);
      this.#query = Object.freeze(query);
    }
    return this.#query;
  }

  forgetQueryParameter(name: string): void {
    const url = this.request.url ?? '/';
    const inUrl = readQueryParameter(url, name);
    const value = inUrl.length > 1 ? inUrl : (this.#source.query[name] as string | undefined) ?? inUrl[0];
    if (value !== undefined) {
      const request = this.request as RequestWithForgotten;
      const kept = (request[FORGOTTEN] ??= Object.create(null) as Record<string, string | string[]>);
      kept[name] = value;
    }
    delete this.#source.query[name];
    this.request.url = removeQueryParameter(url, name);
    if (typeof this.#source.url === 'string') this.#source.url = removeQueryParameter(this.#source.url, name);
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

/** Every value of `name` in a URL's query (Engine.IO's parsed query keeps only the last). */
function readQueryParameter(url: string, name: string): string[] {
  const q = url.indexOf('?');
  return q === -1 ? [] : new URLSearchParams(url.slice(q + 1)).getAll(name);
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
