/**
 * The cluster example in one command: two node processes (`node.ts`) on one
 * Redis, and a scripted demo that shows a revoke issued on node A reaching
 * sockets held by node B.
 *
 *   npx tsx examples/cluster/start.ts          # demo, then keep both nodes running (Ctrl-C stops all)
 *   npx tsx examples/cluster/start.ts --demo   # demo, then exit (0: every step behaved)
 *
 * With `REDIS_URL` set it uses that Redis; otherwise it starts a private
 * `redis-server` from PATH on a free loopback port (no persistence) and stops
 * it on exit. The library is imported `from 'sockpass'` (the package itself;
 * build it with `npx tsup` for dist/, or run through tsx, which maps it to
 * src/). The folder needs nothing else from the repository: copied out with a
 * package.json that depends on sockpass and the packages it imports, it runs
 * the same (`node --import tsx start.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { reconnectWithFreshToken, type ClientAuthError } from 'sockpass/client';
import { SESSION_COOKIE } from './node.js';
import { startPrivateRedis, type PrivateRedis } from './redis-server.js';

const demoOnly = process.argv.includes('--demo');
const children: ChildProcess[] = [];
let redis: PrivateRedis | undefined;

async function main(): Promise<boolean> {
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '') {
    redis = await startPrivateRedis();
    redisUrl = redis.url;
    console.log(`started redis-server on ${redisUrl}`);
  }
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(32).toString('hex'),
    SESSION_SECRET: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
  };
  const [a, b] = await Promise.all([launch('A', env, process.env.PORT_A), launch('B', env, process.env.PORT_B)]);
  console.log(`node A: ${a}\nnode B: ${b}`);
  const ok = await demo(a, b);
  console.log(ok ? '\ndemo: every step behaved' : '\ndemo: a step failed');
  return ok;
}

/** Starts one node process and resolves with its URL. */
function launch(name: string, env: NodeJS.ProcessEnv, port = '0'): Promise<string> {
  const script = fileURLToPath(new URL('./node.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...env, NODE_NAME: name, PORT: port },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start`)), 45_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`node ${name} exited with ${code}`)));
  });
}

async function post(url: string, body: object, cookie?: string): Promise<{ body: Record<string, string>; cookie?: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  const setCookie = res.headers.get('set-cookie') ?? undefined;
  return { body: (await res.json()) as Record<string, string>, cookie: setCookie?.split(';')[0] };
}

interface Watched {
  label: string;
  socket: Socket;
  stoppedWith?: string;
  cutAt?: number;
}

/** Connects a demo client to `url` over websocket only; reconnects with a fresh token unless refused for good. */
function connect(label: string, url: string, auth: { token?: string; cookie?: string }, getToken: () => Promise<string>): Promise<Watched> {
  const socket = io(url, {
    transports: ['websocket'],
    autoConnect: false,
    forceNew: true,
    ...(auth.cookie ? { extraHeaders: { cookie: auth.cookie } } : {}),
  });
  const watched: Watched = { label, socket };
  if (auth.token !== undefined) {
    reconnectWithFreshToken(socket, { getToken, onStop: (err: ClientAuthError) => (watched.stoppedWith = err.code) });
  } else {
    socket.on('auth:revoked', (n: { code: string }) => (watched.stoppedWith = n.code));
  }
  socket.on('disconnect', () => (watched.cutAt = Date.now()));
  socket.on('hello', (h: { node: string; strategy: string }) => console.log(`  ${label}: connected to node ${h.node} (${h.strategy})`));
  socket.connect();
  return new Promise((resolve, reject) => {
    socket.once('hello', () => resolve(watched));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => reject(new Error(`${label}: ${err.data?.code ?? err.message}`)));
  });
}

/** One handshake with `token`: `connected`, or the refusal's code. */
function refusal(url: string, token: string): Promise<string> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } });
  return new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', (err: Error & { data?: { code?: string } }) => resolve(err.data?.code ?? err.message));
  }).finally(() => socket.disconnect());
}

