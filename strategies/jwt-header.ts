/**
 * `jwt-header`: `Authorization: Bearer <token>` on the handshake request.
 * Browsers cannot set headers on a WebSocket, so this serves Node clients and
 * the polling transport's `extraHeaders`. The header is parsed as
 * passport-jwt parses it, and any passport-jwt extractor fits `extractor`,
 * so an app moving from an HTTP API protected by passport-jwt reads tokens
 * the same way on both.
 *
 * @module
 */
import { AuthError } from '../src/errors.js';
import type { Claims, Strategy } from '../src/types.js';
import { fromBearerHeader, isBearerHeader, stripBearer, type TokenExtractor } from './jwt/token-sources.js';
import { createJwtVerifier, type JwtVerifyOptions } from './jwt/verifier.js';

/** Options of {@link jwtHeader}: the shared JWT options, and how to extract the token from the request. */
export interface JwtHeaderOptions<U = Claims> extends JwtVerifyOptions<U> {
  /** Takes the token from the handshake request, e.g. a passport-jwt extractor. Default: `Authorization: Bearer <token>`. */
  extractor?: TokenExtractor;
}

/**
 * @example
 * ```ts
 * auth.use('jwt-header', jwtHeader({ secret: publicKeyPem, algorithms: ['RS256'] }));
 * // client: io(url, { extraHeaders: { Authorization: `Bearer ${token}` } })
 * ```
 */
/** Without a `user` mapping the socket's user is the verified claims. */
export function jwtHeader(options: JwtHeaderOptions<Claims> & { user?: undefined }): Strategy<Claims>;
/** With a `user` mapping the socket's user is what it returns. */
export function jwtHeader<U>(options: JwtHeaderOptions<U> & { user: (claims: Claims) => U | Promise<U> }): Strategy<U>;
/** Options typed by the app beforehand (`JwtHeaderOptions<User>`): the user type they name. */
export function jwtHeader<U>(options: JwtHeaderOptions<U>): Strategy<U>;
export function jwtHeader<U = Claims>(options: JwtHeaderOptions<U>): Strategy<U> {
  const verifier = createJwtVerifier(options);
  const extract = options.extractor ?? fromBearerHeader;
  const custom = options.extractor !== undefined;
  return {
    authenticate: async function jwtHeaderStrategy(ctx) {
      const header = ctx.headers.authorization;
      if (!custom && header === undefined) return { kind: 'pass' };
      // passport-jwt's extractors take an express-like request; the handshake request is one.
      const token = extract(ctx.request);
      if (token === null || token === undefined || token === '') {
        if (!custom && isBearerHeader(header)) {
          return { kind: 'fail', error: new AuthError('credentials_bad_format', 'Authorization header is not "Bearer <token>"') };
        }
        return { kind: 'pass' };
      }
      return verifier.verify(token);
    },
    authenticateCredential: (token) => verifier.verify(stripBearer(token)),
  };
}
