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
  /** Beyond the public names, what both may use: one internal module of re-exports, named in their header comments and in docs/development.md. */
  const SEAM = 'src/compat/core-seam.ts';
  const COMPAT = ['src/compat/socketio-jwt.ts', 'src/compat/passport.socketio.ts'];

  /** What the seam hands the compat modules (issue 21). This list may only shrink. */
  const SEAM_NAMES = [
    'src/handshake/context.ts: HandshakeSource',
    'src/handshake/context.ts: createHandshakeContext',
    'src/life/lifecycle.ts: SocketLike',
    'src/life/lifecycle.ts: UnauthorizedPayload',
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
      .filter((i) => !publicApi.has(i.name) && i.target !== SEAM)
      .map((i) => `${i.target}: ${i.name}`)
      .sort();
  };

  it.each(COMPAT)('%s uses only public names and the seam', (file) => {
    expect(publicNames().size).toBeGreaterThan(100);
    expect(namedImports(file).filter((i) => i.target === SEAM).length).toBeGreaterThan(0);
    expect(beyondPublic(file)).toEqual([]);
  });

  it('the seam re-exports the listed names and holds no code, and the list names nothing it stopped re-exporting', () => {
    const text = readFileSync(join(root, SEAM), 'utf8');
    // Only comments and `export … from` lines.
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('//'));
    expect(code.filter((line) => !/^export (type )?\{[^}]*\} from '[^']+';$/.test(line))).toEqual([]);
    const names = namedImports(SEAM).map((i) => `${i.target}: ${i.name}`).sort();
    expect(names.filter((name) => !SEAM_NAMES.includes(name))).toEqual([]);
    expect(SEAM_NAMES.filter((name) => !names.includes(name))).toEqual([]);
  });
});
