/**
 * The API reference builds clean: TypeDoc's validation of typedoc.json
 * (every public export documented, every `{@link}` resolving, nothing public
 * referring to an unexported type) with warnings as errors, as `npm run docs`
 * runs it, minus the HTML. A second run on a small fixture with the same
 * validation settings proves they catch both kinds of defect.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(new URL('../../', import.meta.url).pathname);
const typedoc = join(root, 'node_modules/typedoc/bin/typedoc');
const run = promisify(execFile);

interface Outcome {
  code: number;
  output: string;
}

async function typedocValidate(cwd: string, args: string[] = []): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [typedoc, '--emit', 'none', ...args], { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failure = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

describe('API reference', () => {
  it('validates with no warning: every public export documented, no broken link', async () => {
    const { code, output } = await typedocValidate(root);
    const problems = output.split('\n').filter((line) => /\[(warning|error)\]/.test(line));
    expect(problems).toEqual([]);
    expect(code).toBe(0);
  }, 60_000);

  describe('its validation settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockpass-typedoc-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('fail on an undocumented export and on a {@link} to nothing', async () => {
      const ours = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(
        join(dir, 'typedoc.json'),
        JSON.stringify({
          name: 'fixture',
          entryPoints: ['entry.ts'],
          tsconfig: 'tsconfig.json',
          skipErrorChecking: ours.skipErrorChecking,
          validation: ours.validation,
          treatWarningsAsErrors: ours.treatWarningsAsErrors,
          treatValidationWarningsAsErrors: ours.treatValidationWarningsAsErrors,
        }),
      );
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', types: [] }, files: ['entry.ts'] }));
      writeFileSync(
        join(dir, 'entry.ts'),
        [
          '/** Entry. @module */',
          'export function undocumentedExport(): number { return 1; }',
          '/** Points at {@link noSuchThing}. */',
          'export const documented = 2;',
          '',
        ].join('\n'),
      );
      const { code, output } = await typedocValidate(dir);
      expect(code).not.toBe(0);
      expect(output).toMatch(/undocumentedExport.*does not have any documentation/);
      expect(output).toMatch(/noSuchThing/);
    }, 60_000);
  });
});
