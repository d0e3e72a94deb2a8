/**
 * Where the bench's processes run: on Linux with `taskset` and at least two
 * CPUs this process may use, every scenario server runs on one CPU and the
 * client drivers (and the orchestrator) on another, so the clients' work does
 * not take turns with the server being measured on the same core. Elsewhere,
 * or with BENCH_PIN=0, nothing is pinned and the report says so.
 *
 * A child is pinned by starting it under `taskset -c <cpu>`, so node's own
 * threads (libuv's pool, V8's workers), created after exec, inherit the CPU.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Placement {
  /** CPU of every scenario server; undefined when nothing is pinned. */
  server?: number;
  /** CPU of the client drivers and of the orchestrator. */
  clients?: number;
  /** One line for the report's machine line. */
  note: string;
}

/** The CPUs this process may run on (Linux: `Cpus_allowed_list` of /proc/self/status), or [] when unknown. */
export function allowedCpus(status: string): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (list === undefined) return [];
  const cpus: number[] = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to)) return [];
    for (let cpu = from!; cpu <= to!; cpu++) cpus.push(cpu);
  }
  return cpus;
}

function decide(): Placement {
  if (process.env.BENCH_PIN === '0') return { note: 'not pinned (BENCH_PIN=0)' };
  if (process.platform !== 'linux') return { note: 'not pinned (not Linux)' };
  if (spawnSync('taskset', ['--version']).error !== undefined) return { note: 'not pinned (no taskset)' };
  let cpus: number[] = [];
  try {
    cpus = allowedCpus(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    // no /proc: leave cpus empty
  }
  if (cpus.length < 2) return { note: `not pinned (${cpus.length === 0 ? 'allowed CPUs unknown' : 'one CPU'})` };
  const [clients, server] = [cpus[0]!, cpus[cpus.length - 1]!];
  return { server, clients, note: `servers pinned to CPU ${server}, client drivers and orchestrator to CPU ${clients} (taskset)` };
}

export const PLACEMENT: Placement = decide();

/** The command words to put in front of node for a child on `cpu` (none when unpinned). */
export const pinnedTo = (cpu: number | undefined): string[] => (cpu === undefined ? [] : ['taskset', '-c', String(cpu)]);

/** Moves this process, all its threads, to the clients' CPU (no-op when unpinned). */
export function pinOrchestrator(): void {
  if (PLACEMENT.clients === undefined) return;
  const result = spawnSync('taskset', ['-a', '-p', '-c', String(PLACEMENT.clients), String(process.pid)], { stdio: 'ignore' });
  if (result.status !== 0) process.stderr.write(`bench: could not pin the orchestrator to CPU ${PLACEMENT.clients}; it runs unpinned\n`);
}
