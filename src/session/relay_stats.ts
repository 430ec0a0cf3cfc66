/**
 * The traffic bookkeeping of a relay session: the running counts
 * ({@linkcode RelayStats}), the delta it reports to the gateway's metrics,
 * the message size buckets (powers of 4 from 16 bytes) and the shared
 * all-zero delta of an idle session.
 *
 * @module
 */

/** Traffic since the previous `RelaySession.takeStats()` call. */
export interface RelayStatsDelta {
  /** Payload bytes browser -> backend. */
  bytesToBackend: number;
  /** Payload bytes backend -> browser. */
  bytesToBrowser: number;
  /** Messages browser -> backend. */
  messagesToBackend: number;
  /** Messages backend -> browser. */
  messagesToBrowser: number;
  /** Message counts by size bucket (<=16, <=64, ... <=4 MiB, larger), to the backend. */
  sizesToBackend: readonly number[];
  /** The same, to the browser. */
  sizesToBrowser: readonly number[];
}

/** Number of size buckets: le 16, 64, ..., 4194304 (powers of 4), then +Inf. */
export const SIZE_BUCKET_COUNT = 11;

/**
 * The delta of a session with no traffic since its last report; frozen and
 * shared, so idle sessions allocate nothing.
 *
 * @example Every count is zero
 * ```ts
 * import { NO_TRAFFIC, SIZE_BUCKET_COUNT } from "./relay_stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(NO_TRAFFIC.messagesToBackend, 0);
 * assert.equal(NO_TRAFFIC.sizesToBrowser.length, SIZE_BUCKET_COUNT);
 * assert.ok(Object.isFrozen(NO_TRAFFIC.sizesToBackend));
 * ```
 */
export const NO_TRAFFIC: Readonly<RelayStatsDelta> = Object.freeze({
  bytesToBackend: 0,
  bytesToBrowser: 0,
  messagesToBackend: 0,
  messagesToBrowser: 0,
  sizesToBackend: Object.freeze(new Array<number>(SIZE_BUCKET_COUNT).fill(0)),
  sizesToBrowser: Object.freeze(new Array<number>(SIZE_BUCKET_COUNT).fill(0)),
});

/**
 * A fresh array of zeroed size bucket counts.
 *
 * @example One count per bucket
 * ```ts
 * import { newSizeBuckets, SIZE_BUCKET_COUNT } from "./relay_stats.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(newSizeBuckets(), new Array(SIZE_BUCKET_COUNT).fill(0));
 * ```
 *
 * @returns `SIZE_BUCKET_COUNT` zeros.
 */
export function newSizeBuckets(): number[] {
  return new Array<number>(SIZE_BUCKET_COUNT).fill(0);
}

/**
 * The size bucket of a message length (buckets are powers of 4 from 16).
 *
 * @example Bucket edges are inclusive
 * ```ts
 * import { SIZE_BUCKET_COUNT, sizeBucket } from "./relay_stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sizeBucket(0), 0);
 * assert.equal(sizeBucket(16), 0);
 * assert.equal(sizeBucket(17), 1);
 * assert.equal(sizeBucket(64), 1);
 * assert.equal(sizeBucket(4194304), SIZE_BUCKET_COUNT - 2);
 * assert.equal(sizeBucket(4194305), SIZE_BUCKET_COUNT - 1);
 * ```
 *
 * @param length The message length in bytes.
 * @returns The bucket index, 0 to `SIZE_BUCKET_COUNT - 1`.
 */
export function sizeBucket(length: number): number {
  if (length <= 16) return 0;
  const bucket = ((33 - Math.clz32(length - 1)) >>> 1) - 2;
  return bucket < SIZE_BUCKET_COUNT - 1 ? bucket : SIZE_BUCKET_COUNT - 1;
}

