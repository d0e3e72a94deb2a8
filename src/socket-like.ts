/**
 * The parts of Socket.IO's server classes sockpass touches, as structural
 * types. sockpass never uses `instanceof` on Socket.IO classes (an app may
 * load its own copy of socket.io) and reads only public API.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
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
  on(event: 'connection', listener: (socket: any) => void): unknown;
  in(room: string | string[]): RoomOperator;
  /** The same operations on this node's sockets only. */
  local: { in(room: string | string[]): RoomOperator; fetchSockets: NamespaceLike['fetchSockets'] };
  /** Every socket of the namespace on every node (through the adapter), as Socket.IO's RemoteSocket. */
  fetchSockets(): Promise<FetchedSocket[]>;
  server: ServerLike;
}

/** What `fetchSockets()` yields (Socket.IO's RemoteSocket, or a local Socket). */
export interface FetchedSocket {
  data: Record<string, unknown>;
  emit(event: string, ...args: unknown[]): unknown;
  disconnect(close?: boolean): unknown;
}

/** What `nsp.in(room)` returns (Socket.IO's BroadcastOperator), as far as sockpass uses it. */
export interface RoomOperator {
  disconnectSockets(close?: boolean): void;
  emit(event: string, ...args: unknown[]): boolean;
}

export interface ServerLike {
  of(name: string): NamespaceLike;
}
