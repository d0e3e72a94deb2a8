/**
 * What one `auth.revoke(io, { token })` costs as the node's socket count
 * grows: through the Lifecycle's token index (src/life/token-index.ts) and
 * through the walk it replaced (kept here only, as the reference: every
 * namespace's `local.fetchSockets()` then `fetchSockets()`, matched on
 * `data.auth.tokenId`, after the same ledger record). And the heap the index
 * adds per socket.
 *
 * One process, no network: N real Socket.IO `Socket`s of a real `Server`'s
 * namespace, built as Socket.IO builds them for a connection (only the
 * Engine.IO client below them is a stub that drops packets), are admitted by
 * sockpass (`jwt-auth`, HS256, one token with its own `jti` per socket)
 * through Socket.IO's own steps (`nsp.run`, then `nsp._doConnect`), as
 * bench/handshake-cost.ts does. Then, for N = 1,000 and N = 50,000, CALLS
 * calls of each kind (one kind after the other), each revoking the token of one existing
 * socket (so each cuts exactly one): the median wall time per call, and the
 * ratio of the 50k median to the 1k one (flat for the index, ~50 for the walk).
 *
 * Heap: HEAP_SOCKETS sockets admitted, heap used after forced GCs, then the
 * index emptied (every entry taken out, as at disconnect) and measured again:
 * the difference per socket is what its entries held. The per-socket
 * `indexedToken` field of the socket's state is one more slot on every
 * socket, filed or not (8 bytes on a 64-bit Node without pointer compression).
 *
 * Run: `node --expose-gc --import tsx bench/revoke-token-cost.ts`
 * Knobs: REVOKE_COST_SIZES (default 1000,50000), REVOKE_COST_CALLS (50),
 * REVOKE_COST_HEAP_SOCKETS (10000).
 *
 * @module
 */
import { createServer } from 'node:http';
import { Server, Socket, type Namespace } from 'socket.io';
import { SockPass, jwtAuth } from '../src/index.js';
import { REVOKED_EVENT } from '../src/protocol.js';
import { HS_SECRET, signTokens } from './keys.js';
import { collect, engineClient, loopSocket, type NamespaceInternals } from './loop-sockets.js';
import { env } from './knobs.js';
import { fmt, median, table } from './stats.js';

const SIZES = (process.env.REVOKE_COST_SIZES ?? '1000,50000').split(',').map(Number);
const CALLS = env('REVOKE_COST_CALLS', 50);
const HEAP_SOCKETS = env('REVOKE_COST_HEAP_SOCKETS', 10_000);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench: run with node --expose-gc --import tsx bench/revoke-token-cost.ts');

const registry = () => new SockPass().use('jwt', jwtAuth({ secret: HS_SECRET, algorithms: ['HS256'] }));

interface Node {
  io: Server;
  auth: ReturnType<typeof registry>;
  /** The token id of each admitted socket still connected, in admission order. */
  jtis: string[];
}

/** A Server whose `/` holds `count` sockets admitted by sockpass, each with its own token and `jti`. */
async function node(count: number): Promise<Node> {
  const io = new Server(createServer());
  const auth = registry();
  io.use(auth.middleware('jwt'));
  const namespace = io.of('/');
  const nsp = namespace as unknown as NamespaceInternals;
  const client = engineClient();
  const sockets = signTokens(count, 'HS256', '').map((token) => loopSocket(namespace, client, { token }));
  let admitted = 0;
  for (const socket of sockets) {
    nsp.run(socket, (err) => {
      if (err !== undefined) throw new Error(`bench: a socket was refused: ${err.message}`);
      admitted++;
    });
  }
  while (admitted < sockets.length) await new Promise((r) => setImmediate(r));
  for (const socket of sockets) nsp._doConnect(socket, () => {});
  const jtis = sockets.map((s) => (s.data.auth as { tokenId: string }).tokenId);
  if (namespace.sockets.size !== count || auth.lifecycle.tokens.size !== count) throw new Error('bench: not every socket was admitted and filed');
  return { io, auth, jtis };
}

/**
 * The walk `revoke({ token })` did before the index: the ledger record, then
 * every namespace this registry admitted a socket on, and `/`: this node's
 * sockets (`local.fetchSockets()`), then every node's (`fetchSockets()`),
 * each matched on `data.auth.tokenId` and told, then disconnected.
 */
