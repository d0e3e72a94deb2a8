/**
 * `jwt-header`: `Authorization: Bearer <token>` on the handshake request.
 * Browsers cannot set headers on a WebSocket, so this serves Node clients and
 * the polling transport's `extraHeaders`. Extraction is passport-jwt's, so an
 * app moving from an HTTP API protected by passport-jwt reads tokens the
 * same way on both.
 *
 * @module
 */
import type { JwtFromRequestFunction } from 'passport-jwt';
import { AuthError } from '../src/errors.js';
import type { Claims, Strategy } from '../src/types.js';
import { bearerHeaderExtractor, isBearerHeader, stripBearer } from './jwt/token-sources.js';
import { createJwtVerifier, type JwtVerifyOptions } from './jwt/verifier.js';

/** Options of {@link jwtHeader}: the shared JWT options, and how to extract the token from the request. */
export interface JwtHeaderOptions<U = Claims> extends JwtVerifyOptions<U> {
  /** A passport-jwt extractor. Default `ExtractJwt.fromAuthHeaderAsBearerToken()`. */
  extractor?: JwtFromRequestFunction;
}

/**
 * @example
 * ```ts
 * auth.use('jwt-header', jwtHeader({ secret: publicKeyPem, algorithms: ['RS256'] }));
 * // client: io(url, { extraHeaders: { Authorization: `Bearer ${token}` } })
 * ```
 */
export function jwtHeader<U = Claims>(options: JwtHeaderOptions<U>): Strategy<U> {
  const verifier = createJwtVerifier(options);
  const extract = options.extractor ?? bearerHeaderExtractor();
  const custom = options.extractor !== undefined;
  return {
    authenticate: async function jwtHeaderStrategy(ctx) {
      const header = ctx.headers.authorization;
      if (!custom && header === undefined) return { kind: 'pass' };
      // passport-jwt's extractors take an express-like request; the handshake request is one.
      const token = extract(ctx.request as Parameters<JwtFromRequestFunction>[0]);
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
