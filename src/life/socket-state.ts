/**
 * What sockpass remembers about one socket between the handshake and its
 * disconnect: which strategy decided, whether the socket still waits for an
 * in-band credential, its deadline, and what to clean up when it goes. Kept
 * on the socket object under a symbol, so nothing outlives the socket.
 *
 * @module
 */
import type { Deadlined } from './deadline-queue.js';
import type { SocketLike } from '../socket-like.js';
import type { AuthSuccess, SocketAuth, Strategy } from '../types.js';

/** A cleanup step; it gets the state, so one shared function can serve every socket. */
export type CleanupStep = (state: SocketState<any>) => void;

/**
 * Lists start out as this shared empty array and are replaced, never mutated,
 * when something is added: most sockets never add a waiter, and an empty
 * array per socket per list is bytes every idle socket pays.
 */
const NONE: readonly never[] = Object.freeze([]);

/**
 * Who admitted a socket, by which strategy: one object shared by every socket
 * one registry admits by one strategy, so a socket pays one field for the
 * three facts.
 */
export interface Decider<U> {
  /**
   * The registry (its context) that admitted the socket: a registry attached
   * to a whole Server sees the sockets of namespaces another registry guards,
   * and must leave them alone. Undefined for the socketio-jwt drop-in.
   */
  readonly owner: object | undefined;
  /** Name the deciding (or awaited) strategy was registered under. */
  readonly name: string;
  /** The deciding strategy, for in-band refresh; undefined when several decided together (mode `all`). */
  readonly strategy: Strategy<U> | undefined;
}

const deciders = new WeakMap<object, Map<string, Decider<any>>>();

/** The shared Decider of `owner` for `name` (a new one when the name now stands for another strategy). */
export function deciderFor<U>(owner: object | undefined, name: string, strategy: Strategy<U> | undefined): Decider<U> {
  if (owner === undefined) return { owner, name, strategy };
  let byName = deciders.get(owner);
  if (byName === undefined) deciders.set(owner, (byName = new Map()));
  const known = byName.get(name) as Decider<U> | undefined;
  if (known !== undefined && known.strategy === strategy) return known;
  const made: Decider<U> = { owner, name, strategy };
  byName.set(name, made);
  return made;
}

/** Bits of `SocketState#flags`. */
const AUTHENTICATED = 1;
const NOTICE_DUE = 2;
const REFRESHING = 4;
const LISTENING = 8;

/**
 * The strategy's re-check (sessions), keyed by the `data.auth` record it came
 * with: most sockets have none, so a field would cost every socket 8 bytes;
 * and connectionStateRecovery on the in-memory adapter hands the same record
 * back to the restored socket, so its revalidation survives a recovery.
 */
const revalidators = new WeakMap<object, NonNullable<AuthSuccess<any>['revalidate']>>();

/**
 * One socket's state. A class rather than a literal so its four yes/no facts
 * share one small-integer field behind accessors (a field each cost every
 * idle socket 8 bytes), with every field set in the constructor so all states
 * share one hidden class.
 */
export class SocketState<U> implements Deadlined {
  readonly socket: SocketLike;
  /** Who admitted (or awaits) the socket; replaced when an anonymous socket upgrades. */
  decider: Decider<U>;
  /**
   * The `socket.data.auth` record sockpass wrote for this socket (the same
   * object, not a copy): what renewal, refresh and the cut read, even if app
   * code replaces `socket.data`. Set with `keep`.
   */
  auth: SocketAuth<U> | undefined;
  /** Run once the socket has authenticated (handlers registered while it was pending). Replaced, never mutated. */
  waiters: ReadonlyArray<() => void> = NONE;
  /** Run on disconnect: timers, listeners. Replaced, never mutated. */
  cleanup: ReadonlyArray<CleanupStep> = NONE;
  /** Its place in the deadline queue (`deadline-queue.ts`), -1 while it has no deadline queued. */
  heapIndex = -1;
  #flags: number;

  constructor(socket: SocketLike, decider: Decider<U>, auth: SocketAuth<U> | undefined) {
    this.socket = socket;
    this.decider = decider;
    this.auth = auth;
    this.#flags = auth === undefined ? 0 : AUTHENTICATED;
  }

