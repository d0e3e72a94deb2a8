/**
 * Every touch of Socket.IO beyond its documented calls, in one place, so a
 * Socket.IO upgrade is checked here. Each function names the Socket.IO
 * behaviour it relies on; the tests that would fail if that behaviour
 * changed are named beside it. The types are structural: sockpass never uses
 * `instanceof` on Socket.IO classes (an app may load its own copy).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { HandshakeSource } from './handshake/context.js';

export interface SocketLike extends HandshakeSource {
  id: string;
  data: Record<string, unknown> & { auth?: unknown };
  connected: boolean;
  recovered?: boolean;
  join(room: string | string[]): Promise<void> | void;
  leave(room: string): Promise<void> | void;
  emit(event: string, ...args: unknown[]): boolean;
  disconnect(close?: boolean): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  use(fn: (packet: unknown[], next: (err?: Error) => void) => void): unknown;
  nsp: NamespaceLike;
}

export interface NamespaceLike extends Pick<EventEmitter, 'prependListener'> {
  name: string;
  sockets: Map<string, SocketLike>;
  adapter: AdapterLike;
  on(event: string, listener: (...args: any[]) => void): unknown;
  in(room: string | string[]): RoomOperator;
  /** The same operations on this node's sockets only. */
  local: { in(room: string | string[]): RoomOperator };
  /** A server-side event to every other node, through the adapter (fire-and-forget). */
  serverSideEmit(event: string, ...args: unknown[]): unknown;
  server: ServerLike;
}

/** The adapter of a namespace, as far as sockpass uses it. */
export interface AdapterLike {
  /** connectionStateRecovery: the session of `pid`, with the packets missed since `offset`. */
  restoreSession?: (pid: string, offset: string) => Promise<unknown> | unknown;
  on(event: 'join-room', listener: (room: string, id: string) => void): unknown;
}

/** What `nsp.in(room)` returns (Socket.IO's BroadcastOperator), as far as sockpass uses it. */
export interface RoomOperator {
  disconnectSockets(close?: boolean): void;
  emit(event: string, ...args: unknown[]): boolean;
}

export interface ServerLike {
  of(name: string): NamespaceLike;
  /** The main namespace. */
  sockets: NamespaceLike;
}

/** True for a Socket.IO Server (only a Server has `of`). */
export function isServer(target: object): target is ServerLike {
  return typeof (target as { of?: unknown }).of === 'function';
}

/**
 * The child namespaces of a dynamic parent namespace (`io.of(/regex/)`).
 * Relies on ParentNamespace's private `children` Set, which Socket.IO fills
 * as it creates each child (test/life/recovery.test.ts, dynamic namespaces).
 */
export function childrenOf(target: object): { has(nsp: unknown): boolean } | undefined {
  const children = (target as { children?: { has?: unknown } }).children;
  return children !== undefined && typeof children.has === 'function' ? (children as { has(nsp: unknown): boolean }) : undefined;
}

/**
 * Takes a socket out of its namespace's `nsp.sockets` Map, and puts it back.
 * Relies on every adapter (in-memory, Redis, streams) consulting `nsp.sockets`
 * before delivering a broadcast, so a socket outside it receives none
 * (test/life/quarantine.test.ts fails if an upgrade starts delivering to it).
 */
export function hideFromBroadcasts(socket: SocketLike): void {
  if (socket.nsp.sockets.get(socket.id) === socket) socket.nsp.sockets.delete(socket.id);
}

export function showToBroadcasts(socket: SocketLike): void {
  socket.nsp.sockets.set(socket.id, socket);
}

/** True when the socket is in its namespace's `nsp.sockets` Map (a hidden or orphaned one is not). */
export function isListed(socket: SocketLike): boolean {
  return socket.nsp.sockets.get(socket.id) === socket;
}

type CatchAll = (...args: any[]) => void;
type CatchAllSocket = SocketLike & {
  onAny?: (listener: CatchAll) => unknown;
  prependAny?: (listener: CatchAll) => unknown;
  offAny?: (listener?: CatchAll) => unknown;
};