async function revokeByWalk(n: Node, tokenId: string): Promise<void> {
  const life = n.auth.lifecycle;
  const at = Date.now();
  await life.ledger.record({ kind: 'token', id: tokenId, at, until: at + 3_600_000 });
  const notice = { code: 'token_revoked', message: 'credentials have been revoked', action: 'login' };
  const targets = new Set<Namespace>(life.namespaces.values() as Iterable<unknown> as Iterable<Namespace>);
  targets.add(n.io.of('/'));
  const cut = (sockets: ReadonlyArray<{ data: Record<string, unknown>; emit(e: string, ...a: unknown[]): unknown; disconnect(): unknown }>) => {
    for (const socket of sockets) {
      if ((socket.data?.auth as { tokenId?: unknown } | undefined)?.tokenId !== tokenId) continue;
      socket.emit(REVOKED_EVENT, notice);
      socket.disconnect();
    }
  };
  for (const nsp of targets) cut(await nsp.local.fetchSockets());
  for (const nsp of targets) cut(await nsp.fetchSockets());
}

/** Wall ms of one call, after checking it cut exactly the socket whose token it named. */
async function timed(n: Node, revoke: (tokenId: string) => Promise<void>): Promise<number> {
  // Spread over the sockets, never the same one twice.
  const tokenId = n.jtis.splice(Math.floor(Math.random() * n.jtis.length), 1)[0]!;
  const before = n.io.of('/').sockets.size;
  const start = performance.now();
  await revoke(tokenId);
  const ms = performance.now() - start;
  if (n.io.of('/').sockets.size !== before - 1) throw new Error('bench: a revoke did not cut exactly one socket');
  return ms;
}

const medians = new Map<number, { index: number; walk: number }>();
for (const size of SIZES) {
  await collect(20);
  const n = await node(size);
  const byIndex: number[] = [];
  const byWalk: number[] = [];
  // Warm-up: JIT, the ledger's first entries.
  for (let i = 0; i < 5; i++) {
    await timed(n, (id) => n.auth.revoke(n.io, { token: id }));
    await timed(n, (id) => revokeByWalk(n, id));
  }
  // Not interleaved: the walk's garbage (two arrays of N sockets per call) would bring GCs into the index's calls.
  await collect(20);
  for (let i = 0; i < CALLS; i++) byIndex.push(await timed(n, (id) => n.auth.revoke(n.io, { token: id })));
  await collect(20);
  for (let i = 0; i < CALLS; i++) byWalk.push(await timed(n, (id) => revokeByWalk(n, id)));
  medians.set(size, { index: median(byIndex), walk: median(byWalk) });
  n.io.close();
  process.stderr.write(`${size} sockets done\n`);
}

console.log(`\nrevoke({ token }): median wall ms per call over ${CALLS} calls, each cutting one socket of N (one node, in-memory adapter)`);
const first = medians.get(SIZES[0]!)!;
const last = medians.get(SIZES[SIZES.length - 1]!)!;
console.log(
  table(
    ['', ...SIZES.map((s) => `N = ${s.toLocaleString('en')}`), `ratio ${SIZES[SIZES.length - 1]} / ${SIZES[0]}`],
    [
      ['token index', ...SIZES.map((s) => fmt(medians.get(s)!.index, 3)), (last.index / first.index).toFixed(2)],
      ['fetchSockets walk (before)', ...SIZES.map((s) => fmt(medians.get(s)!.walk, 3)), (last.walk / first.walk).toFixed(2)],
      ['walk / index', ...SIZES.map((s) => (medians.get(s)!.walk / medians.get(s)!.index).toFixed(1)), ''],
    ],
  ),
);

// Heap: the index's entries for HEAP_SOCKETS filed sockets, emptied and filed again three times (median).
await collect(20);
const n = await node(HEAP_SOCKETS);
const life = n.auth.lifecycle;
const filed = [...n.io.of('/').sockets.values()].flatMap((socket) => life.tokens.holders((socket.data.auth as { tokenId: string }).tokenId));
const perSocket: number[] = [];
let heapFiled = 0;
let heapEmptied = 0;
for (let round = 0; round < 3; round++) {
  await collect(20);
  heapFiled = process.memoryUsage().heapUsed;
  // Every socket out of the index, as its disconnect would take it; the sockets stay.
  for (const state of filed) {
    life.tokens.delete(state.indexedToken!, state);
  }
  if (life.tokens.size !== 0) throw new Error('bench: the index did not empty');
  await collect(20);
  heapEmptied = process.memoryUsage().heapUsed;
  perSocket.push((heapFiled - heapEmptied) / HEAP_SOCKETS);
  for (const state of filed) life.tokens.add(state.indexedToken!, state);
}
console.log(
  `\nheap after GC with ${HEAP_SOCKETS.toLocaleString('en')} sockets: ${fmt(median(perSocket), 1)} bytes per socket for the index's entries ` +
    `(median of ${perSocket.map((b) => fmt(b, 1)).join(', ')}; ${fmt(heapFiled / 1048576, 1)} MB filed, ${fmt(heapEmptied / 1048576, 1)} MB emptied), ` +
    `plus the state's indexedToken slot (8 bytes)`,
);
n.io.close();
process.exit(0);
