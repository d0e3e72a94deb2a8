/**
 * No import cycles in src/, runtime or type-only: lifecycle.ts calls the
 * modules beside it (refresh, revalidation, quarantine, recovery, revoke),
 * and each of them declares what it needs of the Lifecycle instead of
 * importing it. dpdm reads every public entry point.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDependencyTree, parseCircular } from 'dpdm';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every relative import of every .ts file under `dir`, as `file -> target` (paths from the root). */
function importsUnder(dir: string): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        for (const [, spec] of readFileSync(path, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
          found.push({ file: relative(root, path), target: relative(root, join(d, spec!)).replace(/\.js$/, '.ts') });
        }
      }
    }
  };
  walk(join(root, dir));
  return found;
}

const ENTRIES = ['src/index.ts', 'src/client/index.ts', 'src/compat/socketio-jwt.ts', 'src/compat/passport.socketio.ts', 'src/nest/index.ts'];

describe('the import graph of src/', () => {
  it('has no cycle, type-level ones included', async () => {
    const tree = await parseDependencyTree(ENTRIES, { transform: false, skipDynamicImports: false });
    expect(Object.keys(tree).length).toBeGreaterThan(20);
    expect(parseCircular(tree).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('keeps the layers apart: src/ reaches strategies/ only from its entry points, strategies reach src/ only through the contract', () => {
    expect(importsUnder('strategies').filter((i) => i.target === 'src/types.ts').length).toBeGreaterThan(5);
    const srcIntoStrategies = importsUnder('src')
      .filter((i) => i.target.startsWith('strategies/'))
      .filter((i) => i.file !== 'src/index.ts' && !i.file.startsWith('src/compat/'));
    expect(srcIntoStrategies).toEqual([]);
    // The contract, the errors, and the one helper module (bounded waits); no exception (JWKS reports its fetches to an observer).
    const allowed = new Set(['src/types.ts', 'src/errors.ts', 'src/time.ts']);
    const strategiesIntoSrc = importsUnder('strategies').filter((i) => i.target.startsWith('src/') && !allowed.has(i.target));
    expect(strategiesIntoSrc).toEqual([]);
  });
});
