/**
 * The @fastify/session reader: its cookie is `<sid>.<signature>` (no `s:`
 * prefix, unlike express-session), signed by @fastify/cookie's signer with
 * the same HMAC-SHA256 rule, and its session is read straight from the store
 * the app gave @fastify/session. Nothing of Fastify is loaded: the reader
 * needs only the store's `get(sid, callback)` and the secret.
 *
 * @module
 */
import type { SessionRead, SessionReader, SessionRecord } from './reader.js';
import { claimedValue, prepareSecrets, unsignCookieValue, type CookieSecret, type CookieSessionId } from './signed-cookie.js';
import { requestView } from './express-session.js';

/** A @fastify/session store: it only needs `get(sid, callback)`, as every one has. */
export interface FastifySessionStoreLike {
  /** Reads one session; an error with code `ENOENT` means no such session, as @fastify/session reads it. */
  get(sid: string, callback: (err: unknown, session?: unknown) => void): unknown;
}

/** Options of {@link fastifySessionReader}: what the app gave `fastify.register(fastifySession, …)`. */
export interface FastifySessionReaderOptions {
  /** The `store` given to @fastify/session (its default store is private: pass one, e.g. `new MemoryStore()`). */
  store: FastifySessionStoreLike;
  /** The `secret` given to @fastify/session: one string, or a list (the first signs, every one verifies). */
  secret: CookieSecret;
  /** The `cookieName` given to @fastify/session. Default `sessionId`. */
  cookieName?: string;
  /** The `cookiePrefix` given to @fastify/session. Default none. */
  cookiePrefix?: string;
}

/**
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await fastify.register(fastifyCookie);
 * await fastify.register(fastifySession, { secret, store, cookie: { secure: 'auto' } });
 * auth.use('session', sessionCookie({
 *   reader: fastifySessionReader({ store, secret }),
 *   user: (session) => session.user,
 *   allowedOrigins: ['https://app.example'],
 * }));
 * ```
 */
export function fastifySessionReader(options: FastifySessionReaderOptions): SessionReader {
  const { store } = options ?? ({} as FastifySessionReaderOptions);
  if (typeof store?.get !== 'function') throw new TypeError('sockpass: fastifySessionReader() needs `store`, the store the app gave @fastify/session');
  const secrets = prepareSecrets(options.secret);
  const prefix = options.cookiePrefix ?? '';

  return {
    cookieName: options.cookieName ?? 'sessionId',
    sessionId(raw: string): CookieSessionId {
      if (!raw.startsWith(prefix)) return { kind: 'bad_format' };
      const signed = raw.slice(prefix.length);
      if (claimedValue(signed) === undefined) return { kind: 'bad_format' };
      const sid = unsignCookieValue(signed, secrets);
      return sid === undefined ? { kind: 'bad_signature' } : { kind: 'verified', sid };
    },
    read: (request, sid) =>
      new Promise<SessionRead>((resolve) => {
        try {
          store.get(sid.sid, (err, session) => {
            if (err) return resolve((err as { code?: unknown }).code === 'ENOENT' ? { kind: 'not_found' } : { kind: 'unavailable', cause: err });
            if (typeof session !== 'object' || session === null) return resolve({ kind: 'not_found' });
            const view = requestView(request, 'user');
            view.session = session;
            view.sessionID = sid.sid;
            resolve({ kind: 'found', request: view, session: session as SessionRecord });
          });
        } catch (err) {
          resolve({ kind: 'unavailable', cause: err });
        }
      }),
  };
}
