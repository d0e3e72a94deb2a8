/**
 * No mutable state at module level in src/ or strategies/: what a registry
 * holds lives on its Lifecycle, so two registries in one process share
 * nothing (test/handshake/two-registries.test.ts shows it at run time), and
 * importing a module does nothing (`"sideEffects": false` tells the truth).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { moduleStateHolders } from '../helpers/module-state.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('module-level state', () => {
  it('has no holder of mutable state at module level in src/ or strategies/', () => {
    expect(moduleStateHolders(root, ['src', 'strategies'])).toEqual([]);
  });

  it('finds one when there is one (the scan can fail)', () => {
    expect(moduleStateHolders(root, ['test/package/fixtures/module-state'])).toEqual([
      'test/package/fixtures/module-state/holders.ts:2 count (let/var)',
      'test/package/fixtures/module-state/holders.ts:3 seen (new WeakMap)',
      'test/package/fixtures/module-state/holders.ts:4 queue ([])',
    ]);
  });

  it('says the package has no import-time side effects', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { sideEffects?: unknown };
    expect(pkg.sideEffects).toBe(false);
  });
});
