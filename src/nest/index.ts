/**
 * `sockpass/nest`: sockpass in NestJS gateways. The registry's middleware on
 * the gateway's server (`installSockPass` in `afterInit`), a guard for
 * gateways and handlers that turns sockpass refusals into Nest's WS
 * exception flow with sockpass's code, and parameter decorators for the
 * authenticated user and `socket.data.auth`. `@nestjs/common` and
 * `@nestjs/websockets` are optional peers: only this entry loads them.
 *
 * @module
 */
export { SOCKPASS, SockPassModule, type SockPassModuleOptions } from './tokens.js';
export { SockPassGuard } from './guard.js';
export { SockPassWsException, type SockPassWsError } from './exception.js';
export { WsAuth, WsUser } from './decorators.js';
export { installSockPass, type GatewayServer } from './install.js';
