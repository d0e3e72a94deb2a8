import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLedger, type CredentialFacts, type Revocation, type RevocationKind, type RevocationLedger } from 'sockpass';
import { MemoryLedger } from '../../src/revocation/ledger.js';

const HOUR = 3_600_000;
const open: RevocationLedger[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

/** A ledger on a clock the test moves. */
function ledgerAt(start: number, options: { maxEntries?: number } = {}) {
  const clock = { now: start };
  const ledger = new MemoryLedger({ ...options, now: () => clock.now });
  open.push(ledger);
  return { ledger, clock };
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 500);

describe('memoryLedger', () => {
  it('refuses every credential of a revoked user issued at or before the revocation, and admits later ones', async () => {
    const { ledger } = ledgerAt(T0);
    await ledger.record({ kind: 'user', id: 'alice', at: T0, until: T0 + HOUR });
    const iatMs = (iat: number) => iat * 1000;
    const sameSecond = Math.floor(T0 / 1000);
    expect(ledger.isRevoked({ user: 'alice', issuedAt: iatMs(sameSecond - 60) })?.kind).toBe('user');
    // iat has 1 s granularity: a token whose iat is the revocation's second may predate it, so it is refused.
    expect(ledger.isRevoked({ user: 'alice', issuedAt: iatMs(sameSecond) })).toBeDefined();
    expect(ledger.isRevoked({ user: 'alice', issuedAt: iatMs(sameSecond + 1) })).toBeUndefined();
    expect(ledger.isRevoked({ user: 'alice', issuedAt: T0 })).toBeDefined();
    expect(ledger.isRevoked({ user: 'alice', issuedAt: T0 + 1 })).toBeUndefined();
    expect(ledger.isRevoked({ user: 'bob', issuedAt: 0 })).toBeUndefined();
  });

  it('refuses a credential of unknown age (no iat) while any user entry lives', async () => {
    const { ledger, clock } = ledgerAt(T0);
    await ledger.record({ kind: 'user', id: 'alice', at: T0, until: T0 + HOUR });
    clock.now = T0 + HOUR - 1;
    expect(ledger.isRevoked({ user: 'alice' })).toMatchObject({ kind: 'user', id: 'alice' });
    clock.now = T0 + HOUR;
    expect(ledger.isRevoked({ user: 'alice' })).toBeUndefined();
  });

  it('refuses a revoked session and a revoked token whatever their age', async () => {
    const { ledger } = ledgerAt(T0);
    await ledger.record({ kind: 'session', id: 'sid-1', at: T0, until: T0 + HOUR });
    await ledger.record({ kind: 'token', id: 'jti-1', at: T0, until: T0 + HOUR });
    expect(ledger.isRevoked({ session: 'sid-1', issuedAt: T0 + 10_000 })?.kind).toBe('session');
    expect(ledger.isRevoked({ tokenId: 'jti-1', issuedAt: T0 + 10_000 })?.kind).toBe('token');
    expect(ledger.isRevoked({ user: 'jti-1', session: 'jti-1' })).toBeUndefined();
    expect(ledger.isRevoked({ session: 'sid-2', tokenId: 'jti-2', user: 'sid-1' })).toBeUndefined();
    expect(ledger.isRevoked({ user: 'carol', session: 'sid-1' })?.kind).toBe('session');
  });

  it('keeps kinds apart: a user id that equals a session id revokes only the user', async () => {
    const { ledger } = ledgerAt(T0);
    await ledger.record({ kind: 'user', id: 'x', at: T0, until: T0 + HOUR });
    expect(ledger.isRevoked({ session: 'x', tokenId: 'x' })).toBeUndefined();
    expect(ledger.size).toBe(1);
  });

  it('merges a second revocation of the same target into one entry with the latest at and until', async () => {
    const { ledger, clock } = ledgerAt(T0);
    await ledger.record({ kind: 'user', id: 'alice', at: T0 + 5_000, until: T0 + HOUR });
    await ledger.record({ kind: 'user', id: 'alice', at: T0, until: T0 + 2 * HOUR });
    expect(ledger.size).toBe(1);
    expect(ledger.isRevoked({ user: 'alice', issuedAt: T0 + 5_000 })).toEqual({ kind: 'user', id: 'alice', at: T0 + 5_000, until: T0 + 2 * HOUR });
    clock.now = T0 + HOUR + 1;
    expect(ledger.isRevoked({ user: 'alice' })).toBeDefined();
    clock.now = T0 + 2 * HOUR;
    expect(ledger.isRevoked({ user: 'alice' })).toBeUndefined();
    expect(ledger.size).toBe(0);
  });

  it('forgets expired entries without a lookup, so writes alone keep it bounded', async () => {
    const { ledger, clock } = ledgerAt(T0);
    for (let i = 0; i < 10_000; i++) {
      clock.now = T0 + i;
      await ledger.record({ kind: 'token', id: `jti-${i}`, at: clock.now, until: clock.now + 100 });
    }
    // Only the last 100 ms of writes can be live.
    expect(ledger.size).toBe(100);
    expect(ledger.entries()).toHaveLength(100);
  });

  it('ignores a revocation that has already expired', async () => {
    const { ledger } = ledgerAt(T0);
    await ledger.record({ kind: 'user', id: 'alice', at: T0 - HOUR, until: T0 });
    expect(ledger.size).toBe(0);
    expect(ledger.isRevoked({ user: 'alice' })).toBeUndefined();
  });

  it('caps the ledger at maxEntries by dropping the entry that expires soonest', async () => {
    const { ledger } = ledgerAt(T0, { maxEntries: 3 });
    await ledger.record({ kind: 'token', id: 'late', at: T0, until: T0 + 3 * HOUR });
    await ledger.record({ kind: 'token', id: 'soon', at: T0, until: T0 + HOUR });
    await ledger.record({ kind: 'token', id: 'mid', at: T0, until: T0 + 2 * HOUR });
    await ledger.record({ kind: 'token', id: 'new', at: T0, until: T0 + 4 * HOUR });
    expect(ledger.size).toBe(3);
    expect(ledger.isRevoked({ tokenId: 'soon' })).toBeUndefined();
    for (const id of ['late', 'mid', 'new']) expect(ledger.isRevoked({ tokenId: id })).toBeDefined();
  });

  it('evicts by the merged expiry, not a stale one', async () => {
    const { ledger } = ledgerAt(T0, { maxEntries: 2 });
    await ledger.record({ kind: 'user', id: 'a', at: T0, until: T0 + HOUR });
    await ledger.record({ kind: 'user', id: 'b', at: T0, until: T0 + 2 * HOUR });
    await ledger.record({ kind: 'user', id: 'a', at: T0, until: T0 + 3 * HOUR }); // a now outlives b
    await ledger.record({ kind: 'user', id: 'c', at: T0, until: T0 + 4 * HOUR });
    expect(ledger.isRevoked({ user: 'b' })).toBeUndefined();
    expect(ledger.isRevoked({ user: 'a' })).toBeDefined();
    expect(ledger.isRevoked({ user: 'c' })).toBeDefined();
  });

  it('rejects a malformed revocation with a TypeError and records nothing', async () => {
    const { ledger } = ledgerAt(T0);
    const bad = [
      { kind: 'group', id: 'x', at: T0, until: T0 + 1 },
      { kind: 'user', id: '', at: T0, until: T0 + 1 },
      { kind: 'user', id: 42, at: T0, until: T0 + 1 },
      { kind: 'user', id: 'x', at: Number.NaN, until: T0 + 1 },
      { kind: 'user', id: 'x', at: T0, until: Number.POSITIVE_INFINITY },
      { kind: 'user', id: 'x', at: T0, until: T0 - 1 },
    ] as unknown as Revocation[];
    for (const r of bad) await expect(ledger.record(r)).rejects.toBeInstanceOf(TypeError);
    expect(ledger.size).toBe(0);
  });

  it('is the default store: memoryLedger() is trusted and ready at once, and its sweep timer keeps no process alive', async () => {
    const ledger = memoryLedger();
    open.push(ledger);
    expect(ledger.trusted).toBe(true);
    await ledger.ready();
    await ledger.record({ kind: 'session', id: 's', at: Date.now(), until: Date.now() + HOUR });
    expect(ledger.isRevoked({ session: 's' })).toBeDefined();
    const refd = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await ledger.close();
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(refd);
  });

  it('answers as a plain reference model would, under any sequence of records, lookups and clock moves', () => {
    const kind = fc.constantFrom<RevocationKind>('user', 'session', 'token');
    const id = fc.constantFrom('a', 'b', 'c', 'd');
    const op = fc.oneof(
      fc.record({ op: fc.constant('record' as const), kind, id, at: fc.integer({ min: 0, max: 50 }), ttl: fc.integer({ min: 0, max: 50 }) }),
      fc.record({
        op: fc.constant('check' as const),
        user: fc.option(id, { nil: undefined }),
        session: fc.option(id, { nil: undefined }),
        tokenId: fc.option(id, { nil: undefined }),
        issuedAt: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
      }),
      fc.record({ op: fc.constant('tick' as const), by: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const clock = { now: 0 };
        const ledger = new MemoryLedger({ now: () => clock.now });
        // Reference: a flat list of entries, merged and expired by rereading the rules.
        const model = new Map<string, Revocation>();
        try {
          for (const o of ops) {
            if (o.op === 'tick') clock.now += o.by;
            else if (o.op === 'record') {
              const r = { kind: o.kind, id: o.id, at: clock.now + o.at, until: clock.now + o.at + o.ttl };
              void ledger.record(r);
              const key = `${r.kind}/${r.id}`;
              const held = model.get(key);
              if (r.until <= clock.now) continue;
              if (held !== undefined && held.until > clock.now) model.set(key, { ...r, at: Math.max(r.at, held.at), until: Math.max(r.until, held.until) });
              else model.set(key, r);
            } else {
              const facts: CredentialFacts = { user: o.user, session: o.session, tokenId: o.tokenId, issuedAt: o.issuedAt };
              const live = (k: RevocationKind, i: string | undefined) => {
                const e = i === undefined ? undefined : model.get(`${k}/${i}`);
                return e !== undefined && e.until > clock.now ? e : undefined;
              };
              const user = live('user', facts.user);
              const expected =
                live('token', facts.tokenId) ??
                live('session', facts.session) ??
                (user !== undefined && (facts.issuedAt === undefined || facts.issuedAt <= user.at) ? user : undefined);
              expect(ledger.isRevoked(facts)).toEqual(expected);
            }
            const liveCount = [...model.values()].filter((e) => e.until > clock.now).length;
            expect(ledger.size).toBe(liveCount);
          }
        } finally {
          void ledger.close();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never holds more than maxEntries, under any sequence of records', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.string({ maxLength: 3 }).map((s) => `t${s}`), ttl: fc.integer({ min: 1, max: 1000 }), tick: fc.integer({ min: 0, max: 50 }) }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        (writes, cap) => {
          const clock = { now: 0 };
          const ledger = new MemoryLedger({ maxEntries: cap, now: () => clock.now });
          for (const w of writes) {
            clock.now += w.tick;
            void ledger.record({ kind: 'token', id: w.id, at: clock.now, until: clock.now + w.ttl });
            expect(ledger.size).toBeLessThanOrEqual(cap);
            // The newest write is always kept.
            expect(ledger.isRevoked({ tokenId: w.id })).toBeDefined();
          }
          void ledger.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});
