/**
 * The build of another commit of sockpass (BENCH_BASE, e.g. the main a
 * change started from), so one bench run measures the old code and the new
 * side by side, round by round, on the same drifting machine: a before/after
 * read across two runs would mix the change with the machine's drift.
 *
 * The commit is exported with `git archive` into bench/results/, installed
 * from its own lockfile (its dependencies may differ from today's) and built
 * with its own build script; a second run reuses the build.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './children.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** Builds `commit` (once) and returns the path of its dist/index.js. */
export function prepareBase(commit: string): string {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], { cwd: REPO, encoding: 'utf8' }).trim();
  const dir = join(RESULTS_DIR, `base-${sha.slice(0, 12)}`);
  const entry = join(dir, 'dist', 'index.js');
  if (existsSync(entry)) return entry;
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C "${dir}"`], { cwd: REPO, stdio: 'inherit' });
  const quiet = { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] as ['ignore', 'ignore', 'inherit'] };
  execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], quiet);
  execFileSync('npm', ['run', 'build'], quiet);
  if (!existsSync(entry)) throw new Error(`bench: building BENCH_BASE=${commit} gave no dist/index.js`);
  return entry;
}
