/**
 * No import cycles in src/, runtime or type-only: lifecycle.ts calls the
 * modules beside it (refresh, revalidation, quarantine, recovery, revoke),
 * and each of them declares what it needs of the Lifecycle instead of
 * importing it. dpdm reads every public entry point. The compat modules are
 * written on what src/index.ts exports, plus one documented internal seam.
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

/** The names `file` imports or re-exports from relative modules, as `target: name` (type-only ones included). */
function namedImports(file: string): Array<{ target: string; name: string }> {
  const text = readFileSync(join(root, file), 'utf8');
  const found: Array<{ target: string; name: string }> = [];
  for (const [, names, spec] of text.matchAll(/(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(\.[^']+)'/g)) {
    const target = relative(root, join(root, file, '..', spec!)).replace(/\.js$/, '.ts');
    for (const raw of names!.split(',')) {
      const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
      if (name !== '') found.push({ target, name });
    }
  }
  return found;
}

/** Every name src/index.ts exports. */
function publicNames(): Set<string> {
  const text = readFileSync(join(root, 'src/index.ts'), 'utf8');
  const names = new Set<string>();
  for (const [, list] of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const raw of list!.split(',')) names.add(raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!);
  }
  for (const [, name] of text.matchAll(/export\s+(?:function|interface|class|type|const)\s+(\w+)/g)) names.add(name!);
  names.delete('');
  return names;
}

describe('the compat modules', () => {
  /** Beyond the public names, what each may use: one internal module, named in its header comment and in docs/development.md. */
  const SEAM: Record<string, string> = {
    'src/compat/passport.socketio.ts': 'src/handshake/context.ts',
    'src/compat/socketio-jwt.ts': 'src/life/lifecycle.ts',
  };

  /** Not public and not its seam: what the socketio-jwt drop-in still reaches into (issue 21). This list may only shrink. */
  const SOCKETIO_JWT_LEFT = [
    'src/handshake/context.ts: createHandshakeContext',
    'src/time.ts: TIMED_OUT',
    'src/time.ts: withTimeout',
    'strategies/jwt/token-sources.ts: isRepeatedQueryParameter',
    'strategies/jwt/verifier.ts: JwtVerifier',
    'strategies/jwt/verifier.ts: algorithmsOfKey',
    'strategies/jwt/verifier.ts: createJwtVerifier',
    'strategies/jwt/verifier.ts: prepareKey',
    'strategies/origin.ts: isSameOrigin',
    'strategies/origin.ts: prepareOrigins',
  ];

  const beyondPublic = (file: string) => {
    const publicApi = publicNames();
    return namedImports(file)
      .filter((i) => i.target.startsWith('src/') || i.target.startsWith('strategies/'))
      .filter((i) => !publicApi.has(i.name) && i.target !== SEAM[file])
      .map((i) => `${i.target}: ${i.name}`)
      .sort();
  };

  it('passport.socketio uses only public names and its seam, the handshake context', () => {
    expect(publicNames().size).toBeGreaterThan(100);
    expect(namedImports('src/compat/passport.socketio.ts').filter((i) => i.target === SEAM['src/compat/passport.socketio.ts']).length).toBeGreaterThan(0);
    expect(beyondPublic('src/compat/passport.socketio.ts')).toEqual([]);
  });

  it('socketio-jwt reaches no further into the core than the list says, and the list names nothing it stopped using', () => {
    const used = beyondPublic('src/compat/socketio-jwt.ts');
    expect(used.filter((left) => !SOCKETIO_JWT_LEFT.includes(left))).toEqual([]);
    expect(SOCKETIO_JWT_LEFT.filter((left) => !used.includes(left))).toEqual([]);
  });
});
