/**
 * Revocation: `auth.revoke(io, { user } | { session })` disconnects every
 * socket of a user or a session, on every node. It goes through the server's
 * adapter (`nsp.in(room).emit(...)`, `nsp.in(room).disconnectSockets()`), so
 * with `@socket.io/redis-adapter` a revoke issued on one node reaches the
 * sockets held by all the others; sockpass itself keeps no shared state.
 *
 * Each socket joined `user:<id>` / `session:<sid>` when it authenticated
 * (`lifecycle.ts`). The client first gets `auth:revoked` `{ code, message }`,
 * then the disconnect.
 *
 * @module
 */
import createDebug from 'debug';
import type { AuthErrorCode } from './errors.js';
import type { RegistryContext } from './registry.js';
import type { NamespaceLike, ServerLike } from './socket-like.js';
import { REVOKED_EVENT, type AuthNotice } from './wire.js';

const debug = createDebug('sockpass:revoke');

/** Whose sockets to cut: every socket of a user id, or of one session id. */
export type RevokeTarget = { user: string | number } | { session: string };

/** Options of {@link SockPass.revoke}. */
export interface RevokeOptions {
  /** What the client reads in `auth:revoked`; never put a credential here. Default: "credentials have been revoked". */
  reason?: string;
  /** Code sent with `auth:revoked`. Default `token_revoked`. */
  code?: AuthErrorCode;
  /**
   * Namespaces to cover besides `/` and those this node's registry has seen.
   * In a cluster, name the namespaces that only other nodes serve.
   */
  namespaces?: readonly string[];
}

/** How long a revocation is remembered for sockets that come back through connectionStateRecovery. */
const RECOVERY_MEMORY_MS = 10 * 60_000;

interface Book {
  /** Namespace objects of sockets this node authenticated, by name. */
  namespaces: Map<string, NamespaceLike>;
  /** Room → when it was last revoked here, so a socket recovered after the revoke does not slip back in. */
  revoked: Map<string, number>;
}

const books = new WeakMap<object, Book>();

function bookOf(ctx: RegistryContext<unknown>): Book {
  let book = books.get(ctx);
  if (book === undefined) {
    book = { namespaces: new Map(), revoked: new Map() };
    books.set(ctx, book);
  }
  return book;
}

/** Called for every authenticated socket: its namespace is one revoke must cover. */
export function rememberNamespace<U>(ctx: RegistryContext<U>, nsp: NamespaceLike): void {
  const { namespaces } = bookOf(ctx as RegistryContext<unknown>);
  if (namespaces.get(nsp.name) !== nsp) namespaces.set(nsp.name, nsp);
}

/** Whether one of `rooms` was revoked on this node after `since` (ms epoch). */
export function revokedSince<U>(ctx: RegistryContext<U>, rooms: readonly string[], since: number): boolean {
  const { revoked } = bookOf(ctx as RegistryContext<unknown>);
  return rooms.some((room) => (revoked.get(room) ?? -1) >= since);
}

export async function revokeSockets<U>(
  io: ServerLike | NamespaceLike,
  target: RevokeTarget,
  ctx: RegistryContext<U>,
  options: RevokeOptions = {},
): Promise<void> {
  const room = roomOf(target, ctx);
  const server: ServerLike = typeof (io as ServerLike).of === 'function' ? (io as ServerLike) : (io as NamespaceLike).server;
  const book = bookOf(ctx as RegistryContext<unknown>);
  const now = Date.now();
  for (const [r, at] of book.revoked) if (at < now - RECOVERY_MEMORY_MS) book.revoked.delete(r);
  book.revoked.set(room, now);

  const reason = options.reason;
  if (reason !== undefined && typeof reason !== 'string') throw new TypeError('sockpass: revoke reason must be a string');
  const notice: AuthNotice = { code: options.code ?? 'token_revoked', message: reason ?? 'credentials have been revoked' };
  const targets = new Map<string, NamespaceLike>(book.namespaces);
  for (const name of ['/', ...ctx.namespaces, ...(options.namespaces ?? [])]) {
    if (!targets.has(name)) targets.set(name, server.of(name));
  }
  debug('revoking %s on %d namespace(s)', room, targets.size);
  for (const nsp of targets.values()) {
    // Same adapter, same order: through Redis both travel on one connection,
    // so every node delivers the notice before it disconnects.
    nsp.in(room).emit(REVOKED_EVENT, notice);
    nsp.in(room).disconnectSockets();
  }
}

function roomOf<U>(target: RevokeTarget, ctx: RegistryContext<U>): string {
  if (typeof target !== 'object' || target === null) throw new TypeError('sockpass: revoke({ user }) or revoke({ session })');
  if ('user' in target && (typeof target.user === 'string' || typeof target.user === 'number') && String(target.user) !== '') {
    return ctx.options.userRoom(String(target.user));
  }
  if ('session' in target && typeof target.session === 'string' && target.session !== '') {
    return ctx.options.sessionRoom(target.session);
  }
  throw new TypeError('sockpass: revoke({ user }) or revoke({ session }) with a non-empty id');
}
