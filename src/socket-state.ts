/**
 * What sockpass remembers about one socket between the handshake and its
 * disconnect: which strategy decided, whether the socket still waits for an
 * in-band credential, and what to clean up when it goes. Kept in a WeakMap
 * so nothing outlives the socket.
 *
 * @module
 */
import type { AuthSuccess, SocketAuth, Strategy } from './types.js';

export interface SocketState<U> {
  status: 'pending' | 'authenticated';
  /** Name the deciding (or awaited) strategy was registered under. */
  strategyName: string;
  /** The deciding strategy, for in-band refresh; undefined when several decided together (mode `all`). */
  strategy: Strategy<U> | undefined;
  result: AuthSuccess<U> | undefined;
  /** Run once the socket has authenticated (handlers registered while it was pending). */
  waiters: Array<() => void>;
  /** Run on disconnect: timers, listeners. */
  cleanup: Array<() => void>;
  /** Cancels the pending expiry timer, if one is armed. */
  cancelExpiry?: () => void;
}

const states = new WeakMap<object, SocketState<any>>();

export function getState<U>(socket: object): SocketState<U> | undefined {
  return states.get(socket);
}

export function setState<U>(socket: object, state: SocketState<U>): void {
  states.set(socket, state);
}

export function deleteState(socket: object): void {
  states.delete(socket);
}

/**
 * Registers a cleanup step. `concat` copies the list at its exact size; a
 * push (or a spread) reserves 16 more slots, ~130 bytes per connected socket.
 */
export function addCleanup(state: SocketState<unknown>, step: () => void): void {
  state.cleanup = state.cleanup.concat(step);
}

/** Forgets a registered step without running it. */
export function dropCleanup(state: SocketState<unknown>, step: () => void): void {
  const i = state.cleanup.indexOf(step);
  if (i !== -1) state.cleanup.splice(i, 1);
}

/** Registers a cleanup step; returns a function that runs and forgets it early. */
export function onCleanup(state: SocketState<unknown>, step: () => void): () => void {
  addCleanup(state, step);
  return () => {
    dropCleanup(state, step);
    step();
  };
}

export function runCleanup(state: SocketState<unknown>): void {
  const steps = state.cleanup.splice(0);
  for (const step of steps) step();
  state.waiters.length = 0;
}

/** The `socket.data.auth` value for a success. */
export function toSocketAuth<U>(strategy: string, result: AuthSuccess<U>): SocketAuth<U> {
  const auth: SocketAuth<U> = {
    user: result.user,
    strategy,
    claims: result.claims ?? {},
    expiresAt: result.expiresAt ?? null,
  };
  if (result.session !== undefined) auth.session = result.session;
  if (result.anonymous) auth.anonymous = true;
  return auth;
}
