/**
 * Installing sockpass on a gateway's server: Nest creates the Socket.IO
 * server (or namespace) of a gateway and hands it to `afterInit`, which is
 * where the registry's middleware belongs, before any client can connect.
 *
 * @module
 */
import type { MiddlewareOptions, SockPass, SockPassMiddleware } from '../registry.js';

/** What `afterInit(server)` receives: a Socket.IO Server, or the gateway's Namespace. */
export interface GatewayServer {
  /** Socket.IO's namespace middleware registration. */
  use(middleware: SockPassMiddleware): unknown;
}

/**
 * Runs `registry.middleware(names, options)` on every handshake to the
 * gateway's server, and puts the registry in charge of it (expiry, revocation,
 * recovery). Call it in `afterInit`.
 *
 * @example
 * ```ts
 * @WebSocketGateway({ namespace: 'chat' })
 * class ChatGateway implements OnGatewayInit {
 *   constructor(@Inject(SOCKPASS) private readonly auth: SockPass<User>) {}
 *   afterInit(server: Namespace) { installSockPass(server, this.auth, ['jwt-auth']); }
 * }
 * ```
 */
export function installSockPass<U>(server: GatewayServer, registry: SockPass<U>, names: string | readonly string[], options?: MiddlewareOptions): void {
  if (typeof server?.use !== 'function') throw new TypeError('sockpass/nest: installSockPass() needs the gateway server afterInit() received');
  registry.attach(server as never);
  server.use(registry.middleware(names, options));
}
