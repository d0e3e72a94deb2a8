/**
 * `jwt-auth`: the token in the Socket.IO handshake `auth` payload,
 * `io(url, { auth: { token } })`. The default recommendation: one round trip,
 * and the token travels in the body of the handshake, never in a URL, so
 * proxies and access logs do not record it.
 *
 * @module
 */
import type { Claims, Strategy } from '../src/types.js';
import { authPayloadToken, stripBearer } from './jwt/token-sources.js';
import { createJwtVerifier, type JwtVerifyOptions } from './jwt/verifier.js';

/** Options of {@link jwtAuth}: the shared JWT options, and where in `handshake.auth` the token is. */
export interface JwtAuthOptions<U = Claims> extends JwtVerifyOptions<U> {
  /** Field of `handshake.auth` that holds the token. Default `token`. */
  field?: string;
}

/**
 * @example
 * ```ts
 * auth.use('jwt-auth', jwtAuth({ secret: process.env.JWT_SECRET!, algorithms: ['HS256'] }));
 * // client: io(url, { auth: { token } })
 * ```
 */
/** Without a `user` mapping the socket's user is the verified claims. */
export function jwtAuth(options: JwtAuthOptions<Claims> & { user?: undefined }): Strategy<Claims>;
/** With a `user` mapping the socket's user is what it returns. */
export function jwtAuth<U>(options: JwtAuthOptions<U> & { user: (claims: Claims) => U | Promise<U> }): Strategy<U>;
/** Options typed by the app beforehand (`JwtAuthOptions<User>`): the user type they name. */
export function jwtAuth<U>(options: JwtAuthOptions<U>): Strategy<U>;
export function jwtAuth<U = Claims>(options: JwtAuthOptions<U>): Strategy<U> {
  const verifier = createJwtVerifier(options);
  const field = options.field ?? 'token';
  return {
    authenticate: function jwtAuthStrategy(ctx) {
      const token = authPayloadToken(ctx, field);
      return token === undefined ? Promise.resolve({ kind: 'pass' }) : verifier.verify(stripBearer(token));
    },
    authenticateCredential: (token) => verifier.verify(stripBearer(token)),
  };
}
