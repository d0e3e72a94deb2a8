/**
 * Real Socket.IO sockets without a network, for the in-process benches
 * (bench/handshake-cost.ts, bench/revoke-token-cost.ts): a `Socket` of a real
 * Server's namespace, built as Socket.IO builds one for a connection, over a
 * stub Engine.IO client that drops what the socket writes. The benches then
 * take it through Socket.IO's own steps (`run`, `_doConnect`, `_onclose`),
 * which are internal: this pins socket.io 4.8.
 *
 * @module
 */
import { Socket, type Namespace } from 'socket.io';

/**
 * The Engine.IO side of a connection, as much of it as a Socket.IO `Socket`
 * touches: its handshake request, the transport's protocol and address, and a
 * `_packet` that drops what the socket writes.
 */
export function engineClient(): unknown {
  const request = { headers: { host: '127.0.0.1' }, url: '/socket.io/?EIO=4&transport=websocket', connection: { encrypted: false } };
  const conn = { protocol: 4, request, remoteAddress: '127.0.0.1', readyState: 'open' };
  return { conn, request, id: 'engine', _packet() {}, _remove() {} };
}

type SocketCtor = new (nsp: Namespace, client: unknown, auth: Record<string, unknown>) => Socket;

/** A socket of `namespace` over `client` (from `engineClient()`), with `auth` as its handshake's auth payload. */
export function loopSocket(namespace: Namespace, client: unknown, auth: Record<string, unknown>): Socket {
  return new (Socket as unknown as SocketCtor)(namespace, client, auth);
}

/** The namespace steps Socket.IO itself runs for a connection. */
export interface NamespaceInternals {
  run(socket: Socket, fn: (err?: Error) => void): void;
  _doConnect(socket: Socket, fn: () => void): void;
  sockets: Map<string, Socket>;
}

/** A socket's close step (`socket._onclose`): rooms left, `disconnect` listeners run. */
export type Closable = Socket & { _onclose(reason: string): void };

/** Three full GCs and a pause of `pauseMs`, so no measurement pays for the garbage of the one before (needs `--expose-gc`). */
export async function collect(pauseMs: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('bench: run with node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  await new Promise((r) => setTimeout(r, pauseMs));
}
