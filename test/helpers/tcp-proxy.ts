/**
 * A loopback TCP proxy in front of a real server, to cut one node off the
 * network while the others stay connected: `cut()` drops every connection
 * through it and refuses new ones until `heal()`.
 */
import { createServer, Socket, type Server } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let open = true;
  const pairs = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    if (!open) return void inbound.destroy();
    const outbound = new Socket();
    pairs.add(inbound).add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      pairs.delete(inbound);
      pairs.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    outbound.connect(targetPort, '127.0.0.1', () => {
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cut = () => {
    open = false;
    for (const s of pairs) s.destroy();
    pairs.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut,
    heal() {
      open = true;
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
