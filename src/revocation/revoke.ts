/**
 * Revocation is a record, then a kick. `auth.revoke(io, target)` first
 * records the revocation in the registry's ledger (a user: every credential
 * issued up to now; a session id; one token by its `jti`), which every
 * admission consults from then on (`lifecycle.ts`), then disconnects the
 * matching sockets on every node through the server's adapter: users and
 * sessions by their `user:<id>` / `session:<sid>` room
 * (`nsp.in(room).emit(...)`, `nsp.in(room).disconnectSockets()`), a token by
 * `fetchSockets()` (no socket joins a room per token). Each client first gets
 * `auth:revoked` `{ code, message }`, then the disconnect.
 *
 * When the ledger cannot record (a Redis ledger whose server is down), the
 * sockets are still cut and `revoke()` rejects with `store_unavailable`: the
 * app must know the credential can come back.
 *
 * How long an entry is kept (`until`): `revocationTtl` ms when the app sets
 * it; by default the longest remaining lifetime of any credential this
 * registry has admitted (its latest `expiresAt`), at least one hour (for
 * credentials other nodes admitted) and at most 30 days (a credential without
 * expiry counts as living that long).
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, actionFor, type AuthErrorCode } from '../errors.js';
import type { Revocation } from './ledger.js';
import type { AuthenticatedNamespaces } from '../life/authenticated-namespaces.js';
import type { Metrics } from '../metrics.js';
import type { RevocationLedger } from './ledger.js';
import { isServer, tellThenDisconnect, type FetchedSocket, type NamespaceLike, type ServerLike } from '../socketio.js';
import { REVOKED_EVENT, type AuthNotice } from '../protocol.js';

const debug = createDebug('sockpass:revoke');

/** Whose sockets to cut: every credential of a user id issued until now, one session id, or one token by its `jti`. */
export type RevokeTarget =
  | {
      /** A user id (as `userId` returns it; a number is compared as its string): every credential of it issued until now. */
      user: string | number;
    }
  | {
      /** A session id (the `sid` of a session cookie): that session. */
      session: string;
    }
  | {
      /** A token id, the JWT's `jti` claim: that one token, wherever it is used. */
      token: string;
    };

/** Options of {@link SockPass.revoke}. */
export interface RevokeOptions {
  /** What the client reads in `auth:revoked`; never put a credential here. Default: "credentials have been revoked". */
  reason?: string;
  /** Code sent with `auth:revoked`. Default `token_revoked`. */
  code?: AuthErrorCode;
  /**
   * Namespaces to cover besides `/` and those where this node's registry
   * holds authenticated sockets. In a cluster, name the namespaces that only
   * other nodes serve.
   */
  namespaces?: readonly string[];
}

/** The shortest a revocation is kept by default: covers credentials only other nodes have seen. */
export const MIN_REVOCATION_TTL = 60 * 60_000;
/** The longest a revocation is kept by default, and how long a credential without expiry is deemed to live. */
export const MAX_REVOCATION_TTL = 30 * 24 * 60 * 60_000;

/** What revocation needs of the Lifecycle (declared here, so this file does not import it). */
export interface RevocationOwner {
  readonly metrics: Metrics | undefined;
  readonly ledger: RevocationLedger;
  readonly namespaces: AuthenticatedNamespaces;
  readonly options: { userRoom(id: string): string; sessionRoom(sid: string): string };
  readonly revocationTtl: number | undefined;
  readonly latestExpiry: number;
  cutEverywhere(nsp: NamespaceLike, room: string, event: string, error: AuthError): void;
}

export async function revokeSockets(
  life: RevocationOwner,
  io: ServerLike | NamespaceLike,
  target: RevokeTarget,
  options: RevokeOptions = {},
): Promise<void> {
  const at = Date.now();
  const revocation = toRevocation(target, at, revocationUntil(life, at));
  const reason = options.reason;
  if (reason !== undefined && typeof reason !== 'string') throw new TypeError('sockpass: revoke reason must be a string');
  const server: ServerLike = isServer(io) ? io : io.server;

  life.metrics?.revocation(revocation.kind);
  let unrecorded: unknown;
  try {
    await life.ledger.record(revocation);
  } catch (err) {
    unrecorded = err;
    debug('could not record the revocation of a %s: %s', revocation.kind, (err as Error)?.message);
  }

  const code = options.code ?? 'token_revoked';
  const notice: AuthNotice = { code, message: reason ?? 'credentials have been revoked', action: actionFor(code) };
  // Every namespace object this registry admitted a socket on (an orphaned dynamic child included), and
  // `/` and the named ones as Socket.IO has them now: the app's word that they exist (on some node).
  const targets = new Set<NamespaceLike>(life.namespaces.values());
  for (const name of ['/', ...(options.namespaces ?? [])]) targets.add(server.of(name));
  debug('revoking a %s on %d namespace(s)', revocation.kind, targets.size);
  if (revocation.kind === 'token') await cutToken(targets.values(), revocation.id, notice);
  else {
    const room = revocation.kind === 'user' ? life.options.userRoom(revocation.id) : life.options.sessionRoom(revocation.id);
    const error = new AuthError(notice.code, notice.message);
    for (const nsp of targets.values()) life.cutEverywhere(nsp, room, REVOKED_EVENT, error);
  }
  if (unrecorded !== undefined) {
    throw new AuthError('store_unavailable', 'the revocation could not be recorded: the sockets were cut, but the credential is not refused', {
      cause: unrecorded,
    });
  }
}

/**
 * One token's sockets, found by `data.auth.tokenId`: this node's at once, then
 * every node the adapter reaches (`fetchSockets()` rejects when a node does
 * not answer in time; `revoke()` then rejects, after this node's were cut).
 */
async function cutToken(namespaces: Iterable<NamespaceLike>, tokenId: string, notice: AuthNotice): Promise<void> {
  const list = [...namespaces];
  for (const nsp of list) cutMatching(await nsp.local.fetchSockets(), tokenId, notice);
  for (const nsp of list) cutMatching(await nsp.fetchSockets(), tokenId, notice);
}

function cutMatching(sockets: readonly FetchedSocket[], tokenId: string, notice: AuthNotice): void {
  for (const socket of sockets) {
    if ((socket.data?.auth as { tokenId?: unknown } | undefined)?.tokenId !== tokenId) continue;
    tellThenDisconnect(socket, REVOKED_EVENT, notice);
  }
}

function revocationUntil(life: RevocationOwner, at: number): number {
  if (life.revocationTtl !== undefined) return at + life.revocationTtl;
  const remaining = life.latestExpiry - at;
  return at + Math.min(MAX_REVOCATION_TTL, Math.max(MIN_REVOCATION_TTL, remaining));
}

function toRevocation(target: RevokeTarget, at: number, until: number): Revocation {
  const usage = 'sockpass: revoke({ user }), revoke({ session }) or revoke({ token }) with a non-empty id';
  if (typeof target !== 'object' || target === null) throw new TypeError(usage);
  if ('user' in target && (typeof target.user === 'string' || typeof target.user === 'number') && String(target.user) !== '') {
    return { kind: 'user', id: String(target.user), at, until };
  }
  if ('session' in target && typeof target.session === 'string' && target.session !== '') return { kind: 'session', id: target.session, at, until };
  if ('token' in target && typeof target.token === 'string' && target.token !== '') return { kind: 'token', id: target.token, at, until };
  throw new TypeError(usage);
}
