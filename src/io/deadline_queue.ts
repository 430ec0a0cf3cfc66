/**
 * Many deadlines on one runtime timer. Every session arms a connect deadline
 * and bounded waits on its close path; with a timer each, a busy gateway
 * spends a measurable share of its time creating and clearing timers (about
 * 4% of its CPU when sessions open and close thousands of times a second).
 * The queue keeps its deadlines in a binary heap and arms one timer for the
 * earliest one. A cancelled deadline costs nothing until the timer fires or
 * the queue has no pending deadline left, when the timer is cleared.
 *
 * @module
 */

/** A deadline returned by {@linkcode DeadlineQueue.add}; pass it to `cancel`. */
export interface Deadline {
  /** When the deadline expires, on the queue's clock (milliseconds). */
  readonly at: number;
}

/** Options of {@linkcode DeadlineQueue}. */
export interface DeadlineQueueOptions {
  /**
   * The monotonic clock in milliseconds.
   * @default {() => performance.now()}
   */
  now?: () => number;
}

class Entry implements Deadline {
  readonly at: number;
  /** Undefined once the deadline expired or was cancelled. */
  onExpire: (() => void) | undefined;

  constructor(at: number, onExpire: () => void) {
    this.at = at;
    this.onExpire = onExpire;
  }
}

/**
 * Cancelled entries stay in the heap until they reach its top. Past this
 * size, and once at least three in four are cancelled, the heap is rebuilt
 * from the pending ones, so memory follows the pending count.
 */
const COMPACT_MIN_ENTRIES = 1024;

/**
 * Deadlines that share one timer. `add` registers a callback to run once
 * `ms` have passed; `cancel` withdraws it. The queue holds a timer
 * only while at least one deadline is pending.
 *
 * @example
 * ```ts
 * import { DeadlineQueue } from "./deadline_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const queue = new DeadlineQueue();
 * const fired: string[] = [];
 * const late = queue.add(60_000, () => fired.push("late"));
 * const { promise, resolve } = Promise.withResolvers<void>();
 * queue.add(1, () => {
 *   fired.push("soon");
 *   resolve();
 * });
 * queue.cancel(late);
 * await promise;
 * assert.deepEqual(fired, ["soon"]);
 * assert.equal(queue.pending, 0);
 * ```
 */
export class DeadlineQueue {
  #heap: Entry[] = [];
  #live = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  readonly #now: () => number;
  readonly #fire = () => this.#onTimer();

