/**
 * `sockpass/compat/passport.socketio`: passport.socketio 3.x's `authorize()`
 * and `filterSocketsByUser()`, so an app that used it changes only its
 * import. Underneath is sockpass's session strategy, so the cookie signature
 * is checked with the app's `cookieParser` and `secret`, the session read
 * from the app's `store` with a bounded wait, and the user deserialized by
 * the app's `passport`, as passport.socketio did — and a store that hangs
 * no longer hangs the handshake.
 *
 * What stays the same: `socket.request.user` (with `logged_in`), the
 * `success(data, accept)` / `fail(data, message, error, accept)` callbacks
 * with `data` = `socket.request`, the default success (accept) and fail
 * (refuse with the message). What changed on purpose: the `?session_id=`
 * query workaround is gone (it took an unsigned session id from the URL);
 * `accept(null, false)` refuses instead of silently admitting; a callback
 * that throws, or an async one that rejects, refuses the handshake with
 * `server_error` instead of crashing the process.
 *
 * Written on sockpass's public API (`sessionCookie` with a `SessionReader`
 * of its own, `AuthError`, the strategy contract's types) plus one internal
 * seam, `./core-seam.ts`: `createHandshakeContext`, the read-only
 * view a registry hands every strategy. passport.socketio admitted a socket
 * and forgot it, so the strategy runs on that view directly, outside any
 * registry: no `socket.data.auth`, no deadline, no revalidation, as before.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import createDebug from 'debug';
// The one internal seam (./core-seam.ts says what and why).
import { createHandshakeContext, type HandshakeSource } from './core-seam.js';
// The rest: names src/index.ts exports, imported from their modules (as src/index.ts does).
import { AuthError, type AuthErrorCode } from '../errors.js';
import type { AuthResult, Strategy } from '../types.js';
import {
  sessionCookie,
  type AllowedOrigins,
  type ConnectMiddleware,
  type PassportLike,
  type SessionRead,
  type SessionReader,
  type SessionRecord,
} from '../../strategies/session-cookie.js';
import type { CookieSessionId } from '../../strategies/session/signed-cookie.js';

const debug = createDebug('sockpass:compat:passport.socketio');

/** What passport.socketio puts on `socket.request[userProperty]`: the user, or `{ logged_in: false }`. */
export type PassportSocketIoUser = Record<string, unknown> & { logged_in: boolean };

/** `socket.request`, as the `success` and `fail` callbacks receive it (`data`). */
export type PassportSocketIoData = IncomingMessage & {
  /** Set, as passport.socketio did, for apps that test for Socket.IO 1.x. */
  socketio_version_1?: true;
  /** The session id read from the cookie. */
  sessionID?: string;
  [userProperty: string]: unknown;
};

/** `accept()` admits; `accept(err)` refuses with `err` as the client's `connect_error`; `accept(null, false)` refuses too. */
export type Accept = (err?: Error | null, accepted?: boolean) => void;

/** Any express-session store: it only needs `get(sid, cb)`. */
export interface SessionStoreLike {
  /** Reads one session, as every express-session store does. */
  get(sid: string, callback: (err: unknown, session?: unknown) => void): unknown;
}

/** cookie-parser's factory: `cookieParser(secret)` is a middleware that sets `req.signedCookies`. */
export type CookieParserFactory = (secret?: string | string[]) => ConnectMiddleware;

/** passport.socketio's options of `authorize()`, plus sockpass's hardening ones. */
export interface AuthorizeOptions {
  /** The store the app gave express-session. Required. */
  store: SessionStoreLike;
  /** The secret the app gave express-session. Required (without it no cookie can be verified). */
  secret: string | string[];
  /** Cookie name (express-session's `name`/`key`). Default `connect.sid`. */
  key?: string;
  /** Default `require('cookie-parser')`. */
  cookieParser?: CookieParserFactory;
  /** Default `require('passport')`. */
  passport?: PassportLike;
  /** Where the user goes on `socket.request`. Default `user`. */
  userProperty?: string;
  /** Called when the session has a logged-in user; call `accept()` to admit. Default: admit. May be async; a throw or a rejection refuses the handshake with `server_error`. */
  success?: (data: PassportSocketIoData, accept: Accept) => void | Promise<void>;
  /** Called when there is no logged-in user or reading failed (`error` true); call `accept(...)` to decide. Default: refuse. May be async; a throw or a rejection refuses the handshake with `server_error`. */
  fail?: (data: PassportSocketIoData, message: string, error: boolean, accept: Accept) => void | Promise<void>;
  /** sockpass addition: origins a cookie handshake may come from. Default `'any'` (as passport.socketio), with a warning. */
  allowedOrigins?: AllowedOrigins;
  /** sockpass addition: longest wait for the store, in ms. Default 2000. */
  storeTimeout?: number;
}

