/**
 * The public types of the handshake limits, checked by the compiler
 * (`tsc --noEmit -p .` covers test/): `HandshakeLimits` has members, so a
 * plain object is not one, and what `handshakeLimits()` returns says which
 * rules are in force.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { SockPass, handshakeLimits, type HandshakeLimits, type HandshakeLimitsOptions, type LimitRule } from 'sockpass';

describe('handshake limit types', () => {
  it('accepts only what handshakeLimits() returns as rateLimit', () => {
    // @ts-expect-error an empty object is not a HandshakeLimits: it would fail at the first handshake
    expect(() => new SockPass({ rateLimit: {} })).not.toThrow();
    // @ts-expect-error nor are the options themselves
    const options: HandshakeLimits = { address: { points: 5, duration: 60 } } satisfies HandshakeLimitsOptions;
    expect(options).toBeDefined();
    expectTypeOf(handshakeLimits()).toEqualTypeOf<HandshakeLimits>();
    expectTypeOf<HandshakeLimits>().not.toEqualTypeOf<{}>();
    expect(new SockPass({ rateLimit: handshakeLimits() })).toBeInstanceOf(SockPass);
  });

  it('reports the rules in force, defaults filled in', () => {
    const limits = handshakeLimits({ subject: { points: 3, duration: 60, blockDuration: 600 }, pending: false });
    expectTypeOf(limits.rules.address).toEqualTypeOf<Readonly<LimitRule> | false>();
    expectTypeOf(limits.store).toEqualTypeOf<'memory' | 'redis'>();
    expect(limits.rules).toEqual({
      address: { points: 30, duration: 60 },
      subject: { points: 3, duration: 60, blockDuration: 600 },
      pending: false,
    });
    expect(limits.store).toBe('memory');
  });
});
