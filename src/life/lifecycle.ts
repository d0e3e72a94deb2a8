/**
 * The one owner of a socket's authenticated life, from admission to the cut:
 *
 * - **admission**: the revocation ledger (one synchronous lookup in this
 *   node's view) and the expiry are checked at every point a credential is
 *   admitted: after a handshake strategy succeeds, at `connection` before any
 *   room is joined, at in-band authentication, refresh, anonymous upgrade and
 *   recovery (`recovery.ts` judges restored sessions with `recoveryRefusal`);
 * - **rooms**: an admitted socket joins `user:<id>` (and `session:<sid>`) so
 *   `revoke()` finds it on every node;
 * - **deadline**: one per socket, in a queue shared by all (`deadline-queue.ts`):
 *   `auth:refresh` `refreshBefore` ms ahead, the cut at expiry;
 * - **renewal**: a refresh or second `authenticate` event swaps the credential
 *   (same user; a refresh never removes an expiry the socket had);
 * - **the cut**: `auth:expired` / `auth:revoked` / `auth:refused`, then a disconnect.
 *
 * Refresh (`refresh.ts`), revalidation (`revalidate.ts`), quarantine,
 * revocation and recovery call into this module; it imports none of them.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError } from '../errors.js';
import { issuedAtMs } from '../issued-at.js';
import { holdsNothing, type CredentialFacts } from '../revocation/ledger.js';
import { metricsOn, recordExpiry, socketAuthenticated } from '../metrics.js';
import type { RegistryContext } from '../registry-context.js';
import type { SocketLike } from '../socket-like.js';
import { DeadlineQueue } from './deadline-queue.js';
import { addCleanup, cleanUpEverySocketWith, cleanUpOnDisconnect, createState, deciderFor, getState, setState, toSocketAuth, type SocketState } from './socket-state.js';
import type { AuthSuccess, Claims, SocketAuth, Strategy } from '../types.js';
import { EXPIRED_EVENT, REFRESH_EVENT, REVOKED_EVENT, type AuthNotice, type RefreshNotice } from '../wire.js';

const debug = createDebug('sockpass:lifecycle');

/** Every socket's next deadline (refresh notice or expiry), on one timer. */
const deadlines = new DeadlineQueue<SocketState<any>>(onDeadline);

/** How many sockets have a deadline queued: for tests that prove none is left behind. */
export function queuedDeadlines(): number {
  return deadlines.size;
}

/** The one cleanup step for every socket's deadline; a no-op for a socket with none queued. */
function cancelDeadline(state: SocketState<any>): void {
  deadlines.cancel(state);
}
cleanUpEverySocketWith(cancelDeadline);

// ---------------------------------------------------------------------------
// Admission

/** What the admission check reads: an `AuthSuccess`, or a `socket.data.auth` (dates already revived). */
export interface Credential<U> {
  user: U;
  anonymous?: boolean;
  session?: string;
  tokenId?: string;
  /** See `issuedAtMs`: an explicit issue time, else the claims' `iat`. */
  issuedAt?: Date | null;
  claims?: Claims;
  expiresAt?: Date | null;
}

const REVOKED = 'credentials have been revoked';

/**
 * `token_revoked` when the ledger holds a revocation that covers this
 * credential, else undefined. Synchronous: this node's view, never Redis.
 */
export function revocationOf<U>(ctx: RegistryContext<U>, credential: Credential<U>): AuthError | undefined {
  if (holdsNothing(ctx.ledger)) return undefined;
  const facts: CredentialFacts = {};
  if (!credential.anonymous) facts.user = ctx.options.userId(credential.user);
  if (credential.session !== undefined) facts.session = credential.session;
  if (credential.tokenId !== undefined) facts.tokenId = credential.tokenId;
  const issuedAt = issuedAtMs(credential);
  if (issuedAt !== undefined) facts.issuedAt = issuedAt;
  return ctx.ledger.isRevoked(facts) === undefined ? undefined : new AuthError('token_revoked', REVOKED);
}

/** True when `expiresAt` has passed, or is an Invalid Date (fail closed). */
function isExpired(expiresAt: Date | null | undefined, now: number): boolean {
  if (expiresAt === null || expiresAt === undefined) return false;
  const t = expiresAt.getTime();
  return !(t > now);
}

/**
 * Whether a session Socket.IO is about to restore may be: its `data.auth`
 * exists (a quarantined socket has none), has not expired and is not revoked.
 * Dates a serializing adapter turned into strings or numbers are revived.
 */