/** The socket `io.use()` hands over: the handshake parts sockpass reads, plus `data`. */
export interface AuthorizeSocket extends HandshakeSource {
  /** Socket.IO's `socket.data`, where sockpass puts `auth`. */
  data?: unknown;
}

/** sockpass's AuthError, the same class `sockpass` exports (one copy of the core at run time). */
export { AuthError, isAuthError } from '../errors.js';

/**
 * Where authorize() keeps, on the socket itself, the user it admitted that
 * socket with. `socket.request` is one object for every namespace of a
 * connection, so what authorize() writes there is only the latest
 * handshake's answer on any namespace; the sweep needs this socket's own.
 * A registered symbol, so a second copy of this module (CJS beside ESM)
 * reads what the first wrote.
 */
const ADMITTED_USER = Symbol.for('sockpass.compat.passport.socketio.admittedUser');

/**
 * @example
 * ```ts
 * import { authorize } from 'sockpass/compat/passport.socketio';
 * io.use(authorize({ cookieParser, key: 'connect.sid', secret, store: sessionStore, passport,
 *                    allowedOrigins: ['https://app.example'] }));
 * io.on('connection', (socket) => socket.request.user); // { ...user, logged_in: true }
 * ```
 */
export function authorize(options: AuthorizeOptions): (socket: AuthorizeSocket, next: (err?: Error) => void) => void {
  const { store, secret } = options ?? ({} as AuthorizeOptions);
  if (typeof store?.get !== 'function') throw new TypeError('sockpass: authorize() needs `store`, the session store the app gave express-session');
  if (typeof secret !== 'string' && !Array.isArray(secret)) throw new TypeError('sockpass: authorize() needs `secret`, the secret the app gave express-session');
  const key = options.key ?? 'connect.sid';
  const userProperty = options.userProperty ?? 'user';
  const success = options.success ?? defaultSuccess;
  const fail = options.fail;
  if (options.allowedOrigins === undefined) {
    process.emitWarning(
      'sockpass passport.socketio authorize() accepts session cookies from any Origin, as passport.socketio did; ' +
        'pass allowedOrigins to refuse cross-site WebSocket hijacking.',
      { code: 'SOCKPASS_ANY_ORIGIN' },
    );
  }
  // The session each handshake read, so a refusal can say what passport.socketio said about it.
  const lastRead = new WeakMap<IncomingMessage, SessionRecord>();
  let passportKey = 'passport';
  // Loaded on first use, as passport.socketio's require() defaults were; the promise never rejects unhandled.
  const strategy: Promise<Strategy<Record<string, unknown>> | Error> = (async () => {
    const passport = options.passport ?? ((await loadAppModule('passport')) as PassportLike);
    // passport.socketio read the session under the Authenticator's `_key`; so do we, for its messages only.
    passportKey = (passport as { _key?: unknown })._key === undefined ? 'passport' : String((passport as { _key?: unknown })._key);
    const cookieParser = options.cookieParser ?? ((await loadAppModule('cookie-parser')) as CookieParserFactory);
    return sessionCookie<Record<string, unknown>>({
      name: key,
      passport,
      userProperty,
      allowedOrigins: options.allowedOrigins ?? 'any',
      storeTimeout: options.storeTimeout,
      reader: storeReader(cookieParser(secret), key, store, userProperty, (request, session) => lastRead.set(request, snapshotLogin(session, passportKey))),
    });
  })().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

  return function passportSocketIoAuthorize(socket, next) {
    const data = socket.request as PassportSocketIoData;
    data.socketio_version_1 = true;
    // What the connection's other namespaces left on the shared request, for a refusal to put back.
    const before = Object.prototype.hasOwnProperty.call(data, userProperty) ? { value: data[userProperty] } : undefined;
    let admitted: unknown = { logged_in: false };
    data[userProperty] = admitted;
    let answered = false;
    const refused = (err: Error) => {
      // A refused namespace has no socket: its answer must not replace the user a sibling namespace admitted.
      if (data[userProperty] === admitted) {
        if (before === undefined) delete data[userProperty];
        else data[userProperty] = before.value;
      }
      next(err);
    };
    const accept: Accept = (err, accepted) => {
      if (answered) return;
      answered = true;
      if (err) return refused(err);
      if (accepted === false) return refused(new AuthError('forbidden', 'the connection was refused'));
      (socket as AuthorizeSocket & { [ADMITTED_USER]?: unknown })[ADMITTED_USER] = admitted;
      next();
    };
    // An app callback that throws, or an async one that rejects, refuses the handshake; it never crashes the process.
    const callbackFailed = (err: unknown) => {
      debug('a success/fail callback failed: %s', (err as Error)?.message);
      accept(new AuthError('server_error', 'authentication failed', { cause: err }));
    };
    const call = (callback: () => unknown) => {
      try {
        const returned = callback();
        if (typeof (returned as PromiseLike<unknown> | null)?.then === 'function') (returned as PromiseLike<unknown>).then(undefined, callbackFailed);
      } catch (err) {
        callbackFailed(err);
      }
    };
    const refuse = (refusal: Refusal) => {
      if (fail !== undefined) return call(() => fail(data, refusal.message, refusal.critical, accept));
      // The default: passport.socketio's message and sockpass's code; a critical error's details stay on the server.
      const message =
        refusal.code === 'store_unavailable' ? 'Error in session store' : refusal.code === 'server_error' ? 'authentication failed' : refusal.message;
      accept(new AuthError(refusal.code, message, { strategy: 'passport.socketio' }));
    };
    strategy
      .then(async (loaded) => {
        if (loaded instanceof Error) throw loaded;
        return loaded.authenticate(createHandshakeContext(socket));
      })
      .then(
        (result) => {
          if (result.kind === 'success') {
            const user = result.user;
            if (typeof user === 'object' && user !== null) user.logged_in = true;
            data[userProperty] = admitted = user;
            if (result.session !== undefined) data.sessionID = result.session;
            return call(() => success(data, accept));
          }
          refuse(describeRefusal(result, lastRead.get(socket.request), passportKey));
        },
        (err: unknown) => {
          debug('authorize failed: %s', (err as Error)?.message);
          refuse({ code: 'server_error', message: (err as Error)?.message ?? String(err), critical: true });
        },
      );
  };
}

