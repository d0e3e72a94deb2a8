/**
 * One timer for every socket's deadline (refresh notice, expiry) in this
 * process: an indexed binary min-heap of items ordered by `deadline`, and a
 * single `setTimeout` armed for the earliest one.
 *
 * A timer per socket cost ~425 bytes (the Timeout, its closures and their
 * scope) and ~7 µs at every connection; an item here costs two numbers on an
 * object the socket already has, and O(log n) to insert or remove. Removal is
 * exact (each item knows its index), so a disconnected socket leaves nothing
 * behind in the heap.
 *
 * @module
 */

/** Fields the queue keeps on each item; `heapIndex` is -1 while the item is not queued. */
export interface Deadlined {
  deadline: number;
  heapIndex: number;
}

/** setTimeout's delay is a 32-bit int; a later earliest deadline is reached in steps. */
const MAX_DELAY = 2 ** 31 - 1;

export class DeadlineQueue<T extends Deadlined> {
  readonly #heap: T[] = [];
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

  /** Queues `item` at `deadline` (ms epoch), or moves it there if already queued. */
  schedule(item: T, deadline: number): void {
    if (item.heapIndex !== -1) this.#removeAt(item.heapIndex);
    item.deadline = deadline;
    item.heapIndex = this.#heap.length;
    this.#heap.push(item);
    this.#siftUp(item.heapIndex);
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
    const head = this.#heap[0];
    if (head === undefined) return this.#disarm();
    clearTimeout(this.#timer);
    this.#armedFor = head.deadline;
    // Ref'd, like Socket.IO's own ping timers: the queue is empty (and the timer gone) once its sockets are.
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.min(head.deadline - Date.now(), MAX_DELAY)));
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
    for (let head = this.#heap[0]; head !== undefined && head.deadline <= now; head = this.#heap[0]) {
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

  #removeAt(index: number): void {
    const heap = this.#heap;
    const removed = heap[index]!;
    const last = heap.pop()!;
    removed.heapIndex = -1;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    this.#siftDown(index);
    this.#siftUp(last.heapIndex);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const item = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.deadline <= item.deadline) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.deadline < heap[left]!.deadline ? right : left;
      const c = heap[child]!;
      if (c.deadline >= item.deadline) break;
      heap[index] = c;
      c.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}
