/**
 * Duplicate recovery under load: many users drop their transport at once and
 * each comes back with the same `pid`/`offset` several times together, as a
 * client with a flaky network (or an attacker replaying a captured session
 * id) does. The in-memory adapter keeps a session after restoring it, so
 * without sockpass's restore-once rule one session became several sockets
 * with one id, and the extra ones, absent from `nsp.sockets`, outlived a
 * revoke with their handlers running. Figures: sessions restored more than
 * once, and sockets that still run a handler after `revoke()` of every user
 * (the ghosts): both must be 0.
 *
 * @module
 */
import type { Socket as ClientSocket } from 'socket.io-client';
import { SockPass, jwtAuth, type Claims } from 'sockpass';
import { eventually } from '../test/helpers/eventually.js';
import { once, outcome, startServer } from '../test/helpers/server.js';
import { hs256, SECRET } from '../test/helpers/tokens.js';
import { sleep } from './clients.js';
import type { Recorder } from './report.js';

const USERS = 60;
/** Clients that present one user's session at once. */
const COPIES = 3;

export async function recoveryGhost(r: Recorder): Promise<void> {
  const auth = new SockPass<Claims>().use('jwt', jwtAuth({ secret: SECRET, algorithms: ['HS256'] }));
  const restoredTimes = new Map<string, number>();
  /** Sockets whose `ping` handler answered after the revoke: each one a ghost. */
  const answeredAfterRevoke = new Set<string>();
  let revoked = false;
  const server = await startServer(
    (io) => {
      io.use(auth.middleware('jwt'));
      auth.onAuthenticated(io, (socket) => {
        if (socket.recovered) restoredTimes.set(socket.id, (restoredTimes.get(socket.id) ?? 0) + 1);
        socket.on('ping', (ack: () => void) => {
          if (revoked) answeredAfterRevoke.add(socket.id);
          ack();
        });
      });
    },
    { connectionStateRecovery: { maxDisconnectionDuration: 30_000, skipMiddlewares: true } },
  );
  const clients: ClientSocket[] = [];
  try {
    const sessions: Array<{ token: string; pid: string; offset: string }> = [];
    for (let i = 0; i < USERS; i++) {
      const token = hs256({ sub: `ghost-${i}` }, { expiresIn: 600 });
      const first = server.client('/', { auth: { token }, reconnection: false });
      clients.push(first);
      if (!(await outcome(first, 15_000)).connected) throw new Error(`user ${i} could not connect`);
      sessions.push({ token, pid: '', offset: '' });
    }
    // One broadcast gives every client an offset to recover from.
    const offsets = clients.map((c) => once(c, 'offset', 10_000));
    server.io.emit('offset', 1);
    await Promise.all(offsets);
    for (const [i, c] of clients.entries()) {
      const s = c as unknown as { _pid: string; _lastOffset: string };
      sessions[i]!.pid = s._pid;
      sessions[i]!.offset = s._lastOffset;
    }
    // Every transport drops at once; the server keeps each session for recovery.
    for (const c of clients) c.io.engine.close();
    await eventually(() => server.io.of('/').sockets.size === 0, { timeout: 15_000 });

    const copies: ClientSocket[] = [];
    for (const s of sessions) {
      for (let k = 0; k < COPIES; k++) copies.push(server.client('/', { auth: { token: s.token, pid: s.pid, offset: s.offset }, reconnection: false }));
    }
    clients.push(...copies);
    const connected = (await Promise.all(copies.map((c) => outcome(c, 15_000)))).filter((o) => o.connected).length;
    r.figure('reconnecting copies admitted', connected, '', { op: '==', limit: USERS * COPIES });
    r.figure('sessions restored more than once', [...restoredTimes.values()].filter((n) => n > 1).length, '', { op: '==', limit: 0 });
    r.figure('sessions restored', restoredTimes.size, '', { op: 'info' });

    revoked = true;
    for (let i = 0; i < USERS; i++) await auth.revoke(server.io, { user: `ghost-${i}` });
    await eventually(() => copies.every((c) => !c.connected), { timeout: 15_000 }).catch(() => undefined);
    r.figure('client sockets still connected after the revoke', copies.filter((c) => c.connected).length, '', { op: '==', limit: 0 });
    // A ghost is a server socket that kept its handlers: ask every copy still able to send, and count who answers.
    for (const c of copies) if (c.connected) c.emit('ping', () => undefined);
    await sleep(300);
    r.figure('ghost sockets answering after the revoke', answeredAfterRevoke.size, '', { op: '==', limit: 0 });
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
}
