/**
 * Quarantine: what happens to a socket admitted before its credential arrived
 * (the `authenticate` event strategy), between the handshake and the
 * credential. Until it authenticates the socket
 *
 * - receives no broadcast (`io.emit`, `nsp.emit`, room broadcasts, from this
 *   node or through a Redis adapter): it is out of the namespace's public
 *   `nsp.sockets` Map, which every adapter consults before delivering, and
 *   out of its own id room;
 * - is in no room the app can address: rooms the app joins it to meanwhile
 *   are taken back at once and joined only after success;
 * - has none of its events handled except the authentication event: a packet
 *   middleware drops them (never replayed), and catch-all (`onAny`) listeners
 *   added meanwhile are attached only after success, since Socket.IO calls
 *   those before any middleware.
 *
 * A refusal is told as `unauthorized` and the socket disconnected at once;
 * the timeout runs until the socket succeeds, whatever it sends. Everything
 * armed here is undone on disconnect through the socket's cleanup list.
 *
 * `nsp.sockets` is documented but its role in delivery is not a contract:
 * test/life/quarantine.test.ts fails if a Socket.IO or adapter upgrade
 * starts delivering to sockets outside it.
 *
 * @module
 */
import createDebug from 'debug';
import { AuthError, toAuthError, type AuthErrorData } from '../errors.js';
import { renewCredential, revocationOf } from './lifecycle.js';
import type { RegistryContext } from '../registry-context.js';
import type { NamespaceLike, SocketLike } from '../socket-like.js';
import { onCleanup, type SocketState } from './socket-state.js';
import type { AuthResult, AuthSuccess, Strategy } from '../types.js';

const debug = createDebug('sockpass:quarantine');

/** What the client receives with `unauthorized`: socketio-jwt's shape. */
export interface UnauthorizedPayload {
  message: string;
  data: AuthErrorData | { type: 'UnauthorizedError'; code: string; message: string };
}

export interface InBandWaitOptions<U> {
  /** Hide the socket until it authenticates (default). Off only for socketio-jwt's `required: false`. */
  isolate?: boolean;
  /** Builds the `unauthorized` payload; the compat layer maps codes to socketio-jwt's. */
  describe?: (error: AuthError) => UnauthorizedPayload;
  /** Runs after each success (`renewed` for a re-authentication), before the app's handlers. */
  onSuccess?: (socket: SocketLike, result: AuthSuccess<U>, renewed: boolean) => void;
}

/** Called by the registry at `connection` for a socket whose strategy waits for an in-band credential. */
export function startQuarantine<U>(socket: SocketLike, state: SocketState<U>, ctx: RegistryContext<U>): void {
  awaitInBandCredential(socket, state, ctx, { isolate: true });
}

/**
 * Listens for the credential event of `state.strategy` (`inBand.eventName`),
 * verifies each one with `authenticateCredential`, and moves the socket to
 * authenticated, renews its credential, or refuses it.
 */
export function awaitInBandCredential<U>(
  socket: SocketLike,
  state: SocketState<U>,
  ctx: RegistryContext<U>,
  options: InBandWaitOptions<U> = {},
): void {
  const strategy = state.strategy;
  const describe = options.describe ?? describeError;
  const refuse = (error: AuthError) => {
    if (error.strategy === undefined) error.strategy = state.strategyName;
    ctx.reportFailure(socket, error);
    if (!socket.connected) return;
    // socketio-jwt clients answer with `callback()`: give them a function, but never wait for it.
    socket.emit('unauthorized', describe(error), function ignoredAck() {});
    socket.disconnect();
  };
  if (strategy?.inBand === undefined || typeof strategy.authenticateCredential !== 'function') {
    return refuse(new AuthError('server_error', 'authentication failed'));
  }
  const { eventName, timeout } = strategy.inBand;
  const reveal = options.isolate === false ? () => {} : isolate(socket, state, eventName);

  let cancelTimeout = () => {};
  if (timeout > 0) {
    const timer = setTimeout(() => {
      debug('socket %s: no credential within %d ms', socket.id, timeout);
      refuse(new AuthError('authentication_timeout', 'no valid credential was sent in time'));
    }, timeout);
    cancelTimeout = onCleanup(state as SocketState<unknown>, () => clearTimeout(timer));
  }

  let busy = false;
  const onCredential = (payload: unknown) => {
    // One verification at a time: a client flooding the event cannot queue work.
    if (busy) return debug('socket %s: credential dropped, one is being verified', socket.id);
    busy = true;
    verify(strategy, payload).then((result) => {
      busy = false;
      if (!socket.connected) return;
      try {
        settle(result);
      } catch (err) {
        // An app handler threw: surface it as a throwing event listener would, not as a lost rejection.
        process.nextTick(() => {
          throw err;
        });
      }
    });
  };
  const settle = (result: AuthResult<U>) => {
    if (result.kind !== 'success') {
      const error = result.kind === 'fail' ? result.error : new AuthError('credentials_required', 'no token was sent');
      return refuse(error);
    }
    if (state.status === 'pending') {
      // Checked in the step that admits: a revoke that landed during the verification wins.
      const revoked = revocationOf(ctx, result);
      if (revoked !== undefined) return refuse(revoked);
      cancelTimeout();
      reveal();
      socket.emit('authenticated');
      options.onSuccess?.(socket, result, false);
      // Sets socket.data.auth, starts the lifecycle, runs the onAuthenticated handlers that waited.
      ctx.authenticated(socket, state, result);
      return;
    }
    try {
      ctx.authorization.beforeRenewal(socket);
      renewCredential(socket, state, result, ctx);
      ctx.authorization.renewed(socket, state);
    } catch (err) {
      return refuse(toAuthError(err, state.strategyName));
    }
    socket.emit('authenticated');
    options.onSuccess?.(socket, result, true);
  };
  socket.on(eventName, onCredential);
  onCleanup(state as SocketState<unknown>, () => socket.off(eventName, onCredential));
}