export function recoveryRefusal<U>(ctx: RegistryContext<U>, data: unknown): AuthError | undefined {
  const auth = (data as { auth?: unknown } | null | undefined)?.auth;
  if (typeof auth !== 'object' || auth === null) return new AuthError('credentials_required', 'the session never authenticated');
  const a = auth as SocketAuth<U>;
  const expiresAt = reviveDate(a.expiresAt);
  if (expiresAt === undefined || isExpired(expiresAt, Date.now())) return new AuthError('token_expired', 'credential has expired');
  return revocationOf(ctx, {
    user: a.user,
    anonymous: a.anonymous === true,
    session: typeof a.session === 'string' ? a.session : undefined,
    tokenId: typeof a.tokenId === 'string' ? a.tokenId : undefined,
    // Absent: the claims' iat tells; anything that is not a date is unknown age.
    issuedAt: a.issuedAt === undefined ? undefined : (reviveDate(a.issuedAt) ?? null),
    claims: typeof a.claims === 'object' && a.claims !== null ? a.claims : undefined,
  });
}

/** A Date, or null for none; undefined for something that is not a date (a tampered or mangled session). */
function reviveDate(value: unknown): Date | null | undefined {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  return date === undefined || Number.isNaN(date.getTime()) ? undefined : date;
}

/** Keeps the latest expiry this registry admitted: the default lifetime of a revocation. */
function noteLifetime<U>(ctx: RegistryContext<U>, auth: SocketAuth<U>): void {
  if (auth.anonymous) return;
  const expires = auth.expiresAt === null ? Number.POSITIVE_INFINITY : auth.expiresAt.getTime();
  if (expires > ctx.admitted.latestExpiry) ctx.admitted.latestExpiry = expires;
}

// ---------------------------------------------------------------------------
// Start: a socket whose `data.auth` is set enters its authenticated life

/**
 * Admits an authenticated socket at `connection` (or after in-band success or
 * recovery): re-checks the ledger, since a revoke may have landed between the
 * middleware's check and now, then joins its revocation rooms and arms its
 * deadline. Returns false when the socket was cut.
 */
export function enterLife<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): boolean {
  // The record sockpass wrote, not whatever a later middleware left in socket.data.
  const auth = state.auth;
  if (auth === undefined) return false;
  const revoked = revocationOf(ctx, auth);
  if (revoked !== undefined) {
    ctx.reportFailure(socket, revoked);
    cutSocket(socket, REVOKED_EVENT, revoked);
    return false;
  }
  ctx.namespaces.add(socket.nsp);
  noteLifetime(ctx, auth);
  joinRooms(socket, auth, ctx);
  scheduleExpiry(socket, state, auth.expiresAt, refreshNoticeAhead(state, ctx));
  if (!socket.connected) return false;
  countSocket(state);
  return true;
}

/**
 * The authenticated-sockets gauge: +1 here, -1 by a shared cleanup step on
 * disconnect. Only while an SDK listens, so a socket pays nothing otherwise.
 */
function countSocket<U>(state: SocketState<U>): void {
  if (!metricsOn() || state.cleanup.includes(uncountSocket)) return;
  socketAuthenticated(state.strategyName, state.socket.nsp.name, 1);
  addCleanup(state as SocketState<unknown>, uncountSocket);
}

function uncountSocket(state: SocketState<any>): void {
  socketAuthenticated(state.strategyName, state.socket.nsp.name, -1);
}

/**
 * A socket restored by connectionStateRecovery: `recovery.ts` already judged
 * its session before Socket.IO built it, so it gets its state back from
 * `socket.data.auth` (strategy, revalidation) and the registry starts it as
 * any other. Returns undefined when it was cut: no `data.auth` (restored on a
 * namespace sockpass did not judge), or expired meanwhile.
 */
