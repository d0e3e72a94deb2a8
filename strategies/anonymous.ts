/**
 * `anonymous`: ends a chain by admitting every socket that no strategy before
 * it claimed, with `user: null` and `socket.data.auth.anonymous === true`.
 * For public pages that show a live feed to visitors and more to members:
 * guarded events (`auth.guard`) stay closed to an anonymous socket until it
 * upgrades in-band by sending `auth:refresh` `{ token }`, which the strategy
 * named in `upgrade` verifies. No reconnect, no missed broadcast.
 *
 * A strategy before it that *finds* a bad credential still refuses the
 * handshake (mode `first`): anonymous admits only sockets with no credential.
 *
 * @module
 */
import type { Strategy } from '../src/types.js';

/** Options of {@link anonymous}. */
export interface AnonymousOptions {
  /**
   * Name of a registered strategy with `authenticateCredential` (any JWT
   * strategy) that verifies the token an anonymous socket upgrades with.
   * Without it, anonymous sockets cannot upgrade in-band.
   */
  upgrade?: string;
}

/**
 * @example
 * ```ts
 * auth.use('jwt-auth', jwtAuth({ secret, algorithms: ['HS256'] }))
 *     .use('anonymous', anonymous({ upgrade: 'jwt-auth' }));
 * io.use(auth.middleware(['jwt-auth', 'anonymous']));
 * // client, later: socket.emit('auth:refresh', { token }, (reply) => ...)
 * ```
 */
export function anonymous<U = unknown>(options: AnonymousOptions = {}): Strategy<U> {
  if (options.upgrade !== undefined && (typeof options.upgrade !== 'string' || options.upgrade.length === 0)) {
    throw new TypeError('sockpass: anonymous({ upgrade }) takes the name of a registered strategy');
  }
  return {
    authenticate: async function anonymousStrategy() {
      // `user: null` is the documented shape of an anonymous socket, whatever U is.
      return { kind: 'success', user: null as U, anonymous: true, expiresAt: null, claims: {} };
    },
    upgradeWith: options.upgrade,
  };
}
