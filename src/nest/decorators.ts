/**
 * Parameter decorators for gateway handlers: the user sockpass admitted
 * (`socket.data.auth.user`) and the whole record (`socket.data.auth`), read
 * from the socket the message came on.
 *
 * @module
 */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { SocketAuth } from '../types.js';

function authOf(context: ExecutionContext): SocketAuth<unknown> | undefined {
  const socket = context.switchToWs().getClient<{ data?: { auth?: SocketAuth<unknown> } }>();
  return socket?.data?.auth ?? undefined;
}

/**
 * The authenticated user, `socket.data.auth.user` (undefined before authentication).
 *
 * @example
 * ```ts
 * @SubscribeMessage('whoami') whoami(@WsUser() user: User) { return user; }
 * ```
 */
export const WsUser: () => ParameterDecorator = createParamDecorator((_data: unknown, context: ExecutionContext) => authOf(context)?.user);

/**
 * `socket.data.auth`: user, strategy, claims, expiresAt, session.
 *
 * @example
 * ```ts
 * @SubscribeMessage('expiry') expiry(@WsAuth() auth: SocketAuth<User>) { return auth.expiresAt; }
 * ```
 */
export const WsAuth: () => ParameterDecorator = createParamDecorator((_data: unknown, context: ExecutionContext) => authOf(context));