  /**
   * Makes `auth` the socket's record, here and as `socket.data.auth` (one
   * place writes both), with the strategy's re-check when it gave one.
   */
  keep(auth: SocketAuth<U>, revalidate: AuthSuccess<U>['revalidate']): void {
    this.auth = auth;
    this.socket.data.auth = auth;
    if (revalidate !== undefined) revalidators.set(auth, revalidate);
  }

  get owner(): object | undefined {
    return this.decider.owner;
  }

  get strategyName(): string {
    return this.decider.name;
  }

  get strategy(): Strategy<U> | undefined {
    return this.decider.strategy;
  }

  /** `pending` while the socket waits for an in-band credential (or a recovery check). */
  get status(): 'pending' | 'authenticated' {
    return this.#flags & AUTHENTICATED ? 'authenticated' : 'pending';
  }
  set status(value: 'pending' | 'authenticated') {
    this.#flags = withBit(this.#flags, AUTHENTICATED, value === 'authenticated');
  }

  /**
   * True while the queued `deadline` is the refresh notice; false when it is
   * the expiry itself (read from `auth.expiresAt`): a flag rather than a
   * second ms epoch, which would be a 16-byte heap number per socket.
   */
  get noticeDue(): boolean {
    return (this.#flags & NOTICE_DUE) !== 0;
  }
  set noticeDue(value: boolean) {
    this.#flags = withBit(this.#flags, NOTICE_DUE, value);
  }

  /** True while an in-band refresh is being verified (one at a time per socket). */
  get refreshing(): boolean {
    return (this.#flags & REFRESHING) !== 0;
  }
  set refreshing(value: boolean) {
    this.#flags = withBit(this.#flags, REFRESHING, value);
  }

  /** True once the socket has the `auth:refresh` listener. */
  get listening(): boolean {
    return (this.#flags & LISTENING) !== 0;
  }
  set listening(value: boolean) {
    this.#flags = withBit(this.#flags, LISTENING, value);
  }

  /** The strategy's re-check of the credential (a session), for revalidation; undefined for most sockets. */
  get revalidate(): AuthSuccess<U>['revalidate'] {
    return this.auth === undefined ? undefined : revalidators.get(this.auth);
  }
}

/** `flags` with `bit` set or cleared. A function, not a private method: those give each instance a brand slot (8 bytes). */
function withBit(flags: number, bit: number, on: boolean): number {
  return on ? flags | bit : flags & ~bit;
}

/** A state for a socket: authenticated when `auth` is given (written to `socket.data.auth`), else pending. */
export function createState<U>(
  socket: SocketLike,
  decider: Decider<U>,
  auth?: SocketAuth<U>,
  revalidate?: AuthSuccess<U>['revalidate'],
): SocketState<U> {
  const state = new SocketState<U>(socket, decider, auth);
  if (auth !== undefined) state.keep(auth, revalidate);
  return state;
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
  // Indexed loops, and none over the shared empty list: this runs at every disconnect.
  for (let i = 0; i < EVERY_SOCKET.length; i++) EVERY_SOCKET[i]!(state);
  for (let i = 0; i < steps.length; i++) steps[i]!(state);
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
  // A JWT's record is made whole in one literal: fields added after it would give every socket's
  // record a separate property store (~40 B each). Its issue time is `claims.iat`, not a Date of its own.
  if (result.issuedAt === undefined && result.session === undefined && !result.anonymous) {
    return result.tokenId === undefined
      ? { user: result.user, strategy, claims, expiresAt }
      : { user: result.user, strategy, claims, expiresAt, tokenId: result.tokenId };
  }
  const auth: SocketAuth<U> = { user: result.user, strategy, claims, expiresAt };
  if (result.session !== undefined) auth.session = result.session;
  if (result.anonymous) auth.anonymous = true;
  if (result.issuedAt !== undefined) auth.issuedAt = result.issuedAt;
  if (result.tokenId !== undefined) auth.tokenId = result.tokenId;
  return auth;
}
