/**
 * A min-heap of items ordered by a deadline (ms epoch), with exact removal:
 * each item knows its place (`heapIndex`), so cancelling one is O(log n) and
 * leaves nothing behind.
 *
 * Given `onDue`, the queue keeps one timer armed for its earliest deadline
 * and hands each item to `onDue` when its time comes: a registry's sockets
 * (refresh notice, expiry) share one timer this way. Without `onDue` it is a
 * plain priority queue the owner drains itself with `takeDue` (the memory
 * ledger's expiring entries). The clock is injectable for tests.
 *
 * @module
 */

/** The field the queue keeps on each item: its place in the heap, -1 while it is not queued. */
export interface Deadlined {
  heapIndex: number;
}

/** Options of a {@link DeadlineQueue}. */
export interface DeadlineQueueOptions {
  /** The clock. Default `Date.now`. */
  now?: () => number;
}

/** setTimeout's delay is a 32-bit int; a later earliest deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

interface Slot<T> {
  item: T;
  at: number;
}

export class DeadlineQueue<T extends Deadlined> {
  readonly #heap: Array<Slot<T>> = [];
  readonly #onDue: ((item: T) => void) | undefined;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for, to avoid re-arming for a later item. */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onDue?: (item: T) => void, options: DeadlineQueueOptions = {}) {
    this.#onDue = onDue;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Whether the timer is armed; false whenever the queue is empty (and always without `onDue`). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** The deadline `item` is queued at, or NaN when it is not queued. */
  deadlineOf(item: T): number {
    return item.heapIndex === -1 ? Number.NaN : this.#heap[item.heapIndex]!.at;
  }

  /** The item with the earliest deadline, without taking it out. */
  peek(): T | undefined {
    return this.#heap[0]?.item;
  }

  /** Queues `item` at `deadline` (ms epoch), or moves it there if already queued. */
  schedule(item: T, deadline: number): void {
    if (item.heapIndex !== -1) this.#removeAt(item.heapIndex);
    const index = this.#heap.length;
    this.#heap.push({ item, at: deadline });
    item.heapIndex = index;
    this.#siftUp(index);
    if (this.#onDue !== undefined && deadline < this.#armedFor) this.#arm();
  }

  /** Takes `item` out of the queue; a no-op when it is not queued. */
  cancel(item: T): void {
    if (item.heapIndex === -1) return;
    this.#removeAt(item.heapIndex);
    // The timer may now be early (its item is gone): it re-arms for the next one when it fires.
    if (this.#heap.length === 0) this.#disarm();
  }

  /** Takes out and returns the earliest item, if any. */
  pop(): T | undefined {
    const head = this.#heap[0];
    if (head === undefined) return undefined;
    this.#removeAt(0);
    return head.item;
  }

  /** Takes out the earliest item if its deadline is at or before `now`. */
  popDue(now: number = this.#now()): T | undefined {
    const head = this.#heap[0];
    return head !== undefined && head.at <= now ? this.pop() : undefined;
  }

  /** Takes out every item whose deadline is at or before `now`, earliest first. */
  takeDue(now: number = this.#now()): T[] {
    const due: T[] = [];
    for (let item = this.popDue(now); item !== undefined; item = this.popDue(now)) due.push(item);
    return due;
  }

  #arm(): void {
    if (this.#heap.length === 0) return this.#disarm();
    const earliest = this.#heap[0]!.at;
    clearTimeout(this.#timer);
    this.#armedFor = earliest;
    // Ref'd, like Socket.IO's own ping timers: the queue is empty (and the timer gone) once its sockets are.
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.min(earliest - this.#now(), MAX_DELAY)));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    // Items due now are taken out before their callbacks run, so a callback may re-schedule its item.
    for (const item of this.takeDue()) {
      try {
        this.#onDue!(item);
      } catch (err) {
        // One socket's failure must not stop the others' deadlines; surface it as an uncaught error would.
        process.nextTick(() => {
          throw err;
        });
      }
    }
    if (this.#heap.length > 0 && this.#timer === undefined) this.#arm();
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    const removed = heap[index]!;
    const last = heap.pop()!;
    removed.item.heapIndex = -1;
    if (index === heap.length) return;
    heap[index] = last;
    last.item.heapIndex = index;
    this.#siftDown(index);
    this.#siftUp(last.item.heapIndex);
  }

  #place(index: number, slot: Slot<T>): void {
    this.#heap[index] = slot;
    slot.item.heapIndex = index;
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const slot = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= slot.at) break;
      this.#place(index, heap[parent]!);
      index = parent;
    }
    this.#place(index, slot);
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const slot = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= slot.at) break;
      this.#place(index, heap[child]!);
      index = child;
    }
    this.#place(index, slot);
  }
}
