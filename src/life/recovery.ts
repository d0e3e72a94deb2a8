/**
 * Connection-state recovery, judged before any packet is replayed.
 *
 * Socket.IO restores a session through `nsp.adapter.restoreSession(pid,
 * offset)` and writes the session's missed packets in the `Socket`
 * constructor, before any middleware runs (with `skipMiddlewares` true or
 * false). So sockpass judges the session there: the restore step of each
 * namespace it guards is wrapped, and a session is restored only when its
 * `data.auth` exists (a quarantined socket has none), has not expired and is
 * not revoked in the ledger. Otherwise the adapter's answer becomes `null`:
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
import { recoveryRefusal } from './lifecycle.js';
import type { RegistryContext } from '../registry-context.js';

const debug = createDebug('sockpass:recovery');

type Restore = (pid: string, offset: string) => Promise<unknown> | unknown;

export interface RestoringAdapter {
  restoreSession?: Restore;
}

export interface GuardedNamespace {
  name: string;
  adapter: RestoringAdapter;
}

/** The registries that judge each namespace's restores (several registries may share one). */
const judgesOf = new WeakMap<object, Array<RegistryContext<any>>>();
const wrapped = new WeakSet<RestoringAdapter>();

/** Judges every session this namespace's adapter restores, now and after the adapter is replaced. */
export function guardRecovery<U>(nsp: GuardedNamespace, ctx: RegistryContext<U>): void {
  let judges = judgesOf.get(nsp);
  if (judges !== undefined) {
    if (!judges.includes(ctx)) judges.push(ctx);
    return;
  }
  const list: Array<RegistryContext<any>> = [ctx];
  judgesOf.set(nsp, list);
  let current = nsp.adapter;
  wrapAdapter(current, nsp, list);
  // `io.adapter(...)` after this point assigns a new `nsp.adapter`: wrap that one too.
  Object.defineProperty(nsp, 'adapter', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (adapter: RestoringAdapter) => {
      current = adapter;
      wrapAdapter(adapter, nsp, list);
    },
  });
}

function wrapAdapter(adapter: RestoringAdapter | undefined, nsp: GuardedNamespace, judges: ReadonlyArray<RegistryContext<any>>): void {
  const name = nsp.name;
  if (adapter === undefined || typeof adapter.restoreSession !== 'function' || wrapped.has(adapter)) return;
  wrapped.add(adapter);
  const restore = adapter.restoreSession;
  adapter.restoreSession = async function restoreJudged(this: RestoringAdapter, pid: string, offset: string): Promise<unknown> {
    let session = await restore.call(this, pid, offset);
    if (session === null || session === undefined) return session;
    for (const judge of judges) {
      const refusal = recoveryRefusal(judge, (session as { data?: unknown }).data);
      if (refusal !== undefined) {
        debug('not restoring a session on %s: %s', name, refusal.code);
        return null;
      }
    }
    // Room policies and the session's age: only allowed rooms come back, a session past its age not at all.
    for (const judge of judges) {
      session = await judge.authorization.restoring(nsp, session as object);
      if (session === undefined) return null;
    }
    return session;
  };
}
