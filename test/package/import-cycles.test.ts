/**
 * No import cycles in src/, runtime or type-only: lifecycle.ts calls the
 * modules beside it (refresh, revalidation, quarantine, recovery, revoke),
 * and each of them declares what it needs of the Lifecycle instead of
 * importing it. dpdm reads every public entry point.
 */
import { describe, expect, it } from 'vitest';
import { parseDependencyTree, parseCircular } from 'dpdm';

const ENTRIES = ['src/index.ts', 'src/client/index.ts', 'src/compat/socketio-jwt.ts', 'src/compat/passport.socketio.ts', 'src/nest/index.ts'];

describe('the import graph of src/', () => {
  it('has no cycle, type-level ones included', async () => {
    const tree = await parseDependencyTree(ENTRIES, { transform: false, skipDynamicImports: false });
    expect(Object.keys(tree).length).toBeGreaterThan(20);
    expect(parseCircular(tree).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
