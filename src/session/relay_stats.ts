/**
 * The traffic bookkeeping a relay session reports to the gateway's metrics:
 * the delta shape, the message size buckets (powers of 4 from 16 bytes) and
 * the shared all-zero delta of an idle session.
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
