/**
 * examples/cluster copied out of the repository: its files alone in a
 * temporary directory, with a package.json that depends on the packed sockpass
 * (`npm pack` of the built dist/, by file: path) and on the packages the
 * example imports, installed from npm's cache (or the registry for what it lacks); its demo must behave there as
 * it does in the repository. Needs dist/ (`npm run build`; `npm test` builds it).
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const example = join(root, 'examples/cluster');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sockpass-cluster-example-'));

/** Every package the example imports, at the version the repository has installed. */

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/cluster copied out of the repository', () => {
  it('installs against the packed sockpass and runs its demo: revoke on A, the token refused on B', async () => {
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: npm run build').toBe(true);
    // dist/ is built (npm test builds it first): prepack's build would print on stdout, before the JSON.
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent', '--ignore-scripts'], { cwd: root });
    const tarball = join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);

    const app = join(dir, 'app');
    cpSync(example, app, { recursive: true });
    // Nothing in it reaches back into the repository.
    for (const file of readdirSync(app)) expect(readFileSync(join(app, file), 'utf8'), file).not.toMatch(/from '\.\.\//);
    // The example's own package.json, as a user copying the folder installs it, with sockpass from this tree's tarball.
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    manifest.dependencies.sockpass = `file:${tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel', 'error'], { cwd: app, timeout: 180_000 });

    const env = { ...process.env };
    delete env.REDIS_URL;
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'start.ts', '--demo'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGTERM'), 90_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    expect(out).toContain('demo: every step behaved');
    expect(out).toContain("ok   alice's token from before the revoke, on node B: refused with token_revoked");
    expect(code).toBe(0);
    // It ran the packed sockpass, not the repository's.
    expect(readFileSync(join(app, 'node_modules/sockpass/package.json'), 'utf8')).toContain('"name": "sockpass"');
    expect(existsSync(join(app, 'node_modules/sockpass/src'))).toBe(false);
  }, 300_000);
});
