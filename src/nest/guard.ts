/**
 * The gateway guard: a Nest `CanActivate` for gateways and message handlers
 * that admits a message only from a socket sockpass authenticated (not
 * anonymous, credential not expired) and, given a policy, only when
 * sockpass's own guard (`auth.guard(policy)`: exact, `prefix*`, `*` rules on
 * `socket.data.auth`) allows the event. A refusal is a
 * `SockPassWsException`, so Nest's exception flow sends the client the
 * sockpass code; sockpass's guard also answers the message's ack with
 * `forbidden` and tells the client `auth:forbidden`, as outside Nest.
 *
 * @module
 */
import { Inject, Injectable, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import createDebug from 'debug';
import type { Guard, GuardPolicy } from '../life/guard.js';
import type { SockPass } from '../registry.js';
import type { SocketAuth } from '../types.js';
import { SockPassWsException } from './exception.js';
import { SOCKPASS } from './tokens.js';

const debug = createDebug('sockpass:nest');

/** The socket as the guard reads it: `socket.data.auth`, and `emit` for sockpass's `auth:forbidden`. */
interface GuardedSocket {
  data?: { auth?: SocketAuth<unknown> | undefined } | undefined;
}

/**
 * A guard class for `@UseGuards()`, built by Nest with the registry of
 * `SockPassModule.forRoot()`. Without a policy it requires an authenticated
 * socket; with one, sockpass's guard decides per event too.
 *
 * @example
 * ```ts
 * @UseGuards(SockPassGuard({ 'admin:*': (a) => a.claims.role === 'admin' }))
 * @WebSocketGateway()
 * class ChatGateway {
 *   @SubscribeMessage('admin:ban') ban(@WsUser() user: User) {}
 * }
 * ```
 */
export function SockPassGuard<U = unknown>(policy?: GuardPolicy<U>): Type<CanActivate> {
  class SockPassWsGuard implements CanActivate {
    readonly #guard: Guard | undefined;

    constructor(registry: SockPass<U>) {
      if (typeof registry?.guard !== 'function') {
        throw new TypeError('sockpass/nest: SockPassGuard needs the registry: import SockPassModule.forRoot({ registry }) or pass it');
      }
      this.#guard = policy === undefined ? undefined : registry.guard(policy);
    }

    canActivate(context: ExecutionContext): boolean {
      const ws = context.switchToWs();
      const socket = ws.getClient<GuardedSocket>();
      const event = String(ws.getPattern());
      const auth = socket?.data?.auth;
      if (auth === undefined || auth === null || auth.anonymous === true) {
        throw refused('credentials_required', `authenticate before sending ${event}`, event);
      }
      if (auth.expiresAt !== null && new Date(auth.expiresAt).getTime() <= Date.now()) {
        throw refused('token_expired', 'the credential has expired', event);
      }
      if (this.#guard === undefined) return true;
      // sockpass's guard answers the ack itself on refusal, as it does outside Nest.
      const args = context.getArgs();
      const ack = args.slice(2, -1).find((arg) => typeof arg === 'function');
      const packet = ack === undefined ? [event, ws.getData()] : [event, ws.getData(), ack];
      let allowed = false;
      this.#guard(socket)(packet, (err) => {
        allowed = err === undefined;
      });
      if (!allowed) throw refused('forbidden', `not allowed to send ${event.length > 100 ? `${event.slice(0, 100)}…` : event}`, event);
      return true;
    }
  }
  Injectable()(SockPassWsGuard);
  Inject(SOCKPASS)(SockPassWsGuard, undefined, 0);
  return SockPassWsGuard;
}

function refused(code: 'credentials_required' | 'token_expired' | 'forbidden', message: string, event: string): SockPassWsException {
  debug('refused %s: %s', event, code);
  return new SockPassWsException(code, message, event);
}
