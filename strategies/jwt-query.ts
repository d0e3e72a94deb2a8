/**
 * `jwt-query`: the token in the handshake URL, `?token=…` — the legacy way
 * (socketio-jwt's `query: 'token=' + jwt`). It works with every transport,
 * but URLs are what proxies, load balancers and access logs record, so the
 * token ends up in logs you do not control. The strategy removes the token
 * from `handshake.query`, `handshake.url` and the request URL as soon as it
 * has read it, so nothing later in the app logs it again (a second namespace
 * on the same connection still authenticates: the context keeps the token
 * for sockpass alone); it cannot unlog what a proxy saw.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../src/errors.js';
import type { Claims, Strategy } from '../src/types.js';
import { isRepeatedQueryParameter } from './jwt/token-sources.js';
import { createJwtVerifier, type JwtVerifyOptions } from './jwt/verifier.js';

const debug = createDebug('sockpass:jwt-query');

/** Options of {@link jwtQuery}: the shared JWT options, and which query parameter holds the token. */
export interface JwtQueryOptions<U = Claims> extends JwtVerifyOptions<U> {
  /** Query parameter that holds the token. Default `token`. */
  parameter?: string;
  /** Set to false to silence the one-time warning that proxies log URLs. */
  warnUrlLogging?: boolean;
}

/**
 * @example
 * ```ts
 * auth.use('jwt-query', jwtQuery({ secret, algorithms: ['HS256'] }));
 * // client: io(url, { query: { token } })
 * ```
 */
/** Without a `user` mapping the socket's user is the verified claims. */
export function jwtQuery(options: JwtQueryOptions<Claims> & { user?: undefined }): Strategy<Claims>;
/** With a `user` mapping the socket's user is what it returns. */
export function jwtQuery<U>(options: JwtQueryOptions<U> & { user: (claims: Claims) => U | Promise<U> }): Strategy<U>;
/** Options typed by the app beforehand (`JwtQueryOptions<User>`): the user type they name. */
export function jwtQuery<U>(options: JwtQueryOptions<U>): Strategy<U>;
export function jwtQuery<U = Claims>(options: JwtQueryOptions<U>): Strategy<U> {
  const verifier = createJwtVerifier(options);
  const parameter = options.parameter ?? 'token';
  // Once per strategy, at the first token it reads from a URL.
  let warn = options.warnUrlLogging !== false;
  return {
    authenticate: async function jwtQueryStrategy(ctx) {
      const raw = ctx.query[parameter];
      if (raw === undefined) return { kind: 'pass' };
      if (warn) {
        warn = false;
        process.emitWarning(
          'sockpass jwt-query reads the token from the URL, which proxies and access logs record; ' +
            'prefer jwt-auth (handshake auth payload). Pass { warnUrlLogging: false } to silence this.',
          { code: 'SOCKPASS_TOKEN_IN_URL' },
        );
      }
      // engine.io keeps only the last of repeated parameters, so repetition shows only in the raw URL.
      const repeated = isRepeatedQueryParameter(ctx, parameter);
      ctx.forgetQueryParameter(parameter);
      if (repeated) {
        debug('refused a repeated %s parameter', parameter);
        return { kind: 'fail', error: new AuthError('credentials_bad_format', `query parameter ${parameter} is repeated`) };
      }
      return verifier.verify(raw);
    },
    authenticateCredential: (token) => verifier.verify(token),
  };
}
