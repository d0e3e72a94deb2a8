/**
 * `jwt-authenticate-event`: the token in the body of an `authenticate` event
 * sent after the socket connected (socketio-jwt's two-round-trip flow). The
 * token never appears in a URL or a header, at the price of a second round
 * trip and of a window in which the socket is connected but not yet
 * authenticated: the pipeline quarantines it for that window (see
 * `src/life/quarantine.ts`). The strategy itself only reads the event's payload
 * and calls the shared verifier; it knows nothing of Socket.IO.
 *
 * @module
 */
import { AuthError } from '../src/errors.js';
import type { AuthResult, Claims, Strategy } from '../src/types.js';
import { eventPayloadToken, stripBearer } from './jwt/token-sources.js';
import { createJwtVerifier, type JwtVerifyOptions } from './jwt/verifier.js';

/** Options of {@link jwtAuthenticateEvent}: the shared JWT options, the event name and the time allowed. */
export interface JwtAuthenticateEventOptions<U = Claims> extends JwtVerifyOptions<U> {
  /** Event the client sends its token in. Default `authenticate`. */
  eventName?: string;
  /** Ms the socket has to authenticate before it is told `authentication_timeout` and disconnected. Default 15000. */
  timeout?: number;
}

const DEFAULT_TIMEOUT = 15_000;
const MAX_TIMEOUT = 2 ** 31 - 1;
/** Names Socket.IO reserves or that a client cannot send; listening for them would never see a credential. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener', 'error']);

/**
 * @example
 * ```ts
 * auth
 *   .use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'] }))
 *   .use('jwt-event', jwtAuthenticateEvent({ secret, algorithms: ['HS256'], timeout: 10_000 }));
 * io.use(auth.middleware(['jwt-auth', 'jwt-event'])); // handshake token first, the event as the fallback
 * // client: socket.on('connect', () => socket.emit('authenticate', { token }))
 * ```
 */
/** Without a `user` mapping the socket's user is the verified claims. */
export function jwtAuthenticateEvent(options: JwtAuthenticateEventOptions<Claims> & { user?: undefined }): Strategy<Claims>;
/** With a `user` mapping the socket's user is what it returns. */
export function jwtAuthenticateEvent<U>(options: JwtAuthenticateEventOptions<U> & { user: (claims: Claims) => U | Promise<U> }): Strategy<U>;
/** Options typed by the app beforehand (`JwtAuthenticateEventOptions<User>`): the user type they name. */
export function jwtAuthenticateEvent<U>(options: JwtAuthenticateEventOptions<U>): Strategy<U>;
export function jwtAuthenticateEvent<U = Claims>(options: JwtAuthenticateEventOptions<U>): Strategy<U> {
  const verifier = createJwtVerifier(options);
  const eventName = options.eventName ?? 'authenticate';
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (typeof eventName !== 'string' || eventName.length === 0 || RESERVED_EVENTS.has(eventName)) {
    throw new TypeError(`sockpass: ${JSON.stringify(eventName)} cannot be the authentication event`);
  }
  if (!Number.isInteger(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT) {
    throw new TypeError('sockpass: `timeout` must be a positive whole number of milliseconds');
  }
  return {
    inBand: Object.freeze({ eventName, timeout }),
    // The credential is not in the handshake: pass, so the pipeline quarantines the socket and waits for the event.
    authenticate: async function jwtAuthenticateEventStrategy() {
      return { kind: 'pass' };
    },
    authenticateCredential: async function jwtAuthenticateEventCredential(payload): Promise<AuthResult<U>> {
      const token = eventPayloadToken(payload);
      if (token instanceof AuthError) return { kind: 'fail', error: token };
      return verifier.verify(stripBearer(token));
    },
  };
}
