/**
 * Quarantine for sockets that authenticate in-band (the `authenticate` event
 * strategy). Placeholder: issue #3 implements it.
 *
 * @module
 */
import { AuthError } from './errors.js';
import type { RegistryContext } from './registry.js';
import type { SocketLike } from './socket-like.js';
import type { SocketState } from './socket-state.js';

export function startQuarantine<U>(socket: SocketLike, _state: SocketState<U>, ctx: RegistryContext<U>): void {
  ctx.reportFailure(socket, new AuthError('credentials_required', 'no credentials were provided'));
  socket.disconnect(true);
}
