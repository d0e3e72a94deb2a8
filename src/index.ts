/**
 * sockpass: Passport-style authentication strategies for Socket.IO v4.
 * The public surface, and nothing else.
 *
 * @module
 */
import { jwksKeySource, type JwksKeySource, type JwksKeySourceOptions } from '../strategies/jwt/jwks.js';
import { Metrics, type MetricsOption } from './metrics.js';

export { SockPass, defaultUserId } from './registry.js';
export type { SockPassOptions, MiddlewareOptions, SockPassMiddleware, AuthenticatedSocket, AuthenticatedData, SocketOf, WithStrategy, AttachTarget } from './registry.js';
export type { ConnectionTarget } from './registry.js';
export { AuthError, isAuthError, AUTH_ERROR_CODES, CLIENT_ACTIONS, actionFor } from './errors.js';
export type { ClientAction } from './errors.js';
export { claimRooms } from './authorization/rooms.js';
export type { RoomPolicy, RoomRule, RoomPredicate } from './authorization/rooms.js';
export { handshakeLimits } from './handshake/rate-limit.js';
export type { HandshakeLimits, HandshakeLimitsOptions, HandshakeLimitRules, HandshakeVerdict, RateLimitedVerdict, RateLimitObserver, LimitRule } from './handshake/rate-limit.js';
export type { AuthErrorCode, AuthErrorData, AuthErrorOptions } from './errors.js';
export type { Mode } from './handshake/pipeline.js';
export type {
  Strategy,
  AuthResult,
  AuthSuccess,
  AuthPass,
  AuthFailure,
  HandshakeContext,
  SocketAuth,
  SockPassSocketData,
  Claims,
  FailureEvent,
  InBandOptions,
} from './types.js';
export type { LifecycleOptions } from './life/lifecycle.js';
export type { MetricsOption, MeterLike, CounterLike, HistogramLike, MetricAttributes } from './metrics.js';
export type { Guard, GuardPolicy, GuardRule, GuardPredicate, PacketMiddleware } from './life/guard.js';
export type { RevokeTarget, RevokeOptions } from './revocation/revoke.js';
export {
  EXPIRED_EVENT,
  REFRESH_EVENT,
  REVOKED_EVENT,
  REFUSED_EVENT,
  REPLACED_EVENT,
  FORBIDDEN_EVENT,
  JOIN_EVENT,
  LEAVE_EVENT,
  LEFT_EVENT,
} from './protocol.js';
export type {
  AuthNotice,
  RefreshNotice,
  RefreshRequest,
  RefreshReply,
  ForbiddenNotice,
  RoomForbiddenNotice,
  RoomLeftNotice,
  RoomRequest,
  RoomReply,
} from './protocol.js';
export { anonymous } from '../strategies/anonymous.js';
export type { AnonymousOptions } from '../strategies/anonymous.js';

export { jwtAuth } from '../strategies/jwt-auth.js';
export type { JwtAuthOptions } from '../strategies/jwt-auth.js';
export { jwtQuery } from '../strategies/jwt-query.js';
export type { JwtQueryOptions } from '../strategies/jwt-query.js';
export { jwtHeader } from '../strategies/jwt-header.js';
export type { JwtHeaderOptions } from '../strategies/jwt-header.js';
export type { TokenExtractor } from '../strategies/jwt/token-sources.js';
export { jwtAuthenticateEvent } from '../strategies/jwt-authenticate-event.js';
export type { JwtAuthenticateEventOptions } from '../strategies/jwt-authenticate-event.js';
export { sessionCookie } from '../strategies/session-cookie.js';
export { concealCredentials, HIDDEN } from './conceal.js';
export type { ConcealOptions } from './conceal.js';
export { fastifySessionReader } from '../strategies/session/fastify-session.js';
export type { FastifySessionReaderOptions, FastifySessionStoreLike } from '../strategies/session/fastify-session.js';
export type {
  SessionCookieOptions,
  AllowedOrigins,
  PassportLike,
  SessionRecord,
  ConnectMiddleware,
  CookieSecret,
  SessionRead,
  SessionReader,
} from '../strategies/session-cookie.js';
export type { CookieSessionId } from '../strategies/session/signed-cookie.js';
export type { CookieSid } from '../strategies/session/reader.js';
export { passportStrategy } from '../strategies/passport.js';
export type { PassportStrategyOptions, PassportStrategyLike } from '../strategies/passport.js';
export type {
  JwtVerifyOptions,
  JwtAlgorithm,
  JwtKey,
  JwtKeyResolver,
  JwtHeader,
} from '../strategies/jwt/verifier.js';
export { memoryLedger } from './revocation/ledger.js';
export type { RevocationLedger, Revocation, RevocationKind, CredentialFacts, MemoryLedgerOptions } from './revocation/ledger.js';
export { redisLedger } from './revocation/redis-ledger.js';
export type { RedisLedgerOptions, LedgerRedisClient, LedgerRedisSubscriber, LedgerRedisCluster, LedgerRedisClusterSubscriber, LedgerClusterNode, LedgerClusterNodeClient } from './revocation/redis-ledger.js';
export { memoryConnectionCounter } from './authorization/memory-connection-counter.js';
export { redisConnectionCounter } from './authorization/redis-connection-counter.js';
export type { RedisConnectionCounterOptions, ConnectionsRedisClient, ConnectionsRedisConnection } from './authorization/redis-connection-counter.js';
export type { ConnectionCapsOptions } from './authorization/connection-caps.js';
export type { ConnectionCounter, CountingConnectionCounter, Admission, OnExceed } from './authorization/connection-counter.js';
export type { JwksKeySource, JwksKeySourceOptions } from '../strategies/jwt/jwks.js';

/** Options of {@link jwks}: the key source's, and whether its fetches are counted. */
export interface JwksOptions extends JwksKeySourceOptions {
  /** Count fetches in `sockpass.jwks.fetches` (as `new SockPass({ metrics })`): `true` or `{ meter }`. Default: none. */
  metrics?: MetricsOption;
}

/**
 * A key source from the identity provider's JSON Web Key Set, for any JWT
 * strategy's `secret`. Defined here rather than re-exported because the
 * strategy only reports fetches to an observer it declares, and this is where
 * the metrics module (one such observer) meets it: strategies/ never imports
 * src/metrics.ts.
 *
 * @example
 * ```ts
 * const secret = jwks({ issuer: 'https://login.example.com/' });
 * auth.use('jwt-auth', jwtAuth({ secret, algorithms: ['RS256'], issuer: 'https://login.example.com/' }));
 * ```
 */
export function jwks(options: JwksOptions): JwksKeySource {
  return jwksKeySource(options, Metrics.from(options?.metrics));
}
