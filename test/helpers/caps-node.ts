/**
 * One sockpass node as its own process, for tests that kill a node
 * (SIGKILL: no cleanup, no release, no lease ended): Socket.IO with the Redis
 * adapter and a connection cap counted in Redis. Configured by environment
 * (REDIS_URL for the adapter, and for the counter too unless CLUSTER_URLS names
 * the masters of a Redis Cluster; PER_USER, ON_EXCEED, NODE_TTL); prints `{"port":…}` on stdout
 * once it listens.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient, createCluster } from 'redis';
import { Server } from 'socket.io';
import { SockPass, jwtAuth, redisConnectionCounter, type OnExceed } from '../../src/index.js';
import { SECRET } from './tokens.js';

const url = process.env.REDIS_URL!;
const pub = createClient({ url });
const sub = pub.duplicate();
const cluster = process.env.CLUSTER_URLS;
const client = cluster ? createCluster({ rootNodes: cluster.split(',').map((u) => ({ url: u })) }) : pub.duplicate();
for (const c of [pub, sub, client]) c.on('error', () => undefined);
await Promise.all([pub.connect(), sub.connect(), client.connect()]);

const auth = new SockPass<{ id: string }>({
  connections: {
    perUser: Number(process.env.PER_USER ?? 2),
    onExceed: (process.env.ON_EXCEED ?? 'refuse') as OnExceed,
    store: redisConnectionCounter({ client, nodeTtl: Number(process.env.NODE_TTL ?? 15_000) }),
  },
}).use('jwt-auth', jwtAuth({ secret: SECRET, algorithms: ['HS256'], user: (c) => ({ id: String(c.sub) }) }));

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub) });
io.use(auth.middleware('jwt-auth'));
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port })}\n`);
});