/**
 * The traffic counters of one session: payload bytes and messages per
 * direction, and size buckets since the last {@linkcode RelayStats.take}.
 *
 * @example Count, take the delta, then idle
 * ```ts
 * import { NO_TRAFFIC, RelayStats, sizeBucket } from "./relay_stats.ts";
 * import assert from "node:assert/strict";
 * const stats = new RelayStats();
 * stats.countToBackend(10);
 * stats.countToBrowser(100);
 * const delta = stats.take();
 * assert.equal(delta.bytesToBrowser, 100);
 * assert.equal(delta.sizesToBackend[sizeBucket(10)], 1);
 * assert.equal(stats.take(), NO_TRAFFIC);
 * assert.equal(stats.messagesToBackend, 1);
 * ```
 */
export class RelayStats {
  #bytesToBackend = 0;
  #bytesToBrowser = 0;
  #messagesToBackend = 0;
  #messagesToBrowser = 0;
  // What take() reported last, and size buckets since then (allocated on
  // the first message: idle sessions carry none).
  #reportedBytesToBackend = 0;
  #reportedBytesToBrowser = 0;
  #reportedMessagesToBackend = 0;
  #reportedMessagesToBrowser = 0;
  #sizesToBackend: number[] | undefined;
  #sizesToBrowser: number[] | undefined;

  /** Payload bytes relayed browser -> backend so far. */
  get bytesToBackend(): number {
    return this.#bytesToBackend;
  }

  /** Payload bytes relayed backend -> browser so far. */
  get bytesToBrowser(): number {
    return this.#bytesToBrowser;
  }

  /** Messages relayed browser -> backend so far. */
  get messagesToBackend(): number {
    return this.#messagesToBackend;
  }

  /** Messages relayed backend -> browser so far. */
  get messagesToBrowser(): number {
    return this.#messagesToBrowser;
  }

  /**
   * Counts one message relayed to the backend.
   * @param length Its payload length in bytes.
   */
  countToBackend(length: number): void {
    this.#bytesToBackend += length;
    this.#messagesToBackend++;
    (this.#sizesToBackend ??= newSizeBuckets())[sizeBucket(length)]!++;
  }

  /**
   * Counts one message relayed to the browser.
   * @param length Its payload length in bytes.
   */
  countToBrowser(length: number): void {
    this.#bytesToBrowser += length;
    this.#messagesToBrowser++;
    (this.#sizesToBrowser ??= newSizeBuckets())[sizeBucket(length)]!++;
  }

  /**
   * Returns the traffic since the previous call and resets the size
   * buckets; {@linkcode NO_TRAFFIC} (no allocation) when nothing moved.
   * @returns The deltas.
   */
  take(): RelayStatsDelta {
    if (
      this.#messagesToBackend === this.#reportedMessagesToBackend &&
      this.#messagesToBrowser === this.#reportedMessagesToBrowser
    ) {
      // Idle sessions (the common case per sweep) allocate nothing.
      return NO_TRAFFIC;
    }
    const delta: RelayStatsDelta = {
      bytesToBackend: this.#bytesToBackend - this.#reportedBytesToBackend,
      bytesToBrowser: this.#bytesToBrowser - this.#reportedBytesToBrowser,
      messagesToBackend: this.#messagesToBackend -
        this.#reportedMessagesToBackend,
      messagesToBrowser: this.#messagesToBrowser -
        this.#reportedMessagesToBrowser,
      sizesToBackend: this.#sizesToBackend ?? NO_TRAFFIC.sizesToBackend,
      sizesToBrowser: this.#sizesToBrowser ?? NO_TRAFFIC.sizesToBrowser,
    };
    this.#reportedBytesToBackend = this.#bytesToBackend;
    this.#reportedBytesToBrowser = this.#bytesToBrowser;
    this.#reportedMessagesToBackend = this.#messagesToBackend;
    this.#reportedMessagesToBrowser = this.#messagesToBrowser;
    this.#sizesToBackend = undefined;
    this.#sizesToBrowser = undefined;
    return delta;
  }
}
