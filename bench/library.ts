/**
 * Loads the built sockpass (dist/), the code users install, rather than the
 * sources: tsx would resolve `sockpass` through tsconfig's `paths` to src/.
 * The types still come from src/, which dist/ is built from.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Sockpass = typeof import('../src/index.js');

export async function loadSockpass(): Promise<Sockpass> {
  const url = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error('bench: dist/index.js is missing; `npm run bench` builds it first (npm run build)');
  }
  return (await import(url.href)) as Sockpass;
}

/** The BENCH_BASE build (bench/base-build.ts), whose path the orchestrator hands its servers in BENCH_BASE_DIST. */
export async function loadBaseSockpass(): Promise<Sockpass> {
  const path = process.env.BENCH_BASE_DIST;
  if (path === undefined || !existsSync(path)) throw new Error('bench: the sp-auth-hs-base scenario needs BENCH_BASE=<commit>');
  return (await import(pathToFileURL(path).href)) as Sockpass;
}