/**
 * Queues the catch-all listeners (`onAny` / `prependAny`) added to a socket
 * until `release(true)` attaches them in order (`release(false)` drops them).
 * Relies on Socket.IO calling catch-all listeners before packet middlewares,
 * which is why a gate in `socket.use` cannot stop them, and on those methods
 * being looked up on the instance, so an own property shadows the prototype's
 * (test/life/quarantine.test.ts, catch-all listeners). The release puts back
 * whatever own methods were there before (`hideFromCatchAll`'s, set when the
 * handshake admitted the socket), so the queued listeners and later ones go
 * through them (test/integrations/admin-ui.test.ts).
 */
export function deferCatchAll(s: SocketLike): (release: boolean) => void {
  const socket = s as CatchAllSocket;
  const { onAny, prependAny, offAny } = socket;
  if (typeof onAny !== 'function' || typeof prependAny !== 'function' || typeof offAny !== 'function') return () => {};
  const before = (['onAny', 'prependAny', 'offAny'] as const).map((name) => [name, Object.getOwnPropertyDescriptor(socket, name)] as const);
  const queued: Array<{ prepend: boolean; listener: CatchAll }> = [];
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
  return (release) => {
    for (const [name, descriptor] of before) {
      if (descriptor === undefined) delete socket[name];
      else Object.defineProperty(socket, name, descriptor);
    }
    if (!release) return;
    for (const { prepend, listener } of queued.splice(0)) {
      if (prepend) socket.prependAny!(listener);
      else socket.onAny!(listener);
    }
  };
}

/**
 * Wraps every catch-all listener (`onAny` / `prependAny`) added to a socket
 * from now on, so that it never sees `events` (the in-band credential
 * events a display such as @socket.io/admin-ui must not show). Relies on
 * those methods being looked up on the instance, so an own property shadows
 * the prototype's (test/integrations/admin-ui.test.ts).
 */
export function hideFromCatchAll(s: SocketLike, events: ReadonlySet<unknown>): void {
  const socket = s as CatchAllSocket;
  const { onAny, prependAny } = socket;
  if (typeof onAny !== 'function' || typeof prependAny !== 'function') return;
  const hiding = (listener: CatchAll): CatchAll =>
    function concealedListener(this: unknown, ...args: unknown[]) {
      if (events.has(args[0])) return undefined;
      return listener.apply(this, args);
    };
  socket.onAny = (listener) => onAny.call(socket, hiding(listener));
  socket.prependAny = (listener) => prependAny.call(socket, hiding(listener));
}

/**
 * Calls `use` with the namespace's adapter now and with every adapter
 * assigned later. Relies on `io.adapter(...)` assigning a new `nsp.adapter`
 * to each namespace: the property is made an accessor that sees the
 * assignment (chained, so several registries can watch one namespace)
 * (test/life/recovery.test.ts, an adapter set after attach).
 */
export function onEveryAdapter(nsp: NamespaceLike, use: (adapter: AdapterLike) => void): void {
  const previous = Object.getOwnPropertyDescriptor(nsp, 'adapter');
  let current = nsp.adapter;
  Object.defineProperty(nsp, 'adapter', {
    configurable: true,
    enumerable: true,
    get: () => (previous?.get !== undefined ? previous.get.call(nsp) : current),
    set: (adapter: AdapterLike) => {
      if (previous?.set !== undefined) previous.set.call(nsp, adapter);
      current = adapter;
      use(adapter);
    },
  });
  use(nsp.adapter);
}

/**
 * Emits a server-side event on a namespace without broadcasting it to
 * clients. `Namespace#emit` broadcasts, so the namespace's own EventEmitter
 * is called, as Socket.IO does for `connection`
 * (test/compat/socketio-jwt.test.ts, the `authenticated` event).
 */
export function emitOnNamespace(nsp: NamespaceLike, event: string, ...args: unknown[]): void {
  EventEmitter.prototype.emit.call(nsp, event, ...args);
}

/**
 * The one "tell, then disconnect": the event reaches the client before the
 * disconnect (same socket, same order on the wire). A socket already gone is left alone.
 */
export function tellThenDisconnect(socket: { connected?: boolean; emit(event: string, ...args: unknown[]): unknown; disconnect(): unknown }, event: string, ...args: unknown[]): void {
  if (socket.connected === false) return;
  socket.emit(event, ...args);
  socket.disconnect();
}

