/**
 * A loopback TCP load balancer for the node-loss scenario: clients know one
 * address, as behind a real balancer, and each new connection goes to the
 * next backend that accepts it (round robin, skipping one that refuses). When
 * a backend dies its connections close and the clients' reconnects land on a
 * node that is still up. WebSocket transport only, so no sticky sessions.
 *
 * @module
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  url: string;
  close(): Promise<void>;
}

export async function startBalancer(backends: number[]): Promise<Balancer> {
  let next = 0;
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    const tryBackend = (left: number) => {
      if (left === 0) return client.destroy();
      const port = backends[next++ % backends.length]!;
      const upstream = tcpConnect(port, '127.0.0.1');
      let connected = false;
      upstream.on('error', () => {
        upstream.destroy();
        // Refused before connecting: that node is down, try the next one.
        if (!connected) tryBackend(left - 1);
      });
      upstream.once('connect', () => {
        connected = true;
        track(upstream);
        client.on('error', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryBackend(backends.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