async function verify<U>(strategy: Strategy<U>, payload: unknown): Promise<AuthResult<U>> {
  try {
    const result = await strategy.authenticateCredential!(payload);
    if (result === null || typeof result !== 'object') return { kind: 'fail', error: new AuthError('server_error', 'authentication failed') };
    return result.kind === 'fail' ? { kind: 'fail', error: toAuthError(result.error) } : result;
  } catch (err) {
    return { kind: 'fail', error: toAuthError(err) };
  }
}

function describeError(error: AuthError): UnauthorizedPayload {
  return { message: error.message, data: error.data };
}

// ---------------------------------------------------------------------------
// Isolation

interface AdapterLike {
  on(event: 'join-room', listener: (room: string, id: string) => void): unknown;
}

type IsolatedSocket = SocketLike & {
  nsp: NamespaceLike & { adapter: AdapterLike };
  onAny?: (listener: (...args: any[]) => void) => unknown;
  prependAny?: (listener: (...args: any[]) => void) => unknown;
  offAny?: (listener?: (...args: any[]) => void) => unknown;
};

/** Sockets of each adapter that wait in quarantine: rooms joined meanwhile are taken back and kept for later. */
const pendingByAdapter = new WeakMap<AdapterLike, Map<string, { socket: SocketLike; rooms: Set<string> }>>();

function pendingOf(adapter: AdapterLike): Map<string, { socket: SocketLike; rooms: Set<string> }> {
  let pending = pendingByAdapter.get(adapter);
  if (pending !== undefined) return pending;
  const created = new Map<string, { socket: SocketLike; rooms: Set<string> }>();
  pendingByAdapter.set(adapter, created);
  // One listener per adapter, not per socket. `join-room` is a documented adapter event.
  adapter.on('join-room', (room, id) => {
    const entry = created.get(id);
    if (entry === undefined) return;
    entry.rooms.add(room);
    settleJoin(entry.socket.leave(room));
  });
  return created;
}

/** Hides the socket; returns the function that shows it again after success. */
function isolate<U>(s: SocketLike, state: SocketState<U>, eventName: string): () => void {
  const socket = s as IsolatedSocket;
  const { nsp } = socket;
  const pending = pendingOf(nsp.adapter);
  const rooms = new Set<string>();
  pending.set(socket.id, { socket, rooms });
  if (nsp.sockets.get(socket.id) === socket) nsp.sockets.delete(socket.id);
  settleJoin(socket.leave(socket.id));
  const restoreCatchAll = deferCatchAll(socket);

  socket.use(function quarantineGate(packet, next) {
    if (state.status === 'authenticated' || packet[0] === eventName) return next();
    // Dropped: neither handled nor replayed, and no error (an error would reach the app's `error` listeners).
    debug('socket %s: event dropped while unauthenticated', socket.id);
  });

  let done = false;
  const release = (show: boolean) => {
    if (done) return;
    done = true;
    pending.delete(socket.id);
    if (show && socket.connected) {
      nsp.sockets.set(socket.id, socket);
      settleJoin(socket.join([socket.id, ...rooms]));
    }
    restoreCatchAll(show);
  };
  onCleanup(state as SocketState<unknown>, () => release(false));
  return () => release(true);
}

/**
 * Socket.IO calls catch-all listeners before packet middlewares, so the gate
 * cannot stop them: while pending, `onAny`/`prependAny` on this socket queue
 * the listener instead; after success they are attached in order.
 */
function deferCatchAll(socket: IsolatedSocket): (show: boolean) => void {
  const { onAny, prependAny, offAny } = socket;
  if (typeof onAny !== 'function' || typeof prependAny !== 'function' || typeof offAny !== 'function') return () => {};
  const queued: Array<{ prepend: boolean; listener: (...args: any[]) => void }> = [];
  socket.onAny = (listener) => {
    queued.push({ prepend: false, listener });
    return socket;
  };
  socket.prependAny = (listener) => {
    queued.push({ prepend: true, listener });
    return socket;
  };
  socket.offAny = (listener) => {
    if (listener === undefined) queued.length = 0;
    else for (let i = queued.length - 1; i >= 0; i--) if (queued[i]!.listener === listener) queued.splice(i, 1);
    return offAny.call(socket, listener);
  };
  return (show) => {
    delete socket.onAny;
    delete socket.prependAny;
    delete socket.offAny;
    if (!show) return;
    for (const { prepend, listener } of queued.splice(0)) {
      if (prepend) socket.prependAny!(listener);
      else socket.onAny!(listener);
    }
  };
}

/** Adapters may answer join/leave with a promise (the sharded Redis adapter does); never leave one unhandled. */
function settleJoin(result: Promise<void> | void): void {
  if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
    (result as Promise<void>).catch((err: unknown) => debug('room change failed: %s', (err as Error)?.message));
  }
}
