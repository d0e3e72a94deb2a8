/**
 * Per-event authorization for `socket.use`: a policy maps event names (exact,
 * `prefix*` wildcards, or `*`) to a predicate on `socket.data.auth`. A refused
 * event never reaches its handler; its ack, if it has one, gets
 * `{ error: { code: 'forbidden', message, action: 'stop' } }`, and the client gets
 * `auth:forbidden` `{ event, code, message, action }`. The socket stays connected.
 *
 * Built for the hot path: the policy is compiled once (exact names in a Map,
 * wildcards longest-prefix first) and each event's rule is cached, so an
 * allowed event costs a Map lookup and the predicate, with no allocation.
 *
 * Rules: `true` opens an event to every socket, `false` closes it; a
 * predicate opens it to authenticated sockets it approves of. Anonymous and
 * not-yet-authenticated sockets never pass a predicate. Events no rule
 * matches pass (add `'*': false` to close them). The in-band authentication
 * events (`auth:refresh`, an event strategy's `authenticate`) are never guarded,
 * nor the room requests (`auth:join`, `auth:leave`): a room policy judges those.
 *
 * @module
 */
import createDebug from 'debug';
import { CLIENT_ACTIONS } from '../errors.js';
import type { SocketLike } from '../socketio.js';
import type { SocketAuth } from '../types.js';
import { FORBIDDEN_EVENT, JOIN_EVENT, LEAVE_EVENT, REFRESH_EVENT, type ForbiddenNotice } from '../protocol.js';

const debug = createDebug('sockpass:guard');

/** Decides whether an authenticated socket may send `event`. Throwing counts as a refusal. */
export type GuardPredicate<U> = (auth: SocketAuth<U>, event: string) => boolean;
/** One entry of a {@link GuardPolicy}: a predicate, or `true` (allow) / `false` (refuse). */
export type GuardRule<U> = GuardPredicate<U> | boolean;
/** Event name (exact, `prefix*` or `*`) → rule. */
export type GuardPolicy<U> = Readonly<Record<string, GuardRule<U>>>;

/** Socket.IO's `socket.use` middleware: the packet is `[event, ...args, ack?]`. */
export type PacketMiddleware = (packet: unknown[], next: (err?: Error) => void) => void;

/** What `auth.guard(policy)` returns: call it with a socket to get that socket's `socket.use` middleware. */
export type Guard = (socket: object) => PacketMiddleware;

/** Cached rule meaning "no rule matched". */
const OPEN = true;
/** Bound on the per-guard cache of event names, so hostile clients inventing names cannot grow it. */
const CACHE_LIMIT = 4096;

/**
 * @example
 * ```ts
 * const guard = auth.guard({
 *   'admin:*': (a) => a.claims.role === 'admin',
 *   'chat:send': (a) => Array.isArray(a.claims.scope) && a.claims.scope.includes('chat'),
 *   'feed:read': true,
 * });
 * io.on('connection', (socket) => socket.use(guard(socket)));
 * ```
 */
export function createGuard<U>(policy: GuardPolicy<U>, exempt: Iterable<string> = []): Guard {
  if (typeof policy !== 'object' || policy === null) throw new TypeError('sockpass: guard(policy) takes an object of event → rule');
  const exact = new Map<string, GuardRule<U>>();
  const prefixes: Array<[string, GuardRule<U>]> = [];
  let fallback: GuardRule<U> = OPEN;
  for (const [pattern, rule] of Object.entries(policy)) {
    if (typeof rule !== 'function' && typeof rule !== 'boolean') {
      throw new TypeError(`sockpass: guard rule for "${pattern}" must be a function or a boolean`);
    }
    const star = pattern.indexOf('*');
    if (star === -1) exact.set(pattern, rule);
    else if (star !== pattern.length - 1) throw new TypeError(`sockpass: guard pattern "${pattern}" may only end with *`);
    else if (pattern === '*') fallback = rule;
    else prefixes.push([pattern.slice(0, -1), rule]);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  // Room requests are judged by the namespace's room policy, not by event guards.
  const skip = new Set<string>([REFRESH_EVENT, JOIN_EVENT, LEAVE_EVENT, ...exempt]);
  const cache = new Map<string, GuardRule<U>>();

  const ruleFor = (event: string): GuardRule<U> => {
    const cached = cache.get(event);
    if (cached !== undefined) return cached;
    let rule: GuardRule<U> | undefined = skip.has(event) ? OPEN : exact.get(event);
    if (rule === undefined) {
      for (const [prefix, r] of prefixes) {
        if (event.startsWith(prefix)) {
          rule = r;
          break;
        }
      }
    }
    rule ??= fallback;
    if (cache.size < CACHE_LIMIT) cache.set(event, rule);
    return rule;
  };

  return function guardFor(target) {
    const socket = target as SocketLike;
    return function sockpassGuard(packet, next) {
      // socket.io-parser also accepts numbers (`42[7,"x"]`), and EventEmitter hands
      // those to the '7' listener: judge the name that listener will see.
      const event = typeof packet[0] === 'string' ? packet[0] : String(packet[0]);
      const rule = ruleFor(event);
      if (rule === true) return next();
      if (rule !== false) {
        const auth = socket.data.auth as SocketAuth<U> | undefined;
        if (auth !== undefined && auth !== null && !auth.anonymous && allows(rule, auth, event)) return next();
      }
      refuse(socket, packet, event);
    };
  };
}

function allows<U>(rule: GuardPredicate<U>, auth: SocketAuth<U>, event: string): boolean {
  try {
    return rule(auth, event) === true;
  } catch (err) {
    debug('guard predicate for %s threw: %s', event, (err as Error)?.message);
    return false;
  }
}

function refuse(socket: SocketLike, packet: unknown[], event: string): void {
  debug('socket %s: %s refused', socket.id, event);
  const message = `not allowed to send ${event.length > 100 ? event.slice(0, 100) + '…' : event}`;
  const ack = packet.length > 1 ? packet[packet.length - 1] : undefined;
  if (typeof ack === 'function') ack({ error: { code: 'forbidden', message, action: CLIENT_ACTIONS.forbidden } });
  const notice: ForbiddenNotice = { event, code: 'forbidden', message, action: CLIENT_ACTIONS.forbidden };
  socket.emit(FORBIDDEN_EVENT, notice);
}
