/**
 * Starts a real `redis-server` (Debian's package) on a free loopback port, with
 * no persistence, for one test file; `stop()` kills it, `restart()` brings it
 * back on the same port (for store-outage tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: an outage, not a clean shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and clients still report ready, but nothing is answered. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT); it answers what was queued meanwhile. */
  resume(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const started = Date.now();
  // Ready when it accepts a connection: poll with a raw TCP PING.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    if (await ping(port)) return child;
    if (Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on ${port}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port);
  const kill = async () => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: kill,
    async restart() {
      await kill();
      child = await launch(port);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
  };
}

/**
 * Closes a node-redis client gracefully; one still waiting on a Redis that
 * came back late (or never will) is destroyed after 2 s.
 */
export async function closeClient(client: { close(): Promise<unknown>; destroy(): unknown; isOpen: boolean }): Promise<void> {
  await Promise.race([client.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2000))]);
  if (client.isOpen) client.destroy();
}

/**
 * Resolves once Redis has answered every subscription already sent on `sub`.
 * @socket.io/redis-adapter subscribes when it is created and drops the
 * promises; one still unanswered when Redis dies rejects with nobody to catch
 * it (an unhandled rejection in the test run). Replies on one connection come
 * in order, so a barrier subscription answered means every earlier one was.
 */
export async function subscriptionsAnswered(sub: {
  subscribe(channel: string, listener: () => void): Promise<unknown>;
  unsubscribe(channel: string, listener: () => void): Promise<unknown>;
}): Promise<void> {
  const listener = () => undefined;
  await sub.subscribe('sockpass-test:barrier', listener);
  await sub.unsubscribe('sockpass-test:barrier', listener);
}
