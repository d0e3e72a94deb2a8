/**
 * One timer for every socket's deadline (refresh notice, expiry) in this
 * process: an indexed binary min-heap of items ordered by `deadline`, and a
 * single `setTimeout` armed for the earliest one.
 *
 * A timer per socket cost ~425 bytes (the Timeout, its closures and their
 * scope) and ~7 µs at every connection; an item here costs a small-integer
 * field on an object the socket already has and 8 bytes of a shared
 * Float64Array, and O(log n) to insert or remove. Removal is
 * exact (each item knows its index), so a disconnected socket leaves nothing
 * behind in the heap.
 *
 * @module
 */

/** The field the queue keeps on each item: its place in the heap, -1 while it is not queued. */
export interface Deadlined {
  heapIndex: number;
}

/** setTimeout's delay is a 32-bit int; a later earliest deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

/** Smallest capacity of the deadline array; it doubles when full and halves when three quarters empty. */
const MIN_CAPACITY = 64;

export class DeadlineQueue<T extends Deadlined> {
  readonly #heap: T[] = [];
  /**
   * `#at[i]` is the deadline (ms epoch) of `#heap[i]`. Kept here, unboxed, rather
   * than on each item: a ms epoch in an object field is a 16-byte heap number
   * of its own for every queued socket.
   */
  #at = new Float64Array(MIN_CAPACITY);
  readonly #onDue: (item: T) => void;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for, to avoid re-arming for a later item. */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onDue: (item: T) => void) {
    this.#onDue = onDue;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Whether the one timer is armed; false whenever the queue is empty. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** The deadline `item` is queued at, or NaN when it is not queued. */
  deadlineOf(item: T): number {
    return item.heapIndex === -1 ? Number.NaN : this.#at[item.heapIndex]!;
  }

  /** Queues `item` at `deadline` (ms epoch), or moves it there if already queued. */
  schedule(item: T, deadline: number): void {
    if (item.heapIndex !== -1) this.#removeAt(item.heapIndex);
    const index = this.#heap.length;
    if (index === this.#at.length) this.#resize(index * 2);
    this.#heap.push(item);
    this.#place(index, item, deadline);
    this.#siftUp(index);
    if (deadline < this.#armedFor) this.#arm();
  }

  /** Takes `item` out of the queue; a no-op when it is not queued. */
  cancel(item: T): void {
    if (item.heapIndex === -1) return;
    this.#removeAt(item.heapIndex);
    // The timer may now be early (its item is gone): it re-arms for the next one when it fires.
    if (this.#heap.length === 0) this.#disarm();
  }

  #arm(): void {
    if (this.#heap.length === 0) return this.#disarm();
    const earliest = this.#at[0]!;
    clearTimeout(this.#timer);
    this.#armedFor = earliest;
    // Ref'd, like Socket.IO's own ping timers: the queue is empty (and the timer gone) once its sockets are.
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.min(earliest - Date.now(), MAX_DELAY)));
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    // Items due now are taken out before their callbacks run, so a callback may re-schedule its item.
    while (this.#heap.length > 0 && this.#at[0]! <= now) {
      const head = this.#heap[0]!;
      this.#removeAt(0);
      try {
        this.#onDue(head);
      } catch (err) {
        // One socket's failure must not stop the others' deadlines; surface it as an uncaught error would.
        process.nextTick(() => {
          throw err;
        });
      }
    }
    if (this.#heap.length > 0 && this.#timer === undefined) this.#arm();
  };

  /** Puts `item` with `deadline` at `index` of both arrays. */
  #place(index: number, item: T, deadline: number): void {
    this.#heap[index] = item;
    this.#at[index] = deadline;
    item.heapIndex = index;
  }

  #resize(capacity: number): void {
    const at = new Float64Array(capacity);
    at.set(this.#at.subarray(0, this.#heap.length));
    this.#at = at;
  }

  #removeAt(index: number): void {
    const heap = this.#heap;
    const removed = heap[index]!;
    const lastDeadline = this.#at[heap.length - 1]!;
    const last = heap.pop()!;
    removed.heapIndex = -1;
    const size = heap.length;
    if (index !== size) {
      this.#place(index, last, lastDeadline);
      this.#siftDown(index);
      this.#siftUp(last.heapIndex);
    }
    // A spike of sockets must not keep its array once they are gone.
    if (this.#at.length > MIN_CAPACITY && size < this.#at.length / 4) this.#resize(this.#at.length / 2);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const at = this.#at;
    const item = heap[index]!;
    const deadline = at[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      if (at[parentIndex]! <= deadline) break;
      this.#place(index, heap[parentIndex]!, at[parentIndex]!);
      index = parentIndex;
    }
    this.#place(index, item, deadline);
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const at = this.#at;
    const n = heap.length;
    const item = heap[index]!;
    const deadline = at[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && at[right]! < at[left]! ? right : left;
      if (at[child]! >= deadline) break;
      this.#place(index, heap[child]!, at[child]!);
      index = child;
    }
    this.#place(index, item, deadline);
  }
}