/**
 * Whether the adapter relays server-side events to other nodes. Every
 * adapter extends socket.io-adapter's in-memory `Adapter`, whose
 * `serverSideEmit` only warns (and never calls an acknowledgement back); the
 * cluster adapters (@socket.io/redis-adapter, its sharded adapter,
 * @socket.io/redis-streams-adapter) override it. Relies on that base class
 * defining `serverSideEmit` on its prototype, the last of the chain to
 * define it (test/revocation/revoke-token-index.test.ts: no warning on the
 * in-memory adapter; revoke-across-nodes.test.ts).
 */
export function relaysToOtherNodes(adapter: object): boolean {
  let base: object | undefined;
  for (let proto = Object.getPrototypeOf(adapter) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    if (Object.prototype.hasOwnProperty.call(proto, 'serverSideEmit')) base = proto;
  }
  const own = (adapter as { serverSideEmit?: unknown }).serverSideEmit;
  return typeof own === 'function' && (base === undefined || own !== (base as { serverSideEmit?: unknown }).serverSideEmit);
}

/** Adapters may answer join/leave with a promise (the sharded Redis adapter does); never leave one unhandled. */
export function catchRoomChange(result: Promise<void> | void, onError: (err: unknown) => void): void {
  if (result !== undefined && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).catch(onError);
}

// ---------------------------------------------------------------------------
// Rooms (room policies, `auth.rooms()`)

/** What a socket's `join` returns: the adapter may answer with a promise (the sharded Redis adapter does). */
export type JoinResult = Promise<void> | void;

/** Decides which of `rooms` the socket enters, and enters them through `join` (the socket's own, unjudged). */
export type JoinJudge = (rooms: string[], join: (rooms: string[]) => JoinResult) => JoinResult;

/**
 * Replaces this socket's `join` by one that hands the rooms to `judge`; the
 * original enters the admitted ones. Relies on every way into a room of a
 * connected socket ending in the socket's own `join()`, looked up on the
 * instance (so an own property shadows `Socket.prototype.join`): the app's
 * `socket.join`, and `io.in(…).socketsJoin(…)`, whose adapter `addSockets`
 * calls `socket.join(rooms)` for each local socket (the Redis adapter does the
 * same for a request from another node) (test/authorization/rooms-join.test.ts,
 * test/authorization/rooms-across-nodes.test.ts). Connection-state recovery
 * joins the restored rooms in the `Socket` constructor, before this can run:
 * see {@link restoreOnly}.
 */
export function interceptJoins(socket: SocketLike, judge: JoinJudge): void {
  const join = socket.join;
  const enter = (rooms: string[]): JoinResult => (rooms.length === 0 ? undefined : join.call(socket, rooms));
  socket.join = function judgedJoin(rooms: string | string[]): JoinResult {
    return judge(Array.isArray(rooms) ? [...rooms] : [rooms], enter);
  };
}

/** The rooms the socket is in on this node (`socket.rooms`, a documented getter; a copy, so leaving while iterating is safe). */
export function roomsOf(socket: SocketLike): string[] {
  const rooms = (socket as { rooms?: ReadonlySet<string> }).rooms;
  return rooms === undefined ? [] : [...rooms];
}

/** True when the socket is in `room` on this node. */
export function isIn(socket: SocketLike, room: string): boolean {
  return (socket as { rooms?: ReadonlySet<string> }).rooms?.has(room) === true;
}

/**
 * A session as the adapter's `restoreSession` hands it to Socket.IO (its
 * `Session` type): the fields sockpass reads and rewrites.
 */
export interface RestoredSession {
  sid?: unknown;
  rooms?: unknown;
  data?: unknown;
  missedPackets?: unknown;
}

/**
 * The session with only `rooms`, and without its missed packets. Relies on
 * the `Socket` constructor of a restored socket joining `session.rooms` and
 * writing `session.missedPackets` from the object `restoreSession` resolved
 * to, so a copy with fewer rooms restores fewer (test/authorization/rooms-recovery.test.ts).
 */
export function restoreOnly(session: RestoredSession, rooms: string[]): RestoredSession {
  return { ...session, rooms, missedPackets: [] };
}
