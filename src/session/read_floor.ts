/**
 * Which part of a pump's current read buffer is still free to be written
 * over: bytes before the floor belong to messages queued by reference (or
 * framed in place) for the other side, and the buffer must not be reused
 * for the next read while any is queued.
 *
 * @module
 */

import type { ReadBuffer } from "./read_buffer.ts";

/**
 * The floor of one {@linkcode ReadBuffer}'s current read.
 *
 * @example Lend a view, then claim room in front of a later message
 * ```ts
 * import { ReadBuffer } from "./read_buffer.ts";
 * import { ReadFloor } from "./read_floor.ts";
 * import assert from "node:assert/strict";
 * const read = new ReadBuffer({ minBytes: 64 });
 * const floor = new ReadFloor(read);
 * floor.reset();
 * floor.lend(read.whole.subarray(0, 10));
 * assert.equal(floor.isRetained, true);
 * assert.equal(floor.tryClaim(5, 20), false);
 * assert.equal(floor.tryClaim(10, 20), true);
 * assert.equal(floor.floor, 20);
 * ```
 */
export class ReadFloor {
  #read: ReadBuffer;
  #floor = 0;
  #isRetained = false;

  /**
   * Tracks the reads of `read`.
   * @param read The pump's read buffer.
   */
  constructor(read: ReadBuffer) {
    this.#read = read;
  }

  /** The read buffer, headroom included. */
  get whole(): Uint8Array {
    return this.#read.whole;
  }

  /** Where the current read is free to be written over. */
  get floor(): number {
    return this.#floor;
  }

  /** Whether views into the current read are still queued somewhere. */
  get isRetained(): boolean {
    return this.#isRetained;
  }

  /** A new read begins: nothing of it is lent out yet. */
  reset(): void {
    this.#floor = 0;
    this.#isRetained = false;
  }

  /**
   * Notes that `view` was queued by reference: bytes up to its end are no
   * longer free (a view of another buffer only marks the read retained).
   * @param view The queued bytes.
   */
  lend(view: Uint8Array): void {
    this.#isRetained = true;
    const whole = this.#read.whole;
    if (view.buffer !== whole.buffer) return;
    this.#floor = Math.max(
      this.#floor,
      view.byteOffset + view.length - whole.byteOffset,
    );
  }

  /**
   * Claims `whole[at..end)` for a frame written in place, if none of it
   * lies below the floor.
   * @param at The first byte (index into `whole`).
   * @param end The index after the last byte.
   * @returns Whether the region is now the caller's.
   */
  tryClaim(at: number, end: number): boolean {
    if (at < 0 || at < this.#floor) return false;
    this.#floor = end;
    this.#isRetained = true;
    return true;
  }
}