export function resumeRecovered<U>(socket: SocketLike, ctx: RegistryContext<U>): SocketState<U> | undefined {
  const auth = socket.data.auth as SocketAuth<U> | undefined;
  if (auth === undefined || auth === null || typeof auth !== 'object') {
    debug('socket %s: recovered without authentication, disconnecting', socket.id);
    const error = new AuthError('credentials_required', 'authentication did not complete before the connection dropped');
    ctx.reportFailure(socket, error);
    socket.emit('unauthorized', { message: error.message, data: error.data });
    socket.disconnect();
    return undefined;
  }
  // A serializing adapter may hand back strings; ours keeps the Dates.
  auth.expiresAt = reviveDate(auth.expiresAt) ?? null;
  if (auth.issuedAt !== undefined) auth.issuedAt = reviveDate(auth.issuedAt) ?? null;
  // The record names the strategy it was registered under; a session's revalidate() is found by the record itself.
  const state = createState<U>(socket, deciderFor(ctx, auth.strategy, ctx.strategy(auth.strategy) as Strategy<U> | undefined));
  // Kept after creation: the socket counts as authenticated only once the expiry check below passed.
  state.keep(auth, undefined);
  setState(socket, state);
  socket.on('disconnect', cleanUpOnDisconnect);
  debug('socket %s: recovered, credential expires %s', socket.id, auth.expiresAt?.toISOString() ?? 'never');
  if (isExpired(auth.expiresAt, Date.now())) {
    expire(socket);
    return undefined;
  }
  // Authenticated only now, so onAuthenticated handlers never see a socket being cut.
  state.status = 'authenticated';
  return state;
}

function joinRooms<U>(socket: SocketLike, auth: SocketAuth<U>, ctx: RegistryContext<U>): void {
  const rooms = roomsOf(auth, ctx);
  if (rooms.length > 0) void socket.join(rooms);
}

/** The revocation rooms of a socket: `user:<id>` unless anonymous, and `session:<sid>` for a session. */
function roomsOf<U>(auth: SocketAuth<U>, ctx: RegistryContext<U>): string[] {
  const rooms: string[] = [];
  const id = auth.anonymous ? undefined : ctx.options.userId(auth.user);
  if (id !== undefined) rooms.push(ctx.options.userRoom(id));
  if (auth.session !== undefined) rooms.push(ctx.options.sessionRoom(auth.session));
  return rooms;
}

// ---------------------------------------------------------------------------
// Deadline

/** Ms ahead of expiry to ask for a refresh, or 0 when this socket's strategy cannot take one. */
function refreshNoticeAhead<U>(state: SocketState<U>, ctx: RegistryContext<U>): number {
  return state.strategy?.authenticateCredential === undefined ? 0 : ctx.options.refreshBefore;
}

/**
 * Sets the socket's deadline: `refreshBefore` ms ahead of `expiresAt` (but
 * not before half the remaining life) it is asked for a refresh
 * (`auth:refresh`), and at `expiresAt` it is told `auth:expired` and
 * disconnected. Re-arming replaces the previous deadline.
 */
function scheduleExpiry<U>(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null, refreshBefore = 0): void {
  deadlines.cancel(state);
  state.noticeDue = false;
  if (expiresAt === null) return;
  const exp = expiresAt.getTime();
  const now = Date.now();
  // An Invalid Date must not leave a socket without a deadline: fail closed.
  if (isExpired(expiresAt, now)) return expire(socket);
  if (refreshBefore > 0) {
    state.noticeDue = true;
    // Never before half the remaining life: a refreshBefore longer than the tokens' life
    // would otherwise ask again the moment each refresh lands, in a loop.
    deadlines.schedule(state, Math.max(exp - refreshBefore, now + (exp - now) / 2));
  } else {
    deadlines.schedule(state, exp);
  }
}

/** The queued deadline came: the refresh notice while `noticeDue`, else the expiry itself. */
function onDeadline(state: SocketState<any>): void {
  const { socket } = state;
  if (!socket.connected) return;
  if (!state.noticeDue) return expire(socket);
  state.noticeDue = false;
  const expiresAt: Date | null | undefined = state.auth?.expiresAt;
  // The expiry the notice was armed for; a record without a valid one fails closed.
  if (!(expiresAt instanceof Date) || isExpired(expiresAt, Date.now())) return expire(socket);
  askForRefresh(socket, expiresAt);
  deadlines.schedule(state, expiresAt.getTime());
}

/** Server → client: "refresh before `expiresAt`" (the answer is handled in `refresh.ts`). */
function askForRefresh(socket: SocketLike, expiresAt: Date): void {
  debug('socket %s: asking for a refresh before %s', socket.id, expiresAt.toISOString());
  const notice: RefreshNotice = { expiresAt: expiresAt.toISOString() };
  socket.emit(REFRESH_EVENT, notice);
}

/**
 * A revalidation moved the credential's expiry (a rolling session): re-arm
 * the deadline. A revalidation never removes an expiry (null keeps the old one).
 */
