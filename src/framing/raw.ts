/**
 * The `raw` framing: no frames at all. Bytes read from TCP are passed on as
 * they arrive, and messages are written verbatim.
 *
 * @module
 */

import { TruncatedFrameError } from "../errors.ts";
import { checkMessageSize } from "./_message_size.ts";
import type { FrameDecoder, FrameEncoder, MessageSink } from "./codec.ts";
import { normalizeFramingSpec, type RawFramingSpec } from "./spec.ts";

const EMPTY = new Uint8Array(0);

/**
 * Where the last complete UTF-8 sequence of `bytes[start, end)` ends: `end`
 * unless the range ends inside a multi-byte sequence. Invalid sequences are
 * left for the UTF-8 validation of the caller.
 */
function utf8Boundary(bytes: Uint8Array, start: number, end: number): number {
  const floor = Math.max(start, end - 3);
  for (let i = end - 1; i >= floor; i--) {
    const byte = bytes[i] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return end - i < needed && byte < 0xf8 ? i : end;
  }
  return end;
}

/**
 * Decodes the `raw` framing: each non-empty pushed chunk becomes one message
 * (a view of the chunk). A chunk longer than `maxFrameBytes` is passed on as
 * several messages of at most `maxFrameBytes` each. Empty chunks yield
 * nothing.
 *
 * With `text`, messages end on UTF-8 character boundaries: up to 3 bytes of a
 * character split across chunks are held back and passed on, as a small
 * message of their own, once the character is complete. `finish()` throws
 * only then: {@linkcode TruncatedFrameError} when the stream ends inside a
 * character. Without `text` it never throws.
 *
 * @example Usage
 * ```ts
 * import { RawDecoder } from "./raw.ts";
 * import assert from "node:assert/strict";
 * const decoder = new RawDecoder({ kind: "raw", maxFrameBytes: 2, text: false });
 * const messages: number[][] = [];
 * decoder.push(new Uint8Array([1, 2, 3]), (m) => messages.push([...m]));
 * decoder.finish();
 * assert.deepEqual(messages, [[1, 2], [3]]);
 * ```
 */
export class RawDecoder implements FrameDecoder {
  #max: number;
  #text: boolean;
  #held = new Uint8Array(4);
  #heldLength = 0;

  /**
   * Constructs a new instance.
   * @param spec The `raw` framing.
   */
  constructor(spec: RawFramingSpec) {
    const checked = normalizeFramingSpec(spec);
    this.#max = checked.maxFrameBytes;
    this.#text = checked.text;
  }

  /** Bytes of an incomplete UTF-8 character held back (`text` only). */
  get pendingBytes(): number {
    return this.#heldLength;
  }

  /**
   * Passes `chunk` on as one message, or several when it is longer than the
   * maximum.
   * @param chunk The next bytes; may be empty.
   * @param onMessage Called for each message.
   */
  push(chunk: Uint8Array, onMessage: MessageSink): void {
    let start = 0;
    let end = chunk.length;
    if (this.#text) {
      if (this.#heldLength > 0) start = this.#completeHeld(chunk, onMessage);
      if (this.#heldLength > 0) return;
      end = utf8Boundary(chunk, start, end);
      this.#held.set(chunk.subarray(end), 0);
      this.#heldLength = chunk.length - end;
    }
    const max = this.#max;
    while (end - start > max) {
      let cut = start + max;
      if (this.#text) {
        const boundary = utf8Boundary(chunk, start, cut);
        if (boundary > start) cut = boundary;
      }
      onMessage(chunk.subarray(start, cut));
      start = cut;
    }
    if (end > start) onMessage(chunk.subarray(start, end));
  }

  /** Adds bytes to the held character; passes it on once complete. */
  #completeHeld(chunk: Uint8Array, onMessage: MessageSink): number {
    const held = this.#held;
    const lead = held[0] as number;
    const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    let taken = 0;
    while (this.#heldLength < needed && taken < chunk.length) {
      const byte = chunk[taken] as number;
      // A byte that cannot continue the character ends it early: pass on the
      // invalid bytes and let UTF-8 validation reject them.
      if ((byte & 0xc0) !== 0x80) break;
      held[this.#heldLength++] = byte;
      taken++;
    }
    if (this.#heldLength < needed && taken === chunk.length) return taken;
    const message = held.slice(0, this.#heldLength);
    this.#heldLength = 0;
    onMessage(message);
    return taken;
  }

  /**
   * Ends the stream.
   * @throws {TruncatedFrameError} With `text`, when the stream ends inside a
   * UTF-8 character.
   */
  finish(): void {
    if (this.#heldLength > 0) throw new TruncatedFrameError(this.#heldLength);
  }
}

/**
 * Encodes the `raw` framing: the frame is the message itself (an empty
 * message is an empty frame: nothing to write).
 *
 * @example Usage
 * ```ts
 * import { RawEncoder } from "./raw.ts";
 * import assert from "node:assert/strict";
 * const encoder = new RawEncoder({ kind: "raw", maxFrameBytes: 4, text: false });
 * assert.deepEqual(encoder.encode(new Uint8Array([1, 2])), new Uint8Array([1, 2]));
 * assert.throws(() => encoder.encode(new Uint8Array(5)), RangeError);
 * ```
 */
export class RawEncoder implements FrameEncoder {
  /** Always 0: there is no head. */
  readonly bodyOffset = 0;
  /** Always empty. */
  readonly trailer: Uint8Array = EMPTY;
  #max: number;

  /**
   * Constructs a new instance.
   * @param spec The `raw` framing.
   */
  constructor(spec: RawFramingSpec) {
    this.#max = normalizeFramingSpec(spec).maxFrameBytes;
  }

  /**
   * Checks the size of `message`.
   * @param message The message.
   * @returns Its length.
   * @throws {FrameTooLargeError} When it is longer than `maxFrameBytes`.
   */
  frameLength(message: Uint8Array): number {
    checkMessageSize(message.length, this.#max, "message");
    return message.length;
  }

  /**
   * Writes nothing: `raw` has no head.
   * @param _message Unused.
   * @param _target Unused.
   * @param _offset Unused.
   * @returns 0.
   */
  encodeHeadInto(
    _message: Uint8Array,
    _target: Uint8Array,
    _offset: number,
  ): number {
    return 0;
  }

  /**
   * Copies `message` into `target` at `offset`.
   * @param message The message.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The message length.
   */
  encodeInto(message: Uint8Array, target: Uint8Array, offset: number): number {
    target.set(message, offset);
    return message.length;
  }

  /**
   * Returns a copy of `message` after checking its size.
   * @param message The message.
   * @returns The frame bytes.
   */
  encode(message: Uint8Array): Uint8Array {
    this.frameLength(message);
    return message.slice();
  }
}
