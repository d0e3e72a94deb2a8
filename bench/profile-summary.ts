/**
 * Summarises a V8 `.cpuprofile` (what `BENCH_CPU_PROF` writes into
 * bench/results/) by function and by file: self time (samples whose top frame
 * is the function) and total time (samples with the function anywhere on the
 * stack, counted once), so sockpass's share of a server's CPU can be read
 * without opening DevTools.
 *
 * Run: `npx tsx bench/profile-summary.ts <file.cpuprofile> [filter] [top]`
 * `filter` keeps functions whose file contains it (e.g. `dist/` for sockpass's
 * built code, `jsonwebtoken`, `socket.io`); `top` rows (default 30).
 *
 * @module
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, filter = '', topArg = '30'] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [filter] [top]');
  process.exit(2);
}
const top = Number(topArg);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

const shortUrl = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/');
const fnKey = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;

const selfFn = new Map<string, number>();
const totalFn = new Map<string, number>();
const selfFile = new Map<string, number>();
const totalFile = new Map<string, number>();
let all = 0;
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  all += dt;
  let id: number | undefined = profile.samples[i]!;
  const top = byId.get(id)!.callFrame;
  add(selfFn, fnKey(top), dt);
  add(selfFile, shortUrl(top.url) || `(${top.functionName})`, dt);
  const seenFn = new Set<string>();
  const seenFile = new Set<string>();
  while (id !== undefined) {
    const frame = byId.get(id)!.callFrame;
    const k = fnKey(frame);
    if (!seenFn.has(k)) {
      seenFn.add(k);
      add(totalFn, k, dt);
    }
    const f = shortUrl(frame.url);
    if (f !== '' && !seenFile.has(f)) {
      seenFile.add(f);
      add(totalFile, f, dt);
    }
    id = parent.get(id);
  }
}

const ms = (us: number) => (us / 1000).toFixed(1).padStart(9);
const pct = (us: number) => `${((100 * us) / all).toFixed(2).padStart(6)} %`;
function print(title: string, self: Map<string, number>, total: Map<string, number>): void {
  console.log(`\n${title} (filter: ${filter || 'none'}), sorted by total`);
  console.log(`${'self ms'.padStart(9)} ${'self'.padStart(8)} ${'total ms'.padStart(9)} ${'total'.padStart(8)}  name`);
  const keys = [...new Set([...self.keys(), ...total.keys()])].filter((k) => k.includes(filter));
  keys.sort((a, b) => (total.get(b) ?? 0) - (total.get(a) ?? 0));
  for (const k of keys.slice(0, top)) {
    const s = self.get(k) ?? 0;
    const t = total.get(k) ?? 0;
    console.log(`${ms(s)} ${pct(s)} ${ms(t)} ${pct(t)}  ${k}`);
  }
}

console.log(`${file}: ${(all / 1000).toFixed(0)} ms sampled`);
print('files', selfFile, totalFile);
print('functions', selfFn, totalFn);
