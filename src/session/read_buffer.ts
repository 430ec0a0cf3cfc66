/**
 * An adaptive read buffer: starts small (idle sessions hold little memory),
 * doubles while reads fill it, halves after a run of small reads, and is
 * replaced when the caller kept views into it.
 *
 * @module
 */

/** Options of {@linkcode ReadBuffer}. */
export interface ReadBufferOptions {
  /** The first and smallest size in bytes. @default {256} */
  minBytes?: number;
  /** The largest size in bytes. @default {262144} */
  maxBytes?: number;
  /** Consecutive reads under 1/8 of the buffer before it halves. @default {32} */
  shrinkAfterReads?: number;
}

/**
 * The buffer one pump reads into.
 *
 * @example Grows when a read fills it
 * ```ts
 * import { ReadBuffer } from "./read_buffer.ts";
 * import assert from "node:assert/strict";
 * const buffer = new ReadBuffer({ minBytes: 16 });
 * buffer.afterRead(16, false);
 * assert.equal(buffer.bytes.length, 32);
 * ```
 */
export class ReadBuffer {
  #bytes: Uint8Array;
  #minBytes: number;
  #maxBytes: number;
  #shrinkAfterReads: number;
  #smallReads = 0;

  /**
   * Constructs a buffer of `minBytes`.
   * @param options Sizes.
   */
  constructor(options: ReadBufferOptions = {}) {
    const { minBytes = 256, maxBytes = 256 * 1024, shrinkAfterReads = 32 } =
      options;
    this.#minBytes = minBytes;
    this.#maxBytes = maxBytes;
    this.#shrinkAfterReads = shrinkAfterReads;
    this.#bytes = new Uint8Array(minBytes);
  }

  /** The buffer to read into next. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /**
   * Adapts after a read of `count` bytes.
   * @param count Bytes the read returned.
   * @param isRetained Whether views into the buffer are still in use.
   */
  afterRead(count: number, isRetained: boolean): void {
    const size = this.#bytes.length;
    if (count === size && size < this.#maxBytes) {
      this.#smallReads = 0;
      this.#bytes = new Uint8Array(Math.min(size * 2, this.#maxBytes));
      return;
    }
    if (count < size >>> 3 && size > this.#minBytes) {
      if (++this.#smallReads >= this.#shrinkAfterReads) {
        this.#smallReads = 0;
        this.#bytes = new Uint8Array(size >>> 1);
        return;
      }
    } else {
      this.#smallReads = 0;
    }
    if (isRetained) this.#bytes = new Uint8Array(size);
  }
}
