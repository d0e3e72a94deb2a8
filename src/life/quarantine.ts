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
 * A refusal (a bad credential, a revoked one, one past the user's connection
 * cap) is told as `unauthorized` and the socket disconnected at once;
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
import { AuthError, type AuthErrorData } from '../errors.js';
import { failureOf, normalizeResult } from '../handshake/pipeline.js';
import { deferCatchAll, emitOnNamespace, hideFromBroadcasts, catchRoomChange, showToBroadcasts, type SocketLike } from '../socketio.js';
import type { Metrics } from '../metrics.js';
import type { AdapterLike } from '../socketio.js';
import type { SocketState } from './socket-state.js';
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
  /**
   * A server-side event emitted on the socket's namespace, with the socket,
   * after each success (the first once the lifecycle started, then after
   * each renewal), and never sent to clients: socketio-jwt's `authenticated`.
   */
  announce?: string;
}

/** A socket in quarantine, as its adapter's `join-room` listener finds it. */
export interface QuarantinedSocket {
  socket: SocketLike;
  /** Rooms the app joined it to meanwhile: taken back at once, joined after success. */
  rooms: Set<string>;
}

/** What quarantine needs of the Lifecycle (declared here, so this file does not import it). */
export interface QuarantineOwner<U> {
  readonly metrics: Metrics | undefined;
  readonly quarantined: WeakMap<AdapterLike, Map<string, QuarantinedSocket>>;
  report(socket: SocketLike, error: AuthError): boolean;
  tellAndDisconnect(socket: SocketLike, event: string, ...args: unknown[]): void;
  revocationOf(credential: AuthSuccess<U>): AuthError | undefined;
  admitConnected(socket: SocketLike, state: SocketState<U>, credential: AuthSuccess<U>): Promise<AuthError | undefined>;
  release(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): void;
  renew(socket: SocketLike, state: SocketState<U>, result: AuthSuccess<U>): void;
}

/**
 * Listens for the credential event of `state.strategy` (`inBand.eventName`),
 * verifies each one with `authenticateCredential`, and releases the socket
 * into its authenticated life, renews its credential, or refuses it.
 */
export function startQuarantine<U>(life: QuarantineOwner<U>, socket: SocketLike, state: SocketState<U>, options: InBandWaitOptions<U> = {}): void {
  const strategy = state.strategy;
  const describe = options.describe ?? describeError;
  const announce = options.announce;
  const refuse = (error: AuthError) => {
    if (error.strategy === undefined) error.strategy = state.strategyName;
    life.metrics?.handshake(state.strategyName, error.code, -1);
    life.report(socket, error);
    // socketio-jwt clients answer with `callback()`: give them a function, but never wait for it.
    if (socket.connected) life.tellAndDisconnect(socket, 'unauthorized', describe(error), function ignoredAck() {});
  };
  if (strategy?.inBand === undefined || typeof strategy.authenticateCredential !== 'function') {
    return refuse(new AuthError('server_error', 'authentication failed'));
  }
  const { eventName, timeout } = strategy.inBand;
  const reveal = options.isolate === false ? () => {} : isolate(life, socket, state, eventName);

  let cancelTimeout = () => {};
  if (timeout > 0) {
    const timer = setTimeout(() => {
      debug('socket %s: no credential within %d ms', socket.id, timeout);
      refuse(new AuthError('authentication_timeout', 'no valid credential was sent in time'));
    }, timeout);
    cancelTimeout = state.onCleanup(() => clearTimeout(timer));
  }

  let busy = false;
  const onCredential = (payload: unknown) => {
    // One verification at a time: a client flooding the event cannot queue work.
    if (busy) return debug('socket %s: credential dropped, one is being verified', socket.id);
    busy = true;
    verify(strategy, state.strategyName, payload)
      .then((result) => (socket.connected ? decide(result) : undefined))
      .then(
        () => {
          busy = false;
        },
        (err: unknown) => {
          busy = false;
          // An app handler threw: surface it as a throwing event listener would, not as a lost rejection.
          process.nextTick(() => {
            throw err;
          });
        },
      );
  };
  const decide = async (result: AuthResult<U>): Promise<void> => {
    if (result.kind !== 'success') {
      return refuse(result.kind === 'fail' ? result.error : new AuthError('credentials_required', 'no token was sent'));
    }
    if (state.status === 'pending') {
      // A revoked credential is not worth counting.
      let revoked = life.revocationOf(result);
      if (revoked !== undefined) return refuse(revoked);
      // The connection cap, before the client is told it authenticated.
      const capped = await life.admitConnected(socket, state, result);
      if (!socket.connected) return;
      if (capped !== undefined) return refuse(capped);
      // Checked again in the step that admits: a revoke that landed meanwhile wins.
      revoked = life.revocationOf(result);
      if (revoked !== undefined) return refuse(revoked);
      cancelTimeout();
      reveal();
      life.metrics?.handshake(state.strategyName, 'success', -1);
      socket.emit('authenticated');
      options.onSuccess?.(socket, result, false);
      // Sets socket.data.auth, starts the lifecycle, runs the onAuthenticated handlers that waited.
      life.release(socket, state, result);
      return;
    }
    try {
      life.renew(socket, state, result);
    } catch (err) {
      return refuse(err instanceof AuthError ? err : new AuthError('server_error', 'authentication failed', { cause: err }));
    }
    socket.emit('authenticated');
    options.onSuccess?.(socket, result, true);
    if (announce !== undefined) emitOnNamespace(socket.nsp, announce, socket);
  };
  socket.on(eventName, onCredential);
  state.addCleanup(() => socket.off(eventName, onCredential));
  // After the first success, once socket.data.auth is set and the lifecycle started.
  if (announce !== undefined) state.addWaiter(() => emitOnNamespace(socket.nsp, announce, socket));
}

