/**
 * The orchestrator's child processes: starting a scenario's server
 * (bench/server.ts) or a client driver (bench/clients.ts), talking to each
 * over IPC with a bounded wait, and stopping whatever is left at the end.
 * Shared by the round phases (bench/run.ts) and the scale phase
 * (bench/scale.ts).
 *
 * A child that must hold many sockets gets its open-file limit raised
 * (`ulimit -n`, up to the hard limit) by a `sh` in front of node; servers and
 * client drivers are pinned to their CPUs (bench/placement.ts) by a `taskset`
 * in front of node.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request, type ClientReply, type ClientRequest, type Envelope, type ServerReply, type ServerRequest } from './protocol.js';
import { PLACEMENT, pinnedTo } from './placement.js';
import type { Scenario } from './scenarios.js';

const REQUEST_TIMEOUT_MS = 120_000;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
export const RESULTS_DIR = here('./results/');

export interface ServerHandle {
  scenario: Scenario;
  child: ChildProcess;
  url: string;
}

const children = new Set<ChildProcess>();

export function stopChildren(): void {
  for (const child of children) if (child.exitCode === null) child.kill();
}

/** Resolves once every child has exited, or after `ms`. */
export function childrenExited(ms: number): Promise<unknown> {
  const exited = [...children].map((child) => new Promise((r) => child.once('exit', r)));
  return Promise.race([Promise.all(exited), new Promise((r) => setTimeout(r, ms))]);
}

/** The hard open-file limit of this process (children inherit it), or Infinity when unknown. */
export function hardFileLimit(): number {
  try {
    const line = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? Number.POSITIVE_INFINITY : Number(line);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

interface SpawnOptions {
  execArgv?: string[];
  env?: Record<string, string>;
  /** Open files the child needs: its soft limit is raised to this (never past the hard limit). */
  files?: number;
  /** The CPU the child (all its threads) runs on; anywhere when undefined. */
  cpu?: number;
}

function spawn(file: string, args: string[], { execArgv = [], env = {}, files, cpu }: SpawnOptions): ChildProcess {
  const nodeArgv = ['--import', 'tsx', ...execArgv];
  // Commands that exec the next word in turn, e.g. `sh -c 'ulimit -n N && exec "$0" "$@"' taskset -c 1 node <node args>`;
  // fork() appends the file and its args.
  const wrappers = [...(files === undefined ? [] : ['/bin/sh', '-c', `ulimit -n ${files} && exec "$0" "$@"`]), ...pinnedTo(cpu)];
  const command = wrappers.length === 0 ? {} : { execPath: wrappers[0]!, execArgv: [...wrappers.slice(1), process.execPath, ...nodeArgv] };
  const child = fork(here(file), args, {
    execArgv: nodeArgv,
    ...command,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface ServerOptions {
  publicKey: string;
  /** Scenario ids whose server writes a .cpuprofile into bench/results/. */
  cpuProf?: readonly string[];
  files?: number;
  /** More environment for the server (the cluster phase's Redis). */
  env?: Record<string, string>;
}

/** Starts a scenario's server; resolves with its URL, or with the reason it skips. */
export function startServer(scenario: Scenario, { publicKey, cpuProf = [], files, env = {} }: ServerOptions, envName: string): Promise<ServerHandle | string> {
  const execArgv = ['--expose-gc'];
  if (cpuProf.includes(scenario.id)) execArgv.push('--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`);
  const child = spawn('./server.ts', [scenario.id], { execArgv, env: { ...env, [envName]: publicKey }, files, cpu: PLACEMENT.server });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench: server ${scenario.id} did not start`)), 60_000);
    const onExit = (code: number | null) => reject(new Error(`bench: server ${scenario.id} exited (${code}) while starting`));
    child.once('exit', onExit);
    child.on('message', function onReady(msg: Envelope<ServerReply>) {
      if (msg.id !== 0) return;
      clearTimeout(timer);
      child.off('message', onReady);
      child.off('exit', onExit);
      if (msg.body.type === 'ready') resolve({ scenario, child, url: `http://127.0.0.1:${msg.body.port}` });
      else if (msg.body.type === 'skip') {
        child.kill();
        resolve(msg.body.reason);
      } else reject(new Error(`bench: unexpected first message from ${scenario.id}`));
    });
  });
}

/** Starts a client driver; `cpuProf` writes its .cpuprofile into bench/results/ at exit. */
export function startClients(files?: number, cpuProf = false): ChildProcess {
  const execArgv = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`] : [];
  return spawn('./clients.ts', [], { files, cpu: PLACEMENT.clients, execArgv });
}

/** A request to a server; `ms` bounds the wait (default 2 minutes). */
export const toServer = <T extends ServerReply['type']>(s: ServerHandle, body: ServerRequest, ms = REQUEST_TIMEOUT_MS) =>
  request<ServerRequest, Extract<ServerReply, { type: T }>>(s.child, body, ms);

export const toClients = <T extends ClientReply['type']>(clients: ChildProcess, body: ClientRequest, ms = REQUEST_TIMEOUT_MS) =>
  request<ClientRequest, Extract<ClientReply, { type: T }>>(clients, body, ms);

/** Closes every driver's sockets and waits until the server has let go of every one. */
export async function drain(server: ServerHandle, drivers: readonly ChildProcess[]): Promise<void> {
  await Promise.all(drivers.map((d) => toClients<'ok'>(d, { type: 'disconnect-all' })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { sockets } = await toServer<'count'>(server, { type: 'count' });
    if (sockets === 0) return;
    if (Date.now() > deadline) throw new Error(`bench: ${server.scenario.id} still holds ${sockets} sockets`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Asks a server to exit, then waits for it (a --cpu-prof profile is written at exit). */
export async function closeServer(server: ServerHandle): Promise<void> {
  const exited = new Promise((r) => server.child.once('exit', r));
  await toServer<'ok'>(server, { type: 'close' }).catch(() => undefined);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
}
