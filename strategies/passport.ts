/**
 * `passport`: runs any Passport strategy (passport-jwt's JwtStrategy, an API
 * key strategy, …) against the handshake request, as Passport's own
 * middleware would, and maps its four outcomes to an AuthResult:
 * success → success, pass → pass, fail → fail (or pass when the strategy
 * found no credentials), error → `server_error`.
 *
 * @module
 */
import { AuthError, type AuthErrorCode } from '../src/errors.js';
import type { AuthResult, Claims, HandshakeContext, Strategy } from '../src/types.js';

/** The part of a Passport strategy the adapter uses. */
export interface PassportStrategyLike {
  /** Passport's strategy entry point; the adapter binds `success`, `fail`, `pass` and `error` before calling it. */
  authenticate(this: PassportStrategyLike, req: unknown, options?: unknown): void;
}

/** Options of {@link passportStrategy}. */
export interface PassportStrategyOptions<U> {
  /** Options passed to the strategy's `authenticate(req, options)`. */
  authenticateOptions?: Record<string, unknown>;
  /** Whether this handshake carries a credential for the strategy; when false the chain moves on without running it. */
  hasCredentials?: (ctx: HandshakeContext) => boolean;
  /** When the credential expires, from what the strategy passed to `success(user, info)`. */
  expiresAt?: (user: U, info: unknown) => Date | null;
  /** Longest wait for the strategy to call back. Default 10 000 ms. */
  timeout?: number;
}

/** Messages Passport strategies use when they found nothing to check. */
const NO_CREDENTIALS = /^(no auth token|missing credentials)$/i;

/**
 * @example
 * ```ts
 * import { Strategy as JwtStrategy, ExtractJwt } from 'passport-jwt';
 * auth.use('passport-jwt', passportStrategy(new JwtStrategy(
 *   { jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret, algorithms: ['HS256'] },
 *   (payload, done) => done(null, { id: payload.sub }),
 * )));
 * ```
 */
export function passportStrategy<U = unknown>(
  strategy: PassportStrategyLike,
  options: PassportStrategyOptions<U> = {},
): Strategy<U> {
  if (typeof strategy?.authenticate !== 'function') {
    throw new TypeError('sockpass: passportStrategy() takes a Passport strategy instance');
  }
  const timeout = options.timeout ?? 10_000;
  return {
    authenticate: function passportAdapter(ctx) {
      if (options.hasCredentials !== undefined && !options.hasCredentials(ctx)) {
        return Promise.resolve({ kind: 'pass' } as AuthResult<U>);
      }
      return runPassportStrategy(strategy, ctx, options, timeout);
    },
  };
}

function runPassportStrategy<U>(
  prototype: PassportStrategyLike,
  ctx: HandshakeContext,
  options: PassportStrategyOptions<U>,
  timeout: number,
): Promise<AuthResult<U>> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: AuthResult<U>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const refuse = (code: AuthErrorCode, message: string, cause?: unknown) =>
      settle({ kind: 'fail', error: new AuthError(code, message, { cause }) });
    const timer = setTimeout(() => refuse('server_error', 'the Passport strategy did not answer in time'), timeout);

    // As Passport's own middleware does: a per-request object whose prototype is the strategy.
    const actions = Object.create(prototype) as PassportStrategyLike & Record<string, unknown>;
    actions.success = (user: U, info?: unknown) => {
      const claims = typeof info === 'object' && info !== null ? (info as Claims) : {};
      settle({ kind: 'success', user, claims, expiresAt: options.expiresAt?.(user, info) ?? null });
    };
    actions.fail = (challenge?: unknown) => {
      const message = typeof challenge === 'string' ? challenge : (challenge as { message?: unknown })?.message;
      const name = (challenge as { name?: unknown })?.name;
      if (typeof message === 'string' && NO_CREDENTIALS.test(message)) return settle({ kind: 'pass' });
      if (name === 'TokenExpiredError') return refuse('token_expired', 'token has expired', challenge);
      if (name === 'NotBeforeError') return refuse('token_not_active', 'token is not valid yet', challenge);
      refuse('invalid_token', 'credentials were refused', challenge);
    };
    actions.error = (err: unknown) => refuse('server_error', 'authentication failed', err);
    actions.pass = () => settle({ kind: 'pass' });
    actions.redirect = () => refuse('forbidden', 'the strategy asked for a redirect, which a socket cannot follow');
    try {
      actions.authenticate(ctx.request, options.authenticateOptions ?? {});
    } catch (err) {
      refuse('server_error', 'authentication failed', err);
    }
  });
}