export function moveExpiry<U>(socket: SocketLike, state: SocketState<U>, expiresAt: Date | null | undefined, ctx: RegistryContext<U>): void {
  const auth = state.auth;
  if (expiresAt === undefined || expiresAt === null || auth === undefined) return;
  if (auth.expiresAt?.getTime() === expiresAt.getTime()) return;
  auth.expiresAt = expiresAt;
  noteLifetime(ctx, auth);
  scheduleExpiry(socket, state, expiresAt, refreshNoticeAhead(state, ctx));
}

// ---------------------------------------------------------------------------
// Renewal

/**
 * A fresh credential for an authenticated socket (in-band refresh, a second
 * `authenticate` event): it must name the same user and not be revoked;
 * claims and expiry move, the socket stays. Throws the AuthError to report.
 * A credential without expiry keeps the socket's deadline unless
 * `allowRefreshToRemoveExpiry`.
 */
export function renewCredential<U>(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>, ctx: RegistryContext<U>): void {
  const current = state.auth;
  const before = current === undefined || current.anonymous ? undefined : ctx.options.userId(current.user);
  if (before === undefined || ctx.options.userId(result.user) !== before) {
    throw new AuthError('user_mismatch', 'the new credential names another user', { strategy: state.strategyName });
  }
  const had = current?.expiresAt ?? null;
  if ((result.expiresAt ?? null) === null && had !== null && !ctx.options.allowRefreshToRemoveExpiry) {
    debug('socket %s: the new credential does not expire; keeping the deadline it had', socket.id);
    result = { ...result, expiresAt: had };
  }
  // A refreshed token does not carry the session's revalidation; keep it.
  if (result.revalidate === undefined && state.revalidate !== undefined) result = { ...result, revalidate: state.revalidate };
  adopt(socket, state, state.strategyName, state.strategy, result, ctx);
}

/**
 * An anonymous socket proved who it is (see `anonymous({ upgrade })`): it
 * becomes an ordinary authenticated socket of `strategyName`, joins its user
 * room, and gets the new credential's expiry.
 */
export function upgradeAnonymous<U>(
  socket: SocketLike,
  state: SocketState<U>,
  strategyName: string,
  strategy: Strategy<U>,
  result: AuthSuccess<U>,
  ctx: RegistryContext<U>,
): void {
  if (result.anonymous || ctx.options.userId(result.user) === undefined) {
    throw new AuthError('credentials_required', 'the upgrade credential names no user', { strategy: strategyName });
  }
  const auth = adopt(socket, state, strategyName, strategy, result, ctx);
  joinRooms(socket, auth, ctx);
  debug('socket %s: anonymous socket upgraded by %s', socket.id, strategyName);
}

/** Applies a verified credential; the ledger check and the change are one synchronous step, so a revoke cannot slip between. */
function adopt<U>(
  socket: SocketLike,
  state: SocketState<U>,
  strategyName: string,
  strategy: Strategy<U> | undefined,
  result: AuthSuccess<U>,
  ctx: RegistryContext<U>,
): SocketAuth<U> {
  const revoked = revocationOf(ctx, result);
  if (revoked !== undefined) {
    revoked.strategy = strategyName;
    throw revoked;
  }
  if (strategyName !== state.strategyName && state.cleanup.includes(uncountSocket)) {
    // An anonymous socket upgraded: it moves between the gauge's strategy labels.
    uncountSocket(state);
    socketAuthenticated(strategyName, socket.nsp.name, 1);
  }
  if (strategyName !== state.strategyName || strategy !== state.strategy) state.decider = deciderFor(state.owner, strategyName, strategy);
  const auth = toSocketAuth(strategyName, result);
  state.keep(auth, result.revalidate);
  noteLifetime(ctx, auth);
  scheduleExpiry(socket, state, auth.expiresAt, refreshNoticeAhead(state, ctx));
  return auth;
}

// ---------------------------------------------------------------------------
// The cut

/** Tells the client why (`event` with `{ code, message }`), then disconnects this namespace's socket. */
export function cutSocket(socket: SocketLike, event: string, error: AuthError): void {
  if (!socket.connected) return;
  debug('socket %s: %s (%s)', socket.id, event, error.code);
  const notice: AuthNotice = error.notice;
  socket.emit(event, notice);
  socket.disconnect();
}

export function expire(socket: SocketLike): void {
  if (socket.connected) recordExpiry(getState(socket)?.strategyName ?? 'none');
  cutSocket(socket, EXPIRED_EVENT, new AuthError('token_expired', 'credential has expired'));
}