/**
 * The main namespace's sockets whose user passes `filter`. A socket's user is
 * the one `authorize()` admitted it with, else `socket.data.auth.user` for
 * sockets a sockpass strategy admitted (so token sockets count too while an
 * app migrates), else `socket.request.user` as the app set it. What a
 * handshake on another namespace of the same connection wrote onto the
 * shared `socket.request` never hides a socket of the user.
 *
 * @example
 * ```ts
 * filterSocketsByUser(io, (user) => user.id === '42').forEach((s) => s.emit('message', 'hi'));
 * ```
 */
export function filterSocketsByUser<S extends FilterableSocket>(
  io: { sockets: { sockets: Map<string, S> } },
  filter: (user: PassportSocketIoUser) => boolean,
): S[] {
  const matches: S[] = [];
  for (const socket of io.sockets.sockets.values()) {
    const user =
      (socket as FilterableSocket & { [ADMITTED_USER]?: unknown })[ADMITTED_USER] ??
      (socket.data as { auth?: { user?: unknown } } | undefined)?.auth?.user ??
      (socket.request as { user?: unknown } | undefined)?.user;
    if (typeof user === 'object' && user !== null && filter(user as PassportSocketIoUser)) matches.push(socket);
  }
  return matches;
}

/** What `filterSocketsByUser` reads from a socket. */
export interface FilterableSocket {
  /** The handshake request, where passport.socketio put the user. */
  request?: object;
  /** Socket.IO's `socket.data`, where sockpass puts `auth`. */
  data?: unknown;
}

/**
 * passport.socketio's cookie reading, as a session reader: express-session's
 * cookie format (`s:<sid>.<signature>`), the signature checked by the app's
 * cookieParser with the secret, then `store.get(sid)`.
 */
