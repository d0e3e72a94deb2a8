/**
 * Connection-state recovery, judged before any packet is replayed.
 *
 * Socket.IO restores a session through `nsp.adapter.restoreSession(pid,
 * offset)` and writes the session's missed packets in the `Socket`
 * constructor, before any middleware runs (with `skipMiddlewares` true or
 * false). So sockpass judges the session there: the restore step of each
 * namespace it guards is wrapped, and a session is restored only when its
 * `data.auth` exists (a quarantined socket has none), has not expired, is
 * not revoked in the ledger and is not past `maxSessionAge`; it comes back
 * with only the rooms its namespace's room policy allows. Otherwise the adapter's answer becomes `null`:
 * the client gets a fresh socket, with no missed packet, that goes through the
 * middleware chain like any new one.
 *
 * Which namespaces are guarded: one where the registry's middleware ran, and
 * every namespace of a target given to `onAuthenticated()` or `attach()` (a
 * Server: its main namespace and every namespace created after; a Namespace:
 * that one; a parent namespace: its children). A node must guard before its
 * first recovery: with an adapter that recovers across nodes
 * (`@socket.io/redis-streams-adapter`), a node whose middleware has not run
 * yet may restore a session another node stored, so call `auth.attach(io)` (or
 * `onAuthenticated(io, …)`) at startup.
 *
 * An adapter set later with `io.adapter(...)` replaces `nsp.adapter`: the
 * namespace's `adapter` property is made an accessor so that the new one is
 * wrapped too.
 *
 * @module
 */
import createDebug from 'debug';
import { onEveryAdapter, type AdapterLike, type NamespaceLike, type RestoredSession } from '../socketio.js';
import type { AuthError } from '../errors.js';

const debug = createDebug('sockpass:recovery');

/** What recovery needs of the Lifecycle (declared here, so this file does not import it). */
export interface RecoveryJudge {
  readonly judgedAdapters: WeakSet<AdapterLike>;
  /** Session ids restored and not yet connected (ms epoch of the restore): a second restore of one is refused. */
  readonly restoredSessions: Map<string, number>;
  recoveryRefusal(data: unknown): AuthError | undefined;
  /** The session as it may come back: only the rooms its namespace's room policy allows. */
  restoring(nsp: NamespaceLike, session: RestoredSession): Promise<RestoredSession> | RestoredSession;
}

/** How long a restored session may take to become a connected socket before it counts as gone. */
const RESTORE_WINDOW = 10_000;

/** Judges every session this namespace's adapter restores, now and after the adapter is replaced. */
export function guardRecovery(life: RecoveryJudge, nsp: NamespaceLike): void {
  onEveryAdapter(nsp, (adapter) => judgeRestores(life, adapter, nsp));
}

function judgeRestores(life: RecoveryJudge, adapter: AdapterLike | undefined, nsp: NamespaceLike): void {
  if (adapter === undefined || typeof adapter.restoreSession !== 'function' || life.judgedAdapters.has(adapter)) return;
  life.judgedAdapters.add(adapter);
  const restore = adapter.restoreSession;
  adapter.restoreSession = async function restoreJudged(this: AdapterLike, pid: string, offset: string): Promise<unknown> {
    const session = await restore.call(this, pid, offset);
    if (session === null || session === undefined) return session;
    const refusal = life.recoveryRefusal((session as { data?: unknown }).data);
    if (refusal !== undefined) {
      debug('not restoring a session on %s: %s', nsp.name, refusal.code);
      return null;
    }
    // A session is restored once. The in-memory adapter keeps a session after restoring it, so the same
    // pid and offset presented again would give a second socket with the same id: a ghost that is not in
    // nsp.sockets, which a revoke never reaches. The second attempt gets a fresh socket instead.
    const sid = (session as { sid?: unknown }).sid;
    if (typeof sid === 'string') {
      const now = Date.now();
      for (const [id, at] of life.restoredSessions) if (now - at > RESTORE_WINDOW) life.restoredSessions.delete(id);
      if (nsp.sockets.has(sid) || life.restoredSessions.has(sid)) {
        debug('not restoring a session on %s twice', nsp.name);
        return null;
      }
      life.restoredSessions.set(sid, now);
    }
    return life.restoring(nsp, session as RestoredSession);
  };
}
