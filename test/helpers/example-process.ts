/**
 * Runs an example as a user would, with one command (`npx tsx <file>`, on
 * port 0), and waits for the URL it prints: for the tests that prove an
 * example starts on its own. `stop()` ends it and waits for its exit.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ExampleProcess {
  /** What the example printed after `listening on`. */
  readonly url: string;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function startExampleProcess(file: string, timeoutMs = 30_000): Promise<ExampleProcess> {
  const child = spawn(process.execPath, [`${root}node_modules/tsx/dist/cli.mjs`, file], {
    cwd: root,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  let output = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within ${timeoutMs / 1000} s: ${output}`)), timeoutMs);
      child.stdout.on('data', (d: Buffer) => {
        output += d;
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.stderr.on('data', (d: Buffer) => (output += d));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code}: ${output}`));
      });
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
