/**
 * The one internal seam of the compat modules: everything
 * `sockpass/compat/socketio-jwt` and `sockpass/compat/passport.socketio` take
 * from sockpass's core beyond its public API, in one place, so what a drop-in
 * relies on (and what a change of the core must keep) is read here and
 * nowhere else. Re-exports only: no code of its own
 * (test/package/import-cycles.test.ts keeps it so, and its list may only shrink).
 *
 * - `createHandshakeContext`: the read-only view a registry hands every
 *   strategy. passport.socketio admitted a socket and forgot it, so its
 *   strategy runs on that view outside any registry; socketio-jwt's event
 *   flow reads a cookie-borne token through it.
 * - The Lifecycle's quarantine entry (`lifecycle.awaitConnected`, reached as
 *   `SockPass#lifecycle`) and its types: socketio-jwt's event flow hands it a
 *   socket that is already connected, to wait for its `authenticate` event.
 * - The JWT verifier's parts and the Origin and timeout helpers: socketio-jwt
 *   takes a raw secret or key (or a key callback) and its own option names,
 *   which the public `jwtAuth()` does not; it verifies with the same code
 *   rather than a copy of security-sensitive checks.
 *
 * @module
 */
export { createHandshakeContext, type HandshakeSource } from '../handshake/context.js';
export type { SocketLike, UnauthorizedPayload } from '../life/lifecycle.js';
export { TIMED_OUT, withTimeout } from '../time.js';
export { isRepeatedQueryParameter } from '../../strategies/jwt/token-sources.js';
export { algorithmsOfKey, createJwtVerifier, prepareKey, type JwtVerifier } from '../../strategies/jwt/verifier.js';
export { isSameOrigin, prepareOrigins } from '../../strategies/origin.js';
