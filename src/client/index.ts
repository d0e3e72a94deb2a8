/**
 * sockpass/client: helpers over socket.io-client, for the browser and Node.
 * Put the token where a handshake strategy reads it, run the `authenticate`
 * round trip, and read the AuthError code of a refusal.
 *
 * @module
 */
export { connectWithToken, placeToken } from './connect.js';
export type { ConnectWithTokenOptions, TokenPlacement } from './connect.js';
export { authenticateWithEvent } from './authenticate.js';
export type { AuthenticateWithEventOptions } from './authenticate.js';
export { ClientAuthError, authErrorCode, isUnauthorizedError, nextStep } from './errors.js';
export type { ClientAction } from '../errors.js';
export type { ClientAuthErrorCode, UnauthorizedData } from './errors.js';
export * from './refresh.js';
export * from './reconnect.js';
