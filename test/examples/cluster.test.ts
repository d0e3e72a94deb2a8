/**
 * The cluster example's one command (`examples/cluster/start.ts --demo`):
 * two node processes on a redis-server it starts itself; every step of the
 * scripted demo must behave (among them: a token revoked on node A refused on
 * node B), and nothing may be left running.
 */
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../examples/cluster/start.ts', import.meta.url));

function running(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('examples/cluster', () => {
  it('runs the demo end to end: a revoke on node A cuts node B\'s sockets within 1 s, and the token stays refused on node B', async () => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--demo'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGTERM'), 90_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('demo: every step behaved');
    expect(out).not.toContain('FAIL');
    // The ledger is shared: revoked on A, the same token is refused on B (and A); a new login connects.
    expect(out).toContain("ok   alice's token from before the revoke, on node B: refused with token_revoked");
    expect(out).toContain("ok   alice's token from before the revoke, on node A: refused with token_revoked");
    expect(out).toContain("ok   alice's token from a new login, on node B: connected");
    // Step 5 read node B's /metrics in Prometheus format.
    expect(out).toMatch(/sockpass_handshakes_total\{[^}]*strategy="jwt-auth"[^}]*\} [1-9]/);
    expect(code).toBe(0);
    // Its redis-server (port printed at start) and node processes are gone.
    const port = /redis:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    expect(port).toBeDefined();
    expect(running(`redis-server.*${port}`)).toEqual([]);
    expect(running(`${script.replace('start.ts', 'node.ts')}`)).toEqual([]);
  }, 120_000);
});