  /**
   * Creates an empty queue.
   * @param options The clock.
   */
  constructor(options: DeadlineQueueOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  /** How many deadlines are pending (neither expired nor cancelled). */
  get pending(): number {
    return this.#live;
  }

  /**
   * Runs `onExpire` once `ms` milliseconds have passed, unless cancelled.
   * Callbacks run in deadline order; one that throws does not stop the
   * others (its error is dropped), so keep them to resolving or aborting.
   * @param ms The delay in milliseconds (0 or less: the next timer turn).
   * @param onExpire What to run when the deadline passes.
   * @returns The deadline, for `cancel`.
   */
  add(ms: number, onExpire: () => void): Deadline {
    const entry = new Entry(this.#now() + (ms > 0 ? ms : 0), onExpire);
    const heap = this.#heap;
    heap.push(entry);
    siftUp(heap, heap.length - 1);
    this.#live++;
    if (entry.at < this.#timerAt) this.#arm(entry.at);
    return entry;
  }

  /**
   * Withdraws a deadline; cancelling one that expired or was cancelled
   * already does nothing.
   * @param deadline What `add` returned.
   */
  cancel(deadline: Deadline): void {
    const entry = deadline as Entry;
    if (entry.onExpire === undefined) return;
    entry.onExpire = undefined;
    this.#live--;
    if (this.#live === 0) {
      // Everything left is cancelled: drop it all, and the timer with it,
      // so an idle queue holds no timer (test sanitizers count them).
      this.#heap.length = 0;
      this.#disarm();
    } else if (
      this.#heap.length > COMPACT_MIN_ENTRIES &&
      this.#heap.length > 4 * this.#live
    ) {
      this.#compact();
    }
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const heap = this.#heap;
    const now = this.#now();
    let expired: Array<() => void> | undefined;
    while (heap.length > 0) {
      const top = heap[0]!;
      if (top.onExpire !== undefined) {
        if (top.at > now) break;
        (expired ??= []).push(top.onExpire);
        top.onExpire = undefined;
        this.#live--;
      }
      popTop(heap);
    }
    if (heap.length > 0) this.#arm(heap[0]!.at);
    if (expired === undefined) return;
    for (const onExpire of expired) {
      try {
        onExpire();
      } catch {
        // A deadline callback must not stop the others.
      }
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    // Timers count whole milliseconds: round up so the timer never fires
    // before the deadline and spins.
    this.#timer = setTimeout(
      this.#fire,
      Math.max(0, Math.ceil(at - this.#now())),
    );
    this.#timerAt = at;
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #compact(): void {
    const live = this.#heap.filter((entry) => entry.onExpire !== undefined);
    for (let i = (live.length >> 1) - 1; i >= 0; i--) siftDown(live, i);
    this.#heap = live;
  }
}

function siftUp(heap: Entry[], index: number): void {
  const entry = heap[index]!;
  while (index > 0) {
    const parentIndex = (index - 1) >> 1;
    const parent = heap[parentIndex]!;
    if (parent.at <= entry.at) break;
    heap[index] = parent;
    index = parentIndex;
  }
  heap[index] = entry;
}

function siftDown(heap: Entry[], index: number): void {
  const length = heap.length;
  const entry = heap[index]!;
  for (;;) {
    let child = 2 * index + 1;
    if (child >= length) break;
    const right = child + 1;
    if (right < length && heap[right]!.at < heap[child]!.at) child = right;
    if (heap[child]!.at >= entry.at) break;
    heap[index] = heap[child]!;
    index = child;
  }
  heap[index] = entry;
}

function popTop(heap: Entry[]): void {
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    siftDown(heap, 0);
  }
}

/**
 * The queue shared by the sessions of this isolate (each worker thread has
 * its own).
 */
export const sharedDeadlines: DeadlineQueue = new DeadlineQueue();

/**
 * `promise`'s value, or `undefined` once `ms` passed first; its deadline is
 * withdrawn either way. The deadline rides on {@linkcode sharedDeadlines}:
 * no timer of its own. `Infinity` waits for `promise` alone.
 *
 * @example
 * ```ts
 * import { valueWithin } from "./deadline_queue.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await valueWithin(new Promise(() => {}), 1), undefined);
 * assert.equal(await valueWithin(Promise.resolve(7), 60_000), 7);
 * ```
 *
 * @typeParam T The value's type.
 * @param promise What to wait for.
 * @param ms The longest wait in milliseconds.
 * @returns Its value, or `undefined` when the time is up; rejects when
 * `promise` rejects first.
 */
export function valueWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  if (ms === Infinity) return promise;
  return new Promise((resolve, reject) => {
    const deadline = sharedDeadlines.add(ms, () => resolve(undefined));
    promise.then((value) => {
      sharedDeadlines.cancel(deadline);
      resolve(value);
    }, (error) => {
      sharedDeadlines.cancel(deadline);
      reject(error);
    });
  });
}

/**
 * Waits for `promise` or for `ms` to pass, whichever is first, and withdraws
 * its deadline either way. The deadline rides on {@linkcode sharedDeadlines}:
 * no timer of its own.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./deadline_queue.ts";
 * import assert from "node:assert/strict";
 * let isDone = false;
 * await withTimeout(new Promise(() => {}), 1); // never settles: 1 ms
 * await withTimeout(Promise.resolve().then(() => isDone = true), 60_000);
 * assert.equal(isDone, true);
 * ```
 *
 * @param promise What to wait for (its value is dropped).
 * @param ms The longest wait in milliseconds.
 * @returns Resolves when `promise` fulfils or the time is up; rejects when
 * `promise` rejects first.
 */
export async function withTimeout(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  await valueWithin(promise, ms);
}
