/**
 * A strategy for recovery tests that need a socket left in quarantine: a
 * handshake with `auth: { ok: true }` is admitted as user `observer`, any
 * other waits for an `authenticate` event, and every in-band credential is
 * refused, so a waiting socket never leaves quarantine.
 */
import { AuthError, type Strategy } from 'sockpass';

export function okOrQuarantine(): Strategy<unknown> {
  return {
    inBand: { eventName: 'authenticate', timeout: 10_000 },
    async authenticate(ctx) {
      return ctx.auth.ok === true ? { kind: 'success', user: { id: 'observer' } } : { kind: 'pass' };
    },
    async authenticateCredential() {
      return { kind: 'fail', error: new AuthError('invalid_token', 'no') };
    },
  };
}
