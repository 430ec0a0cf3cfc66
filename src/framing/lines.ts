/**
 * The `lines` framing: each message is a line ended by `\n`, or by `\r\n` with
 * `crlf`.
 *
 * With `crlf` only `\r\n` ends a line, in both directions: a lone `\n` or a
 * lone `\r` is data. Without it `\n` ends a line and a `\r` before it is data.
 * `max` bounds the line without its delimiter.
 *
 * @module
 */

import {
  FrameTooLargeError,
  InvalidMessageError,
  TruncatedFrameError,
} from "../errors.ts";
import { checkMessageSize } from "./_message_size.ts";
import type { FrameDecoder, FrameEncoder, MessageSink } from "./codec.ts";
import { type LinesFramingSpec, normalizeFramingSpec } from "./spec.ts";

const LF = 0x0a;
const CR = 0x0d;
const INITIAL_PENDING_BYTES = 256;
/** A pending buffer above this size is dropped once its line is complete. */
const KEEP_PENDING_BYTES = 64 * 1024;

function tooLong(size: number, max: number): FrameTooLargeError {
  return new FrameTooLargeError(
    size,
    max,
    `Cannot decode line as its length must be <= ${max}: current value is at least ${size}`,
  );
}

/**
 * Decodes the `lines` framing. A line inside one chunk is passed on as a view
 * of the chunk; a line spanning chunks is gathered in a growing buffer (never
 * more than `maxFrameBytes + 1` bytes) and passed on as one new array.
 *
 * @example Usage
 * ```ts
 * import { LinesDecoder } from "./lines.ts";
 * import assert from "node:assert/strict";
 * const decoder = new LinesDecoder({
 *   kind: "lines", crlf: true, maxFrameBytes: 100, text: true,
 * });
 * const lines: string[] = [];
 * const sink = (m: Uint8Array) => lines.push(new TextDecoder().decode(m));
 * decoder.push(new TextEncoder().encode("a\nb\r"), sink);
 * decoder.push(new TextEncoder().encode("\nc\r\n"), sink);
 * decoder.finish();
 * assert.deepEqual(lines, ["a\nb", "c"]);
 * ```
 */
export class LinesDecoder implements FrameDecoder {
  #crlf: boolean;
  #max: number;
  #pending = new Uint8Array(0);
  #pendingLength = 0;

  /**
   * Constructs a new instance.
   * @param spec The `lines` framing.
   */
  constructor(spec: LinesFramingSpec) {
    const checked = normalizeFramingSpec(spec) as LinesFramingSpec;
    this.#crlf = checked.crlf;
    this.#max = checked.maxFrameBytes;
  }

  /** Bytes of an incomplete line held back. */
  get pendingBytes(): number {
    return this.#pendingLength;
  }

  /**
   * Feeds the next bytes of the stream.
   * @param chunk The next bytes; may be empty.
   * @param onMessage Called for each complete line, without its delimiter.
   * @throws {FrameTooLargeError} When a line is longer than `maxFrameBytes`.
   */
  push(chunk: Uint8Array, onMessage: MessageSink): void {
    const end = chunk.length;
    const max = this.#max;
    const crlf = this.#crlf;
    let start = 0;
    if (this.#pendingLength > 0) {
      start = this.#completePending(chunk, onMessage);
      if (start < 0) return;
    }
    let from = start;
    while (from < end) {
      const lf = chunk.indexOf(LF, from);
      if (lf < 0) break;
      let lineEnd = lf;
      if (crlf) {
        // A `\n` ends a line only after a `\r` of the same line.
        if (lf === start || chunk[lf - 1] !== CR) {
          from = lf + 1;
          continue;
        }
        lineEnd = lf - 1;
      }
      if (lineEnd - start > max) throw tooLong(lineEnd - start, max);
      onMessage(chunk.subarray(start, lineEnd));
      start = lf + 1;
      from = start;
    }
    if (start < end) this.#hold(chunk, start);
  }

  /**
   * Looks for the end of the pending line in `chunk`. Returns where the rest
   * of `chunk` starts, or -1 when the whole chunk was held.
   */
  #completePending(chunk: Uint8Array, onMessage: MessageSink): number {
    const pending = this.#pending;
    const pendingLength = this.#pendingLength;
    let lf = chunk.indexOf(LF);
    if (this.#crlf) {
      while (lf >= 0) {
        const before = lf > 0 ? chunk[lf - 1] : pending[pendingLength - 1];
        if (before === CR) break;
        lf = chunk.indexOf(LF, lf + 1);
      }
    }
    if (lf < 0) {
      this.#hold(chunk, 0);
      return -1;
    }
    // Bytes of the line in the chunk and in the pending buffer.
    let inChunk = lf;
    let inPending = pendingLength;
    if (this.#crlf) {
      if (lf > 0) inChunk--;
      else inPending--;
    }
    const length = inPending + inChunk;
    if (length > this.#max) throw tooLong(length, this.#max);
    const line = new Uint8Array(length);
    line.set(pending.subarray(0, inPending), 0);
    line.set(chunk.subarray(0, inChunk), inPending);
    this.#pendingLength = 0;
    if (pending.length > KEEP_PENDING_BYTES) {
      this.#pending = new Uint8Array(0);
    }
    onMessage(line);
    return lf + 1;
  }

