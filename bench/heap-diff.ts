/**
 * What one scenario keeps per socket that another does not: diffs two heap
 * snapshots written by `BENCH_HEAP_SNAPSHOT=jwt-key,sp-auth-hs` (same memory
 * round, same number of sockets), grouped by V8 node type and constructor
 * name, divided by the number of sockets.
 *
 *   npx tsx bench/heap-diff.ts bench/results/sp-auth-hs-*.heapsnapshot bench/results/jwt-key-*.heapsnapshot 1000
 *
 * Prints the total difference, then the groups that differ most: e.g.
 * `object:Date 1.00` per socket is one Date each socket keeps.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** count and self size per `type:name` (strings grouped by shape, digits as N, so per-socket ids fold together). */
function groups(file: string): Map<string, [number, number]> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < s.nodes.length; i += fields.length) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!]!;
    if (type.includes('string')) name = name.length > 24 ? `${name.slice(0, 12)}…` : name.replace(/\d+/g, 'N');
    const key = `${type}:${name}`;
    const g = out.get(key) ?? [0, 0];
    g[0]++;
    g[1] += s.nodes[i + iSize]!;
    out.set(key, g);
  }
  return out;
}

const [a, b, perArg = '1000'] = process.argv.slice(2);
if (a === undefined || b === undefined) {
  console.error('usage: tsx bench/heap-diff.ts <snapshot> <baseline snapshot> [sockets]');
  process.exit(2);
}
const per = Number(perArg);
const ga = groups(a);
const gb = groups(b);
const rows: [string, number, number][] = [];
for (const key of new Set([...ga.keys(), ...gb.keys()])) {
  const [ca, sa] = ga.get(key) ?? [0, 0];
  const [cb, sb] = gb.get(key) ?? [0, 0];
  rows.push([key, (ca - cb) / per, (sa - sb) / per]);
}
rows.sort((x, y) => Math.abs(y[2]) - Math.abs(x[2]));
console.log(`${(rows.reduce((t, r) => t + r[2], 0)).toFixed(0)} B per socket in all (code the JIT compiled included)`);
console.log('   B/socket  count/socket  type:name');
for (const [key, count, bytes] of rows.slice(0, 40)) console.log(`${bytes.toFixed(1).padStart(11)}  ${count.toFixed(2).padStart(12)}  ${key}`);
