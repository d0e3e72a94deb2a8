/**
 * What sockpass remembers about one socket between the handshake and its
 * disconnect: which strategy decided, whether the socket still waits for an
 * in-band credential, and what to clean up when it goes. Kept in a WeakMap
 * so nothing outlives the socket.
 *
 * @module
 */
import type { Deadlined } from './deadline-queue.js';
import type { SocketLike } from './socket-like.js';
import type { AuthSuccess, SocketAuth, Strategy } from './types.js';

/** A cleanup step; it gets the state, so one shared function can serve every socket. */
export type CleanupStep = (state: SocketState<any>) => void;

/**
 * Lists start out as this shared empty array and are replaced, never mutated,
 * when something is added: most sockets never add a waiter, and an empty
 * array per socket per list is bytes every idle socket pays.
 */
const NONE: readonly never[] = Object.freeze([]);

export interface SocketState<U> extends Deadlined {
  socket: SocketLike;
  /**
   * The registry (its context) that admitted the socket: a registry attached
   * to a whole Server sees the sockets of namespaces another registry guards,
   * and must leave them alone.
   */
  owner: object | undefined;
  status: 'pending' | 'authenticated';
  /** Name the deciding (or awaited) strategy was registered under. */
  strategyName: string;
  /** The deciding strategy, for in-band refresh; undefined when several decided together (mode `all`). */
  strategy: Strategy<U> | undefined;
  result: AuthSuccess<U> | undefined;
  /** Run once the socket has authenticated (handlers registered while it was pending). Replaced, never mutated. */
  waiters: ReadonlyArray<() => void>;
  /** Run on disconnect: timers, listeners. Replaced, never mutated. */
  cleanup: ReadonlyArray<CleanupStep>;
  /** The credential's expiry (ms epoch), or Infinity; the deadline queue fires at it. */
  expiresAtMs: number;
  /** When to ask for a refresh (ms epoch), or Infinity once asked or when the socket cannot refresh. */
  noticeAt: number;
  /** True while an in-band refresh is being verified (one at a time per socket). */
  refreshing: boolean;
  /** True once the socket has the `auth:refresh` listener. */
  listening: boolean;
}

/** A state with every field present from the start, so all states share one hidden class. */
export function createState<U>(
  socket: SocketLike,
  strategyName: string,
  strategy: Strategy<U> | undefined,
  result?: AuthSuccess<U>,
): SocketState<U> {
  return {
    socket,
    owner: undefined,
    status: result === undefined ? 'pending' : 'authenticated',
    strategyName,
    strategy,
    result,
    waiters: NONE,
    cleanup: NONE,
    deadline: Number.NaN,
    heapIndex: -1,
    expiresAtMs: Number.POSITIVE_INFINITY,
    noticeAt: Number.POSITIVE_INFINITY,
    refreshing: false,
    listening: false,
  };
}

/**
 * Where a socket's state is kept: a symbol-keyed property on the socket
 * object itself. Invisible to `socket.data`, JSON and string keys, gone with
 * the socket, and cheaper per connection than a WeakMap entry (an ephemeron
 * the garbage collector has to trace specially).
 */
const STATE = Symbol('sockpass.state');

type Holder = { [STATE]?: SocketState<any> };

export function getState<U>(socket: object): SocketState<U> | undefined {
  return (socket as Holder)[STATE];
}

export function setState<U>(socket: object, state: SocketState<U>): void {
  (socket as Holder)[STATE] = state;
}

/**
 * Registers a cleanup step (once: adding the same step twice keeps one).
 * `concat` copies the list at its exact size; a push (or a spread) reserves
 * 16 more slots, ~130 bytes per connected socket.
 */
export function addCleanup(state: SocketState<unknown>, step: CleanupStep): void {
  if (!state.cleanup.includes(step)) state.cleanup = state.cleanup.concat(step);
}

/** Forgets a registered step without running it. */
export function dropCleanup(state: SocketState<unknown>, step: CleanupStep): void {
  const i = state.cleanup.indexOf(step);
  if (i !== -1) state.cleanup = state.cleanup.filter((_, j) => j !== i);
}

/** Registers a cleanup step; returns a function that runs and forgets it early. */
export function onCleanup(state: SocketState<unknown>, step: () => void): () => void {
  addCleanup(state, step);
  return () => {
    dropCleanup(state, step);
    step();
  };
}

/** Adds a handler to run once the socket has authenticated. */
export function addWaiter(state: SocketState<unknown>, run: () => void): void {
  state.waiters = state.waiters.concat(run);
}

/** Takes the waiting handlers out, to run them. */
export function takeWaiters(state: SocketState<unknown>): ReadonlyArray<() => void> {
  const waiters = state.waiters;
  state.waiters = NONE;
  return waiters;
}

/**
 * Steps every socket's cleanup runs, registered once per process rather than
 * in each socket's list: the deadline's cancel is needed by nearly every
 * socket, and a list holding just that one function cost ~60 bytes of every
 * idle socket's heap. Each must be a no-op for a socket it has nothing for.
 */
const EVERY_SOCKET: CleanupStep[] = [];

/** Registers a cleanup step that runs for every socket (once: the same step twice keeps one). */
export function cleanUpEverySocketWith(step: CleanupStep): void {
  if (!EVERY_SOCKET.includes(step)) EVERY_SOCKET.push(step);
}

export function runCleanup(state: SocketState<unknown>): void {
  const steps = state.cleanup;
  state.cleanup = NONE;
  state.waiters = NONE;
  for (const step of EVERY_SOCKET) step(state);
  for (const step of steps) step(state);
}

/**
 * One function for every socket's `disconnect` (Socket.IO calls it with the
 * socket as `this`), rather than a closure per socket: it saves ~200 bytes
 * of heap per connected socket.
 */
export function cleanUpOnDisconnect(this: SocketLike): void {
  const state = getState(this);
  if (state !== undefined) runCleanup(state);
}

/** The `socket.data.auth` value for a success. */
export function toSocketAuth<U>(strategy: string, result: AuthSuccess<U>): SocketAuth<U> {
  const claims = result.claims ?? {};
  const expiresAt = result.expiresAt ?? null;
  // A JWT's record (issuedAt and tokenId) is made whole in one literal: fields added after it would
  // give every socket's record a separate property store (~40 B each).
  if (result.issuedAt instanceof Date && result.tokenId !== undefined && result.session === undefined && !result.anonymous) {
    return { user: result.user, strategy, claims, expiresAt, issuedAt: result.issuedAt, tokenId: result.tokenId };
  }
  const auth: SocketAuth<U> = { user: result.user, strategy, claims, expiresAt };
  if (result.session !== undefined) auth.session = result.session;
  if (result.anonymous) auth.anonymous = true;
  if (result.issuedAt instanceof Date) auth.issuedAt = result.issuedAt;
  if (result.tokenId !== undefined) auth.tokenId = result.tokenId;
  return auth;
}
