import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Deadlined } from '../../src/life/deadline-queue.js';

interface Item extends Deadlined {
  id: number;
}
const item = (id: number): Item => ({ id, heapIndex: -1 });
/** Timers pending on the fake clock. */
const timeouts = () => vi.getTimerCount();

describe('DeadlineQueue', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) }));
  afterEach(() => vi.useRealTimers());

  it('fires items in deadline order, with one timer for all of them', async () => {
    const fired: number[] = [];
    const q = new DeadlineQueue<Item>((it) => fired.push(it.id));
    const before = timeouts();
    const now = Date.now();
    const items = [item(1), item(2), item(3), item(4)];
    q.schedule(items[2]!, now + 90);
    q.schedule(items[0]!, now + 30);
    q.schedule(items[3]!, now + 120);
    q.schedule(items[1]!, now + 60);
    expect(q.armed).toBe(true);
    expect(timeouts() - before).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(fired).toEqual([1, 2, 3, 4]);
    expect(q.size).toBe(0);
    expect(q.armed).toBe(false);
    expect(timeouts()).toBeLessThanOrEqual(before);
  });

  it('cancels exactly, moves a queued item, and leaves no timer once empty', async () => {
    const fired: number[] = [];
    const q = new DeadlineQueue<Item>((it) => fired.push(it.id));
    const before = timeouts();
    const a = item(1);
    const b = item(2);
    q.schedule(a, Date.now() + 40);
    q.schedule(b, Date.now() + 60);
    q.cancel(a);
    q.cancel(a);
    expect(a.heapIndex).toBe(-1);
    q.schedule(b, Date.now() + 20);
    expect(q.size).toBe(1);
    await vi.advanceTimersByTimeAsync(120);
    expect(fired).toEqual([2]);
    q.schedule(a, Date.now() + 10_000);
    expect(q.armed).toBe(true);
    q.cancel(a);
    expect(q.armed).toBe(false);
    expect(timeouts()).toBeLessThanOrEqual(before);
  });

  it('lets a callback re-schedule its own item, and keeps firing others when one throws', async () => {
    const fired: number[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      const q: DeadlineQueue<Item> = new DeadlineQueue<Item>((it) => {
        fired.push(it.id);
        if (it.id === 1 && fired.filter((f) => f === 1).length === 1) q.schedule(it, Date.now() + 20);
        if (it.id === 2) throw new Error('boom');
      });
      q.schedule(item(1), Date.now() + 10);
      q.schedule(item(2), Date.now() + 10);
      q.schedule(item(3), Date.now() + 10);
      await vi.advanceTimersByTimeAsync(150);
      expect(fired.sort()).toEqual([1, 1, 2, 3]);
      expect(errors).toHaveLength(1);
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  it('keeps the heap ordered under any sequence of schedules and cancels (against a sorted reference)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), id: fc.nat(150), at: fc.integer({ min: 1, max: 1e9 }) }),
      fc.record({ kind: fc.constant('cancel' as const), id: fc.nat(150) }),
    );
    fc.assert(
      // Up to 151 items: the queue's deadline array grows past its first 64 slots and shrinks back.
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const q = new DeadlineQueue<Item>(() => {});
        const items = Array.from({ length: 151 }, (_, i) => item(i));
        const reference = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'schedule') {
            q.schedule(items[o.id]!, Date.now() + o.at);
            reference.set(o.id, q.deadlineOf(items[o.id]!));
          } else {
            q.cancel(items[o.id]!);
            reference.delete(o.id);
          }
        }
        expect(q.size).toBe(reference.size);
        // Every queued item knows its index; the heap property holds at each of them.
        const heap = items.filter((it) => it.heapIndex !== -1).sort((x, y) => x.heapIndex - y.heapIndex);
        expect(heap.map((it) => it.heapIndex)).toEqual(heap.map((_, i) => i));
        for (const it of heap) {
          if (it.heapIndex > 0) expect(q.deadlineOf(heap[(it.heapIndex - 1) >> 1]!)).toBeLessThanOrEqual(q.deadlineOf(it));
          expect(q.deadlineOf(it)).toBe(reference.get(it.id));
        }
        for (const it of heap) q.cancel(it);
        expect(q.size).toBe(0);
      }),
    );
  });
});
