/**
 * An incremental splitter for test backends that read u32be-framed streams
 * (4-byte big-endian length, then the payload) in arbitrary chunks.
 *
 * @module
 */

import { concat } from "./backends.ts";

/**
 * Splits a u32be stream into payloads, keeping the partial tail.
 *
 * @example A frame split across two chunks
 * ```ts
 * import { assertEquals } from "./assert.ts";
 * import { U32beSplitter } from "./u32be_splitter.ts";
 *
 * const splitter = new U32beSplitter();
 * assertEquals(splitter.push(new Uint8Array([0, 0, 0, 2, 7])), []);
 * assertEquals(splitter.pendingBytes, 5);
 * assertEquals(splitter.push(new Uint8Array([8])), [new Uint8Array([7, 8])]);
 * assertEquals(splitter.pendingBytes, 0);
 * ```
 */
export class U32beSplitter {
  #pending: Uint8Array = new Uint8Array(0);

  /**
   * Adds `chunk` to the stream.
   *
   * @param chunk The next bytes of the stream.
   * @returns The payloads of the frames it completed, in order.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const bytes = this.#pending.length === 0
      ? chunk
      : concat([this.#pending, chunk]);
    const out: Uint8Array[] = [];
    let at = 0;
    while (bytes.length - at >= 4) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + at)
        .getUint32(0);
      if (bytes.length - at - 4 < length) break;
      out.push(bytes.slice(at + 4, at + 4 + length));
      at += 4 + length;
    }
    this.#pending = bytes.slice(at);
    return out;
  }

  /** Bytes held of a frame that is not complete yet. */
  get pendingBytes(): number {
    return this.#pending.length;
  }
}
