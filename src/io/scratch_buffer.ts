/**
 * A reusable buffer for messages that span chunks. Callers that copy every
 * message they receive during the callback can gather such messages here
 * instead of allocating (and zeroing) a new array each time. It starts small
 * and doubles up to its limit, so idle sessions keep little memory.
 *
 * @module
 */

/** The first scratch size, before doubling. */
const FIRST_BYTES = 1024;

/**
 * Hands out views of one growing buffer, or fresh arrays above the limit.
 *
 * @example
 * ```ts
 * import { ScratchBuffer } from "./scratch_buffer.ts";
 * import assert from "node:assert/strict";
 * const scratch = new ScratchBuffer(4096);
 * const a = scratch.take(10);
 * const b = scratch.take(20);
 * assert.equal(a.buffer, b.buffer); // reused
 * assert.notEqual(scratch.take(5000).buffer, a.buffer); // above the limit
 * ```
 */
export class ScratchBuffer {
  #limitBytes: number;
  #bytes: Uint8Array | undefined;

  /**
   * Constructs a scratch buffer.
   * @param limitBytes The largest request served from the scratch; 0 turns
   * reuse off.
   */
  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  /**
   * Returns `length` bytes: a view of the scratch (valid until the next
   * call) when `length` is within the limit, else a new array.
   * @param length The bytes needed.
   * @returns The buffer.
   */
  take(length: number): Uint8Array {
    if (length > this.#limitBytes) return new Uint8Array(length);
    if (this.#bytes === undefined || this.#bytes.length < length) {
      const doubled = 2 * (this.#bytes?.length ?? FIRST_BYTES / 2);
      this.#bytes = new Uint8Array(
        Math.min(this.#limitBytes, Math.max(length, doubled)),
      );
    }
    return this.#bytes.subarray(0, length);
  }

  /** Releases the scratch (an idle session). */
  release(): void {
    this.#bytes = undefined;
  }
}
