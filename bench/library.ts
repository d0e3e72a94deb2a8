/**
 * Loads the built sockpass (dist/), the code users install, rather than the
 * sources: tsx would resolve `sockpass` through tsconfig's `paths` to src/.
 * The types still come from src/, which dist/ is built from.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Sockpass = typeof import('../src/index.js');

export async function loadSockpass(): Promise<Sockpass> {
  const url = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error('bench: dist/index.js is missing; `npm run bench` builds it first (npm run build)');
  }
  return (await import(url.href)) as Sockpass;
}