async function demo(a: string, b: string): Promise<boolean> {
  let ok = true;
  const check = (what: string, cond: boolean) => {
    console.log(`  ${cond ? 'ok  ' : 'FAIL'} ${what}`);
    ok &&= cond;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  console.log('\n1. alice and bob log in on node A; their sockets connect to node B');
  const alice = await post(`${a}/login`, { user: 'alice' });
  const bob = await post(`${a}/login`, { user: 'bob' });
  const freshToken = (user: string) => async () => (await post(`${a}/login`, { user })).body.token!;
  const aliceToken = await connect('alice (token)', b, { token: alice.body.token }, freshToken('alice'));
  const aliceCookie = await connect('alice (cookie)', b, { cookie: alice.cookie }, freshToken('alice'));
  const bobToken = await connect('bob (token)', b, { token: bob.body.token }, freshToken('bob'));

  console.log('\n2. a broadcast from node A reaches node B\'s sockets (redis adapter)');
  const news = new Promise<string>((resolve) => bobToken.socket.once('news', (n: { from: string }) => resolve(n.from)));
  await post(`${a}/broadcast`, { text: 'hello cluster' });
  check('bob on node B got news from node A', (await Promise.race([news, sleep(2000).then(() => 'nothing')])) === 'A');

  console.log('\n3. revoke alice on node A');
  const revokedAt = Date.now();
  await post(`${a}/revoke`, { user: 'alice', reason: 'account suspended' });
  await sleep(1000);
  for (const w of [aliceToken, aliceCookie]) {
    const ms = w.cutAt === undefined ? undefined : w.cutAt - revokedAt;
    check(`${w.label} on node B cut in ${ms ?? '—'} ms, told ${w.stoppedWith ?? 'nothing'}`, ms !== undefined && ms < 1000 && w.stoppedWith === 'token_revoked');
  }
  check('bob on node B still connected', bobToken.socket.connected);
  // The revocation ledger (Redis, mirrored on every node) keeps her out afterwards, on every node.
  for (const [name, url] of [['B', b], ['A', a]] as const) {
    const code = await refusal(url, alice.body.token!);
    check(`alice's token from before the revoke, on node ${name}: refused with ${code}`, code === 'token_revoked');
  }
  const again = await post(`${a}/login`, { user: 'alice' });
  const code = await refusal(b, again.body.token!);
  check(`alice's token from a new login, on node B: ${code}`, code === 'connected');

  console.log('\n4. bob logs out through node A: his cookie socket on node B goes with the session');
  const bobCookie = await connect('bob (cookie)', b, { cookie: bob.cookie }, freshToken('bob'));
  const loggedOutAt = Date.now();
  await post(`${a}/logout`, {}, bob.cookie);
  await sleep(1000);
  check(`bob (cookie) cut in ${bobCookie.cutAt === undefined ? '—' : bobCookie.cutAt - loggedOutAt} ms`, bobCookie.cutAt !== undefined && bobCookie.cutAt - loggedOutAt < 1000);
  check('bob (token) still connected: only that session ended', bobToken.socket.connected);

  console.log('\n5. node B\'s metrics for Prometheus (GET /metrics)');
  const exposition = await (await fetch(`${b}/metrics`)).text();
  const handshakes = exposition.split('\n').filter((line) => line.startsWith('sockpass_handshakes_total{'));
  for (const line of handshakes) console.log(`  ${line}`);
  check('node B counts its handshakes by strategy and outcome', handshakes.some((l) => /strategy="jwt-auth",outcome="success"[^}]*} [1-9]/.test(l)));
  check('node B exposes the handshake latency histogram', exposition.includes('sockpass_handshake_duration_bucket'));

  for (const w of [aliceToken, aliceCookie, bobToken, bobCookie]) w.socket.disconnect();
  return ok;
}

async function shutdown(code: number): Promise<never> {
  await Promise.all(
    children.map((c) => (c.exitCode !== null ? undefined : new Promise<void>((resolve) => (c.once('exit', () => resolve()), c.kill('SIGTERM'))))),
  );
  await redis?.stop();
  process.exit(code);
}

process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));
main().then(
  (ok) => {
    if (demoOnly) return void shutdown(ok ? 0 : 1);
    console.log(`\nnodes keep running: try it, e.g.\n  curl -s -XPOST -H 'content-type: application/json' -d '{"user":"carol"}' ${'<node A>'}/login\nCtrl-C stops everything (cookie name: ${SESSION_COOKIE}).`);
  },
  (err: unknown) => {
    console.error(err);
    void shutdown(1);
  },
);
