/**
 * rate-limiter-flexible is an optional peer of the built package (dist/,
 * made by `npm run build` or `npm test`'s pretest): `sockpass` loads without
 * it from CommonJS and ESM, `handshakeLimits()` then fails at startup with a
 * TypeError naming it, and with it installed only `handshakeLimits()` loads
 * it. The published declarations give `HandshakeLimits` its members, so
 * `new SockPass({ rateLimit: {} })` does not compile.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const run = promisify(execFile);
const PEER = 'rate-limiter-flexible';

/** An app whose node_modules has sockpass's dist and every package of this checkout, but `without` those. */
function installApp(without: string[]): string {
  const app = mkdtempSync(join(tmpdir(), 'sockpass-peer-'));
  const modules = join(app, 'node_modules');
  mkdirSync(join(modules, 'sockpass'), { recursive: true });
  cpSync(join(root, 'package.json'), join(modules, 'sockpass', 'package.json'));
  cpSync(join(root, 'dist'), join(modules, 'sockpass', 'dist'), { recursive: true });
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name === '.bin' || name === 'sockpass' || without.includes(name)) continue;
    symlinkSync(join(root, 'node_modules', name), join(modules, name));
  }
  writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }');
  return app;
}

/** What `handshakeLimits()` did in a fresh node process, and whether the peer was loaded before and after. */
const probe = `
  const before = Object.keys(requireFrom.cache).some((k) => k.includes('/${PEER}/'));
  let outcome;
  try {
    const limits = sockpass.handshakeLimits({ address: { points: 1, duration: 1 } });
    outcome = 'ok ' + limits.store;
  } catch (err) {
    outcome = err.name + ': ' + err.message + (sockpass.isAuthError(err) ? ' (AuthError)' : '');
  }
  const after = Object.keys(requireFrom.cache).some((k) => k.includes('/${PEER}/'));
  console.log(JSON.stringify({ before, outcome, after }));
`;
const cjs = `const requireFrom = require; const sockpass = require('sockpass');${probe}`;
const esm = `import { createRequire } from 'node:module'; const requireFrom = createRequire(import.meta.url); const sockpass = await import('sockpass');${probe}`;

async function inApp(app: string, kind: 'cjs' | 'esm'): Promise<{ before: boolean; outcome: string; after: boolean }> {
  const args = kind === 'cjs' ? ['-e', cjs] : ['--input-type=module', '-e', esm];
  const { stdout } = await run(process.execPath, args, { cwd: app });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('rate-limiter-flexible as an optional peer', () => {
  let bare = '';
  let full = '';
  beforeAll(() => {
    bare = installApp([PEER]);
    full = installApp([]);
  });
  afterAll(() => {
    for (const dir of [bare, full]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['cjs', 'esm'] as const)('without it: %s loads sockpass, and handshakeLimits() names the missing package', async (kind) => {
    const { before, outcome, after } = await inApp(bare, kind);
    expect(before).toBe(false);
    expect(after).toBe(false);
    expect(outcome).toBe(`TypeError: sockpass: handshakeLimits() needs the package ${PEER}, an optional peer dependency: npm install ${PEER}`);
  });

  it.each(['cjs', 'esm'] as const)('with it: %s loads it only when handshakeLimits() is called', async (kind) => {
    expect(await inApp(full, kind)).toEqual({ before: false, outcome: 'ok memory', after: true });
  });

  it('declares HandshakeLimits with its members: a plain object does not compile as rateLimit', async () => {
    writeFileSync(
      join(full, 'app.mts'),
      [
        "import { SockPass, handshakeLimits } from 'sockpass';",
        'new SockPass({ rateLimit: handshakeLimits() });',
        '// @ts-expect-error HandshakeLimits is not an empty interface',
        'new SockPass({ rateLimit: {} });',
        'const limits = handshakeLimits({ address: false });',
        "const store: 'memory' | 'redis' = limits.store;",
        'const address: false | { readonly points: number } = limits.rules.address;',
        'export { store, address };',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(full, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['app.mts'] }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', full]).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    expect(result).toBe('');
  }, 60_000);
});
