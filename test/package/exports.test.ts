/**
 * The built package as an app loads it: ESM `import` and CommonJS `require`
 * of every entry of the exports map, from a separate Node process that
 * resolves `sockpass` through package.json (the self-reference), not the
 * vitest aliases. `npm test` builds dist/ first (pretest).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const entries = ['sockpass', 'sockpass/client', 'sockpass/compat/socketio-jwt', 'sockpass/compat/passport.socketio', 'sockpass/nest'];

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
}

describe('package exports', () => {
  it('has a built dist/', () => {
    expect(existsSync(`${root}dist/index.js`)).toBe(true);
    expect(existsSync(`${root}dist/index.cjs`)).toBe(true);
    expect(existsSync(`${root}dist/index.d.ts`)).toBe(true);
    expect(existsSync(`${root}dist/index.d.cts`)).toBe(true);
  });

  it.each(entries)('%s loads with require() from CommonJS', (entry) => {
    const out = node(['-e', `const m = require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).sort()))`]);
    expect(Array.isArray(JSON.parse(out))).toBe(true);
  });

  it.each(entries)('%s loads with import from ESM', (entry) => {
    const out = node(['--input-type=module', '-e', `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).sort()))`]);
    expect(Array.isArray(JSON.parse(out))).toBe(true);
  });

  it('gives CommonJS and ESM the same public API, and a working registry', () => {
    const cjs = node(['-e', `const s = require('sockpass'); const a = new s.SockPass().use('j', s.jwtAuth({ secret: 'x'.repeat(32), algorithms: ['HS256'] })); console.log(JSON.stringify({ keys: Object.keys(s).sort(), err: new s.AuthError('forbidden', 'no').data, mw: typeof a.middleware('j') }))`]);
    const esm = node(['--input-type=module', '-e', `import * as s from 'sockpass'; console.log(JSON.stringify({ keys: Object.keys(s).sort(), err: new s.AuthError('forbidden', 'no').data, mw: typeof new s.SockPass().use('j', s.jwtAuth({ secret: 'x'.repeat(32), algorithms: ['HS256'] })).middleware('j') }))`]);
    expect(JSON.parse(cjs)).toEqual(JSON.parse(esm));
    const parsed = JSON.parse(cjs);
    expect(parsed.keys).toEqual(expect.arrayContaining(['SockPass', 'AuthError', 'jwtAuth', 'jwtQuery', 'jwtHeader', 'passportStrategy']));
    expect(parsed.err).toEqual({ type: 'UnauthorizedError', code: 'forbidden', message: 'no', action: 'stop' });
    expect(parsed.mw).toBe('function');
  });

  it('type-checks an app that uses the declarations of both module systems', () => {
    // tsc resolves `sockpass` through the exports map's "types" conditions.
    const out = execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}test/package/app/tsconfig.json`], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out).toBe('');
    // A whole tsc run: ~5 s alone, several times that while the suite's other files use both cores.
  }, 120_000);
});