function storeReader(
  parseCookies: ConnectMiddleware,
  key: string,
  store: SessionStoreLike,
  userProperty: string,
  remember: (request: IncomingMessage, session: SessionRecord) => void,
): SessionReader {
  const parse = parseCookies as unknown as (req: object, res: object, next: (err?: unknown) => void) => unknown;
  const read = (request: IncomingMessage, claimedSid: string) =>
    new Promise<SessionRead>((resolve) => {
      const parsed: { headers: IncomingMessage['headers']; signedCookies?: Record<string, unknown> } = {
        headers: { cookie: request.headers.cookie },
      };
      parse(parsed, {}, (err) => {
        if (err) return resolve({ kind: 'unavailable', cause: err });
        if (parsed.signedCookies?.[key] !== claimedSid) return resolve({ kind: 'bad_signature' });
        try {
          store.get(claimedSid, (error, session) => {
            if (error) return resolve({ kind: 'unavailable', cause: error });
            if (typeof session !== 'object' || session === null) return resolve({ kind: 'not_found' });
            remember(request, session as SessionRecord);
            const view = sessionView(request, userProperty);
            view.session = session;
            view.sessionID = claimedSid;
            resolve({ kind: 'found', request: view, session: session as SessionRecord });
          });
        } catch (error) {
          resolve({ kind: 'unavailable', cause: error });
        }
      });
    });
  return { cookieName: key, sessionId: claimedSessionId, read: (request, sid) => read(request, sid.sid) };
}

/** The session id an express-session cookie claims; its signature is checked by cookieParser while reading. */
function claimedSessionId(raw: string): CookieSessionId {
  if (!raw.startsWith('s:')) return { kind: 'bad_format' };
  const signed = raw.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0 || dot === signed.length - 1) return { kind: 'bad_format' };
  return { kind: 'claimed', sid: signed.slice(0, dot) };
}

/**
 * A per-handshake view of the request for Passport's deserializer: reads
 * fall through to the request, writes stay on the view, so what Passport
 * sets (`_passport`, the user) never lands on the `socket.request` every
 * namespace of the connection shares. The session strategy's own reader
 * builds the same view; this one is the compat's, on the reader contract.
 */
function sessionView(request: IncomingMessage, userProperty: string): Record<string, unknown> {
  const view = Object.create(request) as Record<string, unknown>;
  for (const key of ['session', 'sessionID', 'sessionStore', 'signedCookies', 'cookies', '_passport', userProperty]) {
    Object.defineProperty(view, key, { value: undefined, writable: true, configurable: true, enumerable: true });
  }
  return view;
}

/**
 * The session as read, before Passport deserializes its user: Passport
 * deletes `session.passport.user` when `deserializeUser` finds nobody, and
 * passport.socketio's "User not found" depends on what the store held.
 */
function snapshotLogin(session: SessionRecord, passportKey: string): SessionRecord {
  const login = session[passportKey];
  return typeof login === 'object' && login !== null ? { ...session, [passportKey]: { ...login } } : session;
}

/**
 * The app's own copy of a module, as passport.socketio's `require('passport')`
 * default was. The specifier is a variable so the bundler leaves it alone: a
 * bundled Passport would be a second singleton with none of the app's
 * serializers.
 */
async function loadAppModule(specifier: string): Promise<unknown> {
  const loaded = (await import(specifier)) as { default?: unknown };
  return loaded.default ?? loaded;
}

/** passport.socketio's `fail` message and `error` flag for a sockpass refusal. */
interface Refusal {
  code: AuthErrorCode;
  message: string;
  critical: boolean;
}

function describeRefusal(result: Exclude<AuthResult<unknown>, { kind: 'success' }>, session: SessionRecord | undefined, passportKey: string): Refusal {
  if (result.kind === 'pass') return { code: 'credentials_required', message: NO_SESSION, critical: false };
  const { code, cause } = result.error;
  switch (code) {
    case 'store_unavailable':
      return { code, message: 'Error in session store:\n' + ((cause as Error)?.message ?? result.error.message), critical: true };
    case 'server_error':
      return { code, message: (cause as Error)?.message ?? result.error.message, critical: true };
    case 'credentials_required': {
      const login = session?.[passportKey] as { user?: unknown } | undefined;
      if (!login) return { code, message: 'Passport was not initialized', critical: true };
      if (login.user === undefined) return { code, message: 'User not authorized through passport. (User Property not found)', critical: false };
      return { code, message: 'User not found', critical: false };
    }
    case 'origin_not_allowed':
      return { code, message: 'Origin not allowed', critical: false };
    default:
      return { code, message: NO_SESSION, critical: false };
  }
}

const NO_SESSION = 'No session found';

function defaultSuccess(_data: PassportSocketIoData, accept: Accept): void {
  accept();
}