/** Runs the strategy's in-band check; a throw or a malformed result becomes a typed failure. */
async function verify<U>(strategy: Strategy<U>, name: string, payload: unknown): Promise<AuthResult<U>> {
  try {
    return normalizeResult(await strategy.authenticateCredential!(payload), name);
  } catch (err) {
    return failureOf(err, name);
  }
}

function describeError(error: AuthError): UnauthorizedPayload {
  return { message: error.message, data: error.data };
}

// ---------------------------------------------------------------------------
// Isolation

/** This lifecycle's quarantined sockets of one adapter, with one `join-room` listener per adapter (a documented adapter event). */
function quarantinedOn<U>(life: QuarantineOwner<U>, socket: SocketLike): Map<string, QuarantinedSocket> {
  const adapter = socket.nsp.adapter;
  let waiting = life.quarantined.get(adapter);
  if (waiting !== undefined) return waiting;
  const created = new Map<string, QuarantinedSocket>();
  life.quarantined.set(adapter, created);
  adapter.on('join-room', (room, id) => {
    const entry = created.get(id);
    if (entry === undefined) return;
    entry.rooms.add(room);
    catchRoomChange(entry.socket.leave(room), roomChangeFailed);
  });
  return created;
}

/** Hides the socket; returns the function that shows it again after success. */
function isolate<U>(life: QuarantineOwner<U>, socket: SocketLike, state: SocketState<U>, eventName: string): () => void {
  const waiting = quarantinedOn(life, socket);
  const rooms = new Set<string>();
  waiting.set(socket.id, { socket, rooms });
  hideFromBroadcasts(socket);
  catchRoomChange(socket.leave(socket.id), roomChangeFailed);
  const releaseCatchAll = deferCatchAll(socket);

  socket.use(function quarantineGate(packet, next) {
    if (state.status === 'authenticated' || packet[0] === eventName) return next();
    // Dropped: neither handled nor replayed, and no error (an error would reach the app's `error` listeners).
    debug('socket %s: event dropped while unauthenticated', socket.id);
  });

  let done = false;
  const release = (show: boolean) => {
    if (done) return;
    done = true;
    waiting.delete(socket.id);
    if (show && socket.connected) {
      showToBroadcasts(socket);
      catchRoomChange(socket.join([socket.id, ...rooms]), roomChangeFailed);
    }
    releaseCatchAll(show);
  };
  state.addCleanup(() => release(false));
  return () => release(true);
}

function roomChangeFailed(err: unknown): void {
  debug('room change failed: %s', (err as Error)?.message);
}
