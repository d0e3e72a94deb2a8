/**
 * Room policies: which socket may be in which room. A policy maps room names
 * (exact, `prefix*`, or `*`) to a rule, as `auth.guard`'s maps event names:
 * `true` opens the room to every socket, `false` closes it, a predicate
 * `(auth, room) => boolean | Promise<boolean>` opens it to the authenticated
 * sockets it approves of (a throw or a rejection refuses). Precedence: the
 * exact name, then the longest matching `prefix*`, then `*`. Unlike a guard,
 * a room no rule matches is refused: a room policy is an allowlist.
 *
 * Anonymous and not-yet-authenticated sockets never pass a predicate.
 * `claimRooms(claim)` is the built-in predicate for capabilities carried in
 * the token: the claim lists room patterns (`["chat:*", "org:42"]`).
 *
 * This file only compiles and evaluates policies; where joins are
 * intercepted and what a refusal tells whom lives in `room-gate.ts`.
 *
 * @module
 */
import createDebug from 'debug';
import type { SocketAuth } from '../types.js';

const debug = createDebug('sockpass:rooms');

/** Decides whether an authenticated socket may be in `room`. Throwing or rejecting counts as a refusal. */
export type RoomPredicate<U> = (auth: SocketAuth<U>, room: string) => boolean | Promise<boolean>;
/** One entry of a {@link RoomPolicy}: a predicate, or `true` (allow) / `false` (refuse). */
export type RoomRule<U> = RoomPredicate<U> | boolean;
/** Room name (exact, `prefix*` or `*`) → rule. A room no rule matches is refused. */
export type RoomPolicy<U> = Readonly<Record<string, RoomRule<U>>>;

/** A policy prepared once: the rule of a room, and the verdict for a socket's credential. */
export interface CompiledRoomPolicy<U> {
  /** The rule that governs `room` (`false` when none matches). */
  ruleFor(room: string): RoomRule<U>;
  /**
   * Whether a socket with `auth` (undefined: not authenticated) may be in
   * `room`: a boolean when the rule answers at once, a promise for an async
   * predicate. Never rejects.
   */
  allows(auth: SocketAuth<U> | undefined, room: string): boolean | Promise<boolean>;
}

/** Bound on the per-policy cache of room names, so clients inventing names cannot grow it. */
const CACHE_LIMIT = 4096;

/**
 * @example
 * ```ts
 * const policy = compileRoomPolicy({ 'lobby': true, 'chat:*': claimRooms('rooms'), 'admin': (a) => a.claims.role === 'admin' });
 * policy.allows(socket.data.auth, 'chat:7'); // true when the token's `rooms` claim lists "chat:*" or "chat:7"
 * ```
 */
export function compileRoomPolicy<U>(policy: RoomPolicy<U>): CompiledRoomPolicy<U> {
  if (typeof policy !== 'object' || policy === null) throw new TypeError('sockpass: rooms(target, policy) takes an object of room → rule');
  const exact = new Map<string, RoomRule<U>>();
  const prefixes: Array<[string, RoomRule<U>]> = [];
  let fallback: RoomRule<U> = false;
  for (const [pattern, rule] of Object.entries(policy)) {
    if (typeof rule !== 'function' && typeof rule !== 'boolean') {
      throw new TypeError(`sockpass: room rule for "${pattern}" must be a function or a boolean`);
    }
    const star = pattern.indexOf('*');
    if (star === -1) exact.set(pattern, rule);
    else if (star !== pattern.length - 1) throw new TypeError(`sockpass: room pattern "${pattern}" may only end with *`);
    else if (pattern === '*') fallback = rule;
    else prefixes.push([pattern.slice(0, -1), rule]);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const cache = new Map<string, RoomRule<U>>();

  const ruleFor = (room: string): RoomRule<U> => {
    const cached = cache.get(room);
    if (cached !== undefined) return cached;
    let rule = exact.get(room);
    if (rule === undefined) {
      for (const [prefix, r] of prefixes) {
        if (room.startsWith(prefix)) {
          rule = r;
          break;
        }
      }
    }
    rule ??= fallback;
    if (cache.size < CACHE_LIMIT) cache.set(room, rule);
    return rule;
  };

  return {
    ruleFor,
    allows(auth, room) {
      const rule = ruleFor(room);
      if (typeof rule === 'boolean') return rule;
      if (auth === undefined || auth === null || auth.anonymous) return false;
      return ask(rule, auth, room);
    },
  };
}

/** Runs a predicate: only a literal `true` admits; a throw or a rejection refuses. */
function ask<U>(rule: RoomPredicate<U>, auth: SocketAuth<U>, room: string): boolean | Promise<boolean> {
  let answer: boolean | Promise<boolean>;
  try {
    answer = rule(auth, room);
  } catch (err) {
    debug('room predicate for %s threw: %s', room, (err as Error)?.message);
    return false;
  }
  if (typeof (answer as Promise<boolean> | null)?.then !== 'function') return answer === true;
  return Promise.resolve(answer).then(
    (value) => value === true,
    (err: unknown) => {
      debug('room predicate for %s rejected: %s', room, (err as Error)?.message);
      return false;
    },
  );
}

/** True when `room` matches `pattern`: the exact name, `prefix*`, or `*`. */
export function roomMatches(pattern: string, room: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*') && pattern.indexOf('*') === pattern.length - 1) return room.startsWith(pattern.slice(0, -1));
  return pattern === room;
}

/**
 * A predicate that admits the rooms a claim of the credential lists, as
 * patterns (`["chat:*", "org:42"]`; `*` only at the end). A claim that is
 * missing or not a list of strings admits nothing. For a refresh to take a
 * room away, issue the new token without it: membership is judged again
 * after every refresh.
 *
 * @example
 * ```ts
 * auth.rooms(io, { 'chat:*': claimRooms('rooms'), 'org:*': claimRooms('rooms') });
 * // a token { sub: 'ann', rooms: ['chat:*', 'org:42'] } may join chat:general and org:42, not org:43
 * ```
 */
export function claimRooms<U = unknown>(claim = 'rooms'): RoomPredicate<U> {
  if (typeof claim !== 'string' || claim === '') throw new TypeError('sockpass: claimRooms(claim) takes a claim name');
  return function roomsInClaim(auth, room) {
    const patterns = Object.prototype.hasOwnProperty.call(auth.claims, claim) ? auth.claims[claim] : undefined;
    if (!Array.isArray(patterns)) return false;
    for (const pattern of patterns) if (typeof pattern === 'string' && roomMatches(pattern, room)) return true;
    return false;
  };
}