  /** Appends `chunk[start, end)` to the pending line, within the limit. */
  #hold(chunk: Uint8Array, start: number): void {
    const added = chunk.length - start;
    if (added === 0) return;
    const total = this.#pendingLength + added;
    // With crlf the last byte may be the `\r` of the delimiter.
    const last = chunk[chunk.length - 1];
    const content = this.#crlf && last === CR ? total - 1 : total;
    if (content > this.#max) throw tooLong(content, this.#max);
    if (total > this.#pending.length) {
      let size = Math.max(INITIAL_PENDING_BYTES, this.#pending.length * 2);
      while (size < total) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.#max + 1));
      grown.set(this.#pending.subarray(0, this.#pendingLength), 0);
      this.#pending = grown;
    }
    this.#pending.set(chunk.subarray(start), this.#pendingLength);
    this.#pendingLength = total;
  }

  /**
   * Ends the stream.
   * @throws {TruncatedFrameError} When an unterminated line is held.
   */
  finish(): void {
    if (this.#pendingLength > 0) {
      throw new TruncatedFrameError(this.#pendingLength);
    }
  }
}

/**
 * Encodes the `lines` framing: the message followed by `\n` (or `\r\n`).
 *
 * @example Usage
 * ```ts
 * import { LinesEncoder } from "./lines.ts";
 * import assert from "node:assert/strict";
 * const encoder = new LinesEncoder({
 *   kind: "lines", crlf: false, maxFrameBytes: 100, text: true,
 * });
 * const frame = encoder.encode(new TextEncoder().encode("hi"));
 * assert.equal(new TextDecoder().decode(frame), "hi\n");
 * assert.throws(() => encoder.encode(new TextEncoder().encode("a\nb")), TypeError);
 * ```
 */
export class LinesEncoder implements FrameEncoder {
  /** Always 0: there is no head. */
  readonly bodyOffset = 0;
  /** `\n`, or `\r\n` with `crlf`. */
  readonly trailer: Uint8Array;
  #crlf: boolean;
  #max: number;

  /**
   * Constructs a new instance.
   * @param spec The `lines` framing.
   */
  constructor(spec: LinesFramingSpec) {
    const checked = normalizeFramingSpec(spec) as LinesFramingSpec;
    this.#crlf = checked.crlf;
    this.#max = checked.maxFrameBytes;
    this.trailer = new Uint8Array(this.#crlf ? [CR, LF] : [LF]);
  }

  /**
   * Checks `message` and returns the length of its frame.
   * @param message The line, without delimiter.
   * @returns The message length plus the delimiter length.
   * @throws {FrameTooLargeError} When it is longer than `maxFrameBytes`.
   * @throws {InvalidMessageError} When it contains the delimiter.
   */
  frameLength(message: Uint8Array): number {
    const length = message.length;
    checkMessageSize(length, this.#max, "line");
    let lf = message.indexOf(LF);
    if (this.#crlf) {
      while (lf === 0 || (lf > 0 && message[lf - 1] !== CR)) {
        lf = message.indexOf(LF, lf + 1);
      }
    }
    if (lf >= 0) {
      const delimiter = this.#crlf ? "\\r\\n" : "\\n";
      throw new InvalidMessageError(
        `Cannot encode line as it must not contain "${delimiter}": found at index ${
          this.#crlf ? lf - 1 : lf
        }`,
      );
    }
    return length + this.trailer.length;
  }

  /**
   * Writes nothing: `lines` has no head.
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
   * Writes the line and its delimiter. Does not check for the delimiter:
   * call `frameLength` first.
   * @param message The line.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The frame length.
   */
  encodeInto(message: Uint8Array, target: Uint8Array, offset: number): number {
    let at = offset + message.length;
    target.set(message, offset);
    if (this.#crlf) target[at++] = CR;
    target[at++] = LF;
    return at - offset;
  }

  /**
   * Checks `message` and returns its frame.
   * @param message The line.
   * @returns The frame bytes.
   */
  encode(message: Uint8Array): Uint8Array {
    const frame = new Uint8Array(this.frameLength(message));
    this.encodeInto(message, frame, 0);
    return frame;
  }
}
