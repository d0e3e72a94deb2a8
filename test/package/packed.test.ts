/**
 * The tarball `npm publish` would upload, checked by the two linters of
 * packaging: publint (exports map, files, fields; its suggestions count too)
 * and Are the Types Wrong (every entry's declarations for CommonJS and ESM,
 * under node10, node16 and bundler resolution: the strict profile, nothing
 * ignored); and a TypeScript app installed on it (test/package/app: strict,
 * `skipLibCheck: false`, no @types beyond node) that type-checks, its type
 * tests included. `npm test` builds dist/ first (pretest).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const run = promisify(execFile);

describe('packed tarball', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockpass-pack-'));
  let tarball = '';
  let packedFiles: string[] = [];

  beforeAll(async () => {
    // dist/ is built already (pretest); prepack would build it again.
    const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent', '--ignore-scripts'], { cwd: root });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(dir, packed!.filename);
    packedFiles = packed!.files.map((f) => f.path);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes publint with no error, warning or suggestion', async () => {
    const buffer = readFileSync(tarball);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    const { messages } = await publint({
      pack: { tarball: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  it("ships every docs/ page the README links to, so its relative links work in the installed package", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const pages = [...new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!))];
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.filter((page) => !packedFiles.includes(page))).toEqual([]);
  });

  it('has correct types for every entry under node10, node16 (CJS and ESM) and bundler resolution', async () => {
    const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    let output: string;
    try {
      ({ stdout: output } = await run(process.execPath, [attw, tarball, '--format', 'json', '--profile', 'strict']));
    } catch (err) {
      // attw exits 1 when it finds problems; its JSON still says which.
      output = (err as { stdout?: string }).stdout ?? String(err);
    }
    const report = JSON.parse(output) as { analysis: { problems: Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>; entrypoints: Record<string, unknown> } };
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(['.', './client', './compat/passport.socketio', './compat/socketio-jwt', './nest', './package.json']);
    expect(report.analysis.problems.map((p) => `${p.kind} ${p.entrypoint ?? ''} ${p.resolutionKind ?? ''}`)).toEqual([]);
  }, 60_000);

  it('type-checks a strict app installed on the tarball, skipLibCheck off, its type tests included', async () => {
    const app = join(dir, 'ts-app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ts-app', private: true }));
    // The versions the repository tests against, so the install is answered from the local npm cache.
    const version = (name: string) => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    await run('npm', ['install', tarball, `socket.io@${version('socket.io')}`, `@types/node@${version('@types/node')}`, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app });
    for (const file of readdirSync(join(root, 'test/package/app'))) copyFileSync(join(root, 'test/package/app', file), join(app, file));
    let output: string;
    try {
      ({ stdout: output } = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], { cwd: app }));
    } catch (err) {
      output = (err as { stdout?: string }).stdout ?? String(err);
    }
    expect(output).toBe('');
  }, 180_000);
});
