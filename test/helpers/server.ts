/**
 * Starts a real Socket.IO server on a free loopback port and connects real
 * socket.io-client sockets to it; `close()` tears everything down. The one
 * helper every integration test uses, so no test shares state with another.
 */
import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type ServerOptions } from 'socket.io';
import { io as connectClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';

export interface TestServer {
  io: Server;
  http: HttpServer;
  url: string;
  port: number;
  /** Connects a client (websocket transport, no reconnection unless asked); closed by `close()`. */
  client(nsp?: string, options?: Partial<ManagerOptions & SocketOptions>): ClientSocket;
  close(): Promise<void>;
}

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

export async function startServer(
  setup: (io: Server, http: HttpServer) => unknown = () => {},
  options: Partial<ServerOptions> = {},
  handler?: RequestListener,
): Promise<TestServer> {
  const http = handler ? createServer(handler) : createServer();
  const io = new Server(http, options);
  await setup(io, http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const clients = new Set<ClientSocket>();
  return {
    io,
    http,
    url,
    port,
    client(nsp = '/', opts = {}) {
      const socket = connectClient(url + nsp, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 5000,
        ...opts,
      });
      clients.add(socket);
      return socket;
    },
    async close() {
      for (const c of clients) c.disconnect();
      clients.clear();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      http.closeAllConnections?.();
    },
  };
}

export interface ConnectError extends Error {
  data?: { type?: string; code?: string; message?: string; strategy?: string; retryAfter?: number };
}

/**
 * Resolves when the client connects or is refused; never hangs past `ms`.
 * A client that connected before the call (a test that opened two and awaits
 * them in turn) resolves at once: its `connect` event is gone.
 */
export function outcome(socket: ClientSocket, ms = 5000): Promise<{ connected: true } | { connected: false; error: ConnectError }> {
  if (socket.connected) return Promise.resolve({ connected: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('neither connect nor connect_error within ' + ms + ' ms')), ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ connected: true });
    });
    socket.once('connect_error', (error: ConnectError) => {
      clearTimeout(timer);
      resolve({ connected: false, error });
    });
  });
}

/** The AuthError code a refused client saw, or 'connected'. */
export async function codeOf(socket: ClientSocket, ms?: number): Promise<string> {
  const r = await outcome(socket, ms);
  return r.connected ? 'connected' : (r.error.data?.code ?? `no code: ${r.error.message}`);
}

/** Waits for one event on an emitter-like object. */
export function once<T = unknown>(emitter: { once(ev: string, fn: (...a: any[]) => void): unknown }, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
