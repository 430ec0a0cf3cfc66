/**
 * An adaptive read buffer: starts small (idle sessions hold little memory),
 * doubles while reads fill it, halves after a run of small reads, and is
 * replaced when the caller kept views into it. Replaced buffers come back
 * through {@linkcode ReadBuffer.release} once nothing refers to them, so a
 * relay that passes large messages on by reference does not allocate a new
 * buffer per read.
 *
 * @module
 */

/** Options of {@linkcode ReadBuffer}. */
export interface ReadBufferOptions {
  /** The first and smallest size in bytes (headroom included). @default {256} */
  minBytes?: number;
  /** The largest size in bytes (headroom included). @default {262144} */
  maxBytes?: number;
  /** Consecutive reads under 1/8 of the buffer before it halves. @default {32} */
  shrinkAfterReads?: number;
  /**
   * Bytes kept free before the read region, where the caller may write a
   * header in front of the first message of a read. @default {0}
   */
  headroomBytes?: number;
}

/** Released buffers kept for reuse. */
const MAX_POOLED = 2;

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
  #whole: Uint8Array;
  #bytes: Uint8Array;
  #minBytes: number;
  #maxBytes: number;
  #shrinkAfterReads: number;
  #headroom: number;
  #smallReads = 0;
  #pool: ArrayBuffer[] | undefined;

  /**
   * Constructs a buffer of `minBytes`.
   * @param options Sizes.
   */
  constructor(options: ReadBufferOptions = {}) {
    const {
      minBytes = 256,
      maxBytes = 256 * 1024,
      shrinkAfterReads = 32,
      headroomBytes = 0,
    } = options;
    this.#minBytes = minBytes;
    this.#maxBytes = maxBytes;
    this.#shrinkAfterReads = shrinkAfterReads;
    this.#headroom = headroomBytes;
    this.#whole = new Uint8Array(minBytes);
    this.#bytes = this.#regionOf(this.#whole);
  }

  /** The region to read into next (after the headroom). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The whole buffer, headroom included: `bytes` is a view into it. */
  get whole(): Uint8Array {
    return this.#whole;
  }

  /**
   * Adapts after a read of `count` bytes.
   * @param count Bytes the read returned.
   * @param isRetained Whether views into the buffer are still in use.
   */
  afterRead(count: number, isRetained: boolean): void {
    const size = this.#whole.length;
    if (count === this.#bytes.length && size < this.#maxBytes) {
      this.#smallReads = 0;
      this.#use(Math.min(size * 2, this.#maxBytes));
      return;
    }
    if (count < size >>> 3 && size > this.#minBytes) {
      if (++this.#smallReads >= this.#shrinkAfterReads) {
        this.#smallReads = 0;
        this.#use(size >>> 1);
        return;
      }
    } else {
      this.#smallReads = 0;
    }
    if (isRetained) this.#use(size);
  }

  /**
   * Takes back a buffer this instance handed out and that nothing refers to
   * any more, for reuse instead of allocating. Buffers of another size, or
   * beyond a small pool, are left to the garbage collector.
   * @param buffer The buffer (`whole.buffer` of an earlier read).
   */
  release(buffer: ArrayBufferLike): void {
    if (
      buffer !== this.#whole.buffer && buffer instanceof ArrayBuffer &&
      buffer.byteLength === this.#whole.length
    ) {
      const pool = this.#pool ??= [];
      if (pool.length < MAX_POOLED && !pool.includes(buffer)) pool.push(buffer);
    }
  }

  /** Drops the released buffers kept for reuse (the session went idle). */
  trim(): void {
    this.#pool = undefined;
  }

  /** Switches to a fresh buffer of `size` bytes, pooled when possible. */
  #use(size: number): void {
    const pool = this.#pool;
    let whole: Uint8Array | undefined;
    while (pool !== undefined && pool.length > 0 && whole === undefined) {
      const candidate = pool.pop()!;
      if (candidate.byteLength === size) whole = new Uint8Array(candidate);
    }
    this.#whole = whole ?? new Uint8Array(size);
    this.#bytes = this.#regionOf(this.#whole);
  }

  #regionOf(whole: Uint8Array): Uint8Array {
    return this.#headroom === 0 ? whole : whole.subarray(this.#headroom);
  }
}
