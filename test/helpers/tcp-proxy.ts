/**
 * A loopback TCP proxy in front of a real server, to cut one node off the
 * network while the others stay connected: `cut()` drops every connection
 * through it and refuses new ones until `heal()`. `pause()` stalls it instead
 * (a hop that stops forwarding without closing TCP: bytes wait, both ends stay
 * open) until `resume()` forwards what waited; `blackhole()` silently drops
 * whatever the connections open now carry, forever, while new connections
 * work (a stuck NAT or load-balancer entry).
 */
import { createServer, Socket, type Server } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  cut(): void;
  heal(): void;
  /** Stops forwarding on every connection, open or new, without closing any. */
  pause(): void;
  /** Forwards what waited during the pause, and everything after. */
  resume(): void;
  /** The connections open now carry nothing more, in either direction, and stay open; new ones work. */
  blackhole(): void;
  close(): Promise<void>;
}

interface Pair {
  inbound: Socket;
  outbound: Socket;
  /** Bytes held while paused, per direction. */
  toTarget: Buffer[];
  toClient: Buffer[];
  connected: boolean;
  dead: boolean;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let open = true;
  let paused = false;
  const pairs = new Set<Pair>();
  const flush = (pair: Pair) => {
    if (paused || !pair.connected || pair.dead) return;
    for (const chunk of pair.toTarget.splice(0)) pair.outbound.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.inbound.write(chunk);
  };
  const server: Server = createServer((inbound) => {
    if (!open) return void inbound.destroy();
    const outbound = new Socket();
    const pair: Pair = { inbound, outbound, toTarget: [], toClient: [], connected: false, dead: false };
    pairs.add(pair);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(pair);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      pair.toTarget.push(chunk);
      flush(pair);
    });
    outbound.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      pair.toClient.push(chunk);
      flush(pair);
    });
    outbound.connect(targetPort, '127.0.0.1', () => {
      pair.connected = true;
      flush(pair);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = () => {
    open = false;
    for (const p of pairs) {
      p.inbound.destroy();
      p.outbound.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut,
    heal() {
      open = true;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const p of pairs) flush(p);
    },
    blackhole() {
      for (const p of pairs) {
        p.dead = true;
        p.toTarget.length = 0;
        p.toClient.length = 0;
      }
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
