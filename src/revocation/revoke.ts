/**
 * Revocation is a record, then a kick. `auth.revoke(io, target)` first
 * records the revocation in the registry's ledger (a user: every credential
 * issued up to now; a session id; one token by its `jti`), which every
 * admission consults from then on (`lifecycle.ts`), then disconnects the
 * matching sockets on every node through the server's adapter: users and
 * sessions by their `user:<id>` / `session:<sid>` room
 * (`nsp.in(room).emit(...)`, `nsp.in(room).disconnectSockets()`). Each client
 * first gets `auth:revoked` `{ code, message, action }`, then the disconnect.
 *
 * A token is found through each node's token index (`life/token-index.ts`),
 * so the cost of `revoke({ token })` follows the token's sockets, not the
 * cluster's: this node cuts its own at once, then one server-side message
 * (`serverSideEmit` on the main namespace, relayed by the Redis
 * adapters, classic, sharded and streams) asks every other node to cut its
 * own, in every namespace. Not a room per token: every socket with a `jti`
 * would pay a room in the adapter (heap on each socket), and the sharded
 * adapter's default mode one Redis subscription per room on every node.
 *
 * Every kind is fire-and-forget across nodes: the call resolves once this
 * node's sockets are cut and the adapter took the message, without waiting
 * for other nodes. Waiting for every node's answer (`serverSideEmitWithAck`)
 * was weighed and dropped: a node whose registry has not met the server yet
 * (no handshake, no `attach(io)`) cannot answer, so a revoke would wait out
 * the adapter's timeout and reject for a node that holds nothing. What makes
 * a revocation stick on every node is the ledger, which every admission
 * consults; the message only cuts what is open.
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
import { AUTH_ERROR_CODES, AuthError, actionFor, type AuthErrorCode } from '../errors.js';
import type { Revocation } from './ledger.js';
import type { AuthenticatedNamespaces } from '../life/authenticated-namespaces.js';
import type { Metrics } from '../metrics.js';
import type { RevocationLedger } from './ledger.js';
import { isServer, relaysToOtherNodes, type NamespaceLike, type ServerLike } from '../socketio.js';
import { REVOKED_EVENT, type AuthNotice } from '../protocol.js';

const debug = createDebug('sockpass:revoke');

/** The server-side message of `revoke({ token })`: the token id and the notice its clients get. */
export const TOKEN_REVOKED_MESSAGE = 'sockpass:token-revoked';

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
   * For `user` and `session`: namespaces to cover besides `/` and those where
   * this node's registry holds authenticated sockets. In a cluster, name the
   * namespaces that only other nodes serve. A `token` is cut in every
   * namespace of every node without it.
   */
  namespaces?: readonly string[];
}

const REVOKED_MESSAGE = 'credentials have been revoked';

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
  /** Cuts this node's sockets filed under `tokenId`; returns how many. */
  cutToken(tokenId: string, error: AuthError): number;
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
  const notice: AuthNotice = { code, message: reason ?? REVOKED_MESSAGE, action: actionFor(code) };
  if (revocation.kind === 'token') cutToken(life, server, revocation.id, notice);
  else {
    // Every namespace object this registry admitted a socket on (an orphaned dynamic child included), and
    // `/` and the named ones as Socket.IO has them now: the app's word that they exist (on some node).
    const targets = new Set<NamespaceLike>(life.namespaces.values());
    for (const name of ['/', ...(options.namespaces ?? [])]) targets.add(server.of(name));
    debug('revoking a %s on %d namespace(s)', revocation.kind, targets.size);
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

/** What one node sends the others for `revoke({ token })`. */
interface TokenRevokedMessage {
  tokenId: string;
  code: AuthErrorCode;
  message: string;
}

/**
 * One token's sockets: this node's from its index at once (before any wait on
 * the adapter, which with Redis down may not publish), then every other
 * node's, each cutting its own.
 */
function cutToken(life: RevocationOwner, server: ServerLike, tokenId: string, notice: AuthNotice): void {
  const here = life.cutToken(tokenId, new AuthError(notice.code, notice.message));
  const main = server.sockets;
  debug('token: %d socket(s) cut on this node', here);
  if (!relaysToOtherNodes(main.adapter)) return;
  const message: TokenRevokedMessage = { tokenId, code: notice.code, message: notice.message };
  main.serverSideEmit(TOKEN_REVOKED_MESSAGE, message);
}

/**
 * Makes this node's registry answer other nodes' `revoke({ token })`: on the
 * server's main namespace, which every node has, whatever namespaces each
 * serves. A message that is not one (another app's event of the same name)
 * cuts nothing.
 */
export function listenForTokenRevocations(life: RevocationOwner, server: ServerLike): void {
  server.sockets.on(TOKEN_REVOKED_MESSAGE, (message: unknown) => {
    const m = message as Partial<TokenRevokedMessage> | null;
    if (typeof m !== 'object' || m === null || typeof m.tokenId !== 'string' || m.tokenId === '') return;
    const code = typeof m.code === 'string' && (AUTH_ERROR_CODES as readonly string[]).includes(m.code) ? m.code : 'token_revoked';
    const cut = life.cutToken(m.tokenId, new AuthError(code, typeof m.message === 'string' ? m.message : REVOKED_MESSAGE));
    debug('token: %d socket(s) cut for another node', cut);
  });
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
