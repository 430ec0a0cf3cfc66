/**
 * The `varint` framing (protobuf "delimited" messages): an unsigned LEB128
 * length, 7 bits per byte, least significant group first, high bit set on
 * every byte but the last, followed by that many message bytes.
 *
 * Only the shortest encoding of a length is valid (a final `0x00` byte after
 * another byte is overlong): this keeps `encode(decode(frame))` equal to
 * `frame`. An overlong length, one longer than 10 bytes, or one of 2^64 or
 * more (a 10th byte above 1) is a {@linkcode MalformedFrameError} (1002); a
 * length above `maxFrameBytes` is a {@linkcode FrameTooLargeError} (1009).
 *
 * @module
 */

import {
  FrameTooLargeError,
  MalformedFrameError,
  TruncatedFrameError,
} from "../errors.ts";
import { checkMessageSize } from "./_message_size.ts";
import type { FrameDecoder, FrameEncoder, MessageSink } from "./codec.ts";
import { normalizeFramingSpec, type VarintFramingSpec } from "./spec.ts";

const EMPTY = new Uint8Array(0);
/** The longest varint accepted (a 64-bit value). */
const MAX_VARINT_BYTES = 10;

/**
 * Returns how many bytes the varint for `value` takes.
 *
 * @param value A safe non-negative integer.
 * @returns 1 to 8.
 *
 * @example Usage
 * ```ts
 * import { varintLength } from "./varint.ts";
 * import assert from "node:assert/strict";
 * assert.equal(varintLength(127), 1);
 * assert.equal(varintLength(128), 2);
 * ```
 */
export function varintLength(value: number): number {
  let bytes = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Writes the varint for `value` into `target` at `offset`.
 *
 * @param value A safe non-negative integer.
 * @param target Where to write; needs {@linkcode varintLength} bytes of room.
 * @param offset Where in `target` to start.
 * @returns The number of bytes written.
 *
 * @example Usage
 * ```ts
 * import { writeVarint } from "./varint.ts";
 * import assert from "node:assert/strict";
 * const target = new Uint8Array(2);
 * assert.equal(writeVarint(300, target, 0), 2);
 * assert.deepEqual(target, new Uint8Array([0xac, 0x02]));
 * ```
 */
export function writeVarint(
  value: number,
  target: Uint8Array,
  offset: number,
): number {
  let at = offset;
  while (value >= 128) {
    target[at++] = (value & 0x7f) | 0x80;
    value = value >= 0x80000000 ? Math.floor(value / 128) : value >>> 7;
  }
  target[at++] = value;
  return at - offset;
}

function malformed(detail: string): MalformedFrameError {
  return new MalformedFrameError(`Cannot decode varint length as ${detail}`);
}

function tooLarge(length: number, max: number): FrameTooLargeError {
  return new FrameTooLargeError(
    length,
    max,
    `Cannot decode frame as its length must be <= ${max}: current value is ${length}`,
  );
}

/**
 * Decodes the `varint` framing. A frame inside one chunk is passed on as a
 * view; a frame spanning chunks is copied once into an array of exactly the
 * message size.
 *
 * @example Usage
 * ```ts
 * import { VarintDecoder } from "./varint.ts";
 * import assert from "node:assert/strict";
 * const decoder = new VarintDecoder({ kind: "varint", maxFrameBytes: 1000, text: false });
 * const messages: number[][] = [];
 * decoder.push(new Uint8Array([2, 7, 8, 0, 1]), (m) => messages.push([...m]));
 * decoder.push(new Uint8Array([9]), (m) => messages.push([...m]));
 * decoder.finish();
 * assert.deepEqual(messages, [[7, 8], [], [9]]);
 * ```
 */
export class VarintDecoder implements FrameDecoder {
  #max: number;
  #head = new Uint8Array(MAX_VARINT_BYTES);
  #headLength = 0;
  #message: Uint8Array | undefined;
  #filled = 0;
  /** The header length of the message being filled. */
  #messageHeadLength = 0;
  /** Set by `#readHead`: the length it decoded. */
  #length = 0;

  /**
   * Constructs a new instance.
   * @param spec The `varint` framing.
   */
  constructor(spec: VarintFramingSpec) {
    this.#max = normalizeFramingSpec(spec).maxFrameBytes;
  }

  /** Bytes of an incomplete frame held back (header and body). */
  get pendingBytes(): number {
    if (this.#message !== undefined) {
      return this.#messageHeadLength + this.#filled;
    }
    return this.#headLength;
  }

  /**
   * Reads a varint at `buffer[start, end)`. Returns its byte count and sets
   * `#length`, or returns 0 when `end` comes first.
   */
  #readHead(buffer: Uint8Array, start: number, end: number): number {
    let value = 0;
    let scale = 1;
    const limit = Math.min(end, start + MAX_VARINT_BYTES);
    for (let at = start; at < limit; at++) {
      const byte = buffer[at] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && at > start) {
          throw malformed(`its encoding must be minimal: overlong by 1 byte`);
        }
        // The 10th byte holds bit 63 only: more is not a 64-bit length.
        if (byte > 1 && at - start === MAX_VARINT_BYTES - 1) {
          throw malformed(
            `it must fit in 64 bits: current value is 2^64 or more`,
          );
        }
        if (value > this.#max) throw tooLarge(value, this.#max);
        this.#length = value;
        return at - start + 1;
      }
      scale *= 128;
    }
    if (limit - start === MAX_VARINT_BYTES) {
      throw malformed(
        `it must be at most ${MAX_VARINT_BYTES} bytes long: current length is more`,
      );
    }
    return 0;
  }

  /**
   * Feeds the next bytes of the stream.
   * @param chunk The next bytes; may be empty.
   * @param onMessage Called for each complete message.
   * @throws {FrameTooLargeError} When a length is above `maxFrameBytes`.
   * @throws {MalformedFrameError} When a length is overlong or 2^64 or more.
   */
  push(chunk: Uint8Array, onMessage: MessageSink): void {
    const end = chunk.length;
    const max = this.#max;
    let at = 0;
    if (this.#headLength > 0) at = this.#completeHead(chunk, onMessage);
    if (this.#message !== undefined) {
      at = this.#fill(chunk, at, onMessage);
      if (this.#message !== undefined) return;
    }
    while (at < end) {
      let headLength = 1;
      let length = chunk[at] as number;
      if (length >= 0x80) {
        headLength = this.#readHead(chunk, at, end);
        if (headLength === 0) break;
        length = this.#length;
      } else if (length > max) {
        throw tooLarge(length, max);
      }
      const bodyStart = at + headLength;
      const frameEnd = bodyStart + length;
      if (frameEnd <= end) {
        onMessage(chunk.subarray(bodyStart, frameEnd));
        at = frameEnd;
        continue;
      }
      const message = new Uint8Array(length);
      message.set(chunk.subarray(bodyStart, end), 0);
      this.#message = message;
      this.#filled = end - bodyStart;
      this.#messageHeadLength = headLength;
      return;
    }
    if (at < end) {
      this.#head.set(chunk.subarray(at, end), 0);
      this.#headLength = end - at;
    }
  }

  /** Completes a header split across chunks. Returns where the body starts. */
  #completeHead(chunk: Uint8Array, onMessage: MessageSink): number {
    const head = this.#head;
    let taken = 0;
    while (taken < chunk.length && this.#headLength < MAX_VARINT_BYTES) {
      const byte = chunk[taken++] as number;
      head[this.#headLength++] = byte;
      if (byte < 0x80) break;
    }
    const headLength = this.#readHead(head, 0, this.#headLength);
    if (headLength === 0) return taken;
    this.#headLength = 0;
    const message = new Uint8Array(this.#length);
    if (message.length === 0) {
      onMessage(message);
      return taken;
    }
    this.#message = message;
    this.#filled = 0;
    this.#messageHeadLength = headLength;
    return taken;
  }

  /** Copies body bytes into the message being filled. */
  #fill(chunk: Uint8Array, at: number, onMessage: MessageSink): number {
    const message = this.#message as Uint8Array;
    const taken = Math.min(message.length - this.#filled, chunk.length - at);
    message.set(chunk.subarray(at, at + taken), this.#filled);
    this.#filled += taken;
    if (this.#filled === message.length) {
      this.#message = undefined;
      onMessage(message);
    }
    return at + taken;
  }

  /**
   * Ends the stream.
   * @throws {TruncatedFrameError} When an incomplete frame is held.
   */
  finish(): void {
    const pending = this.pendingBytes;
    if (pending > 0) throw new TruncatedFrameError(pending);
  }
}

/**
 * Encodes the `varint` framing: varint length + message.
 *
 * @example Usage
 * ```ts
 * import { VarintEncoder } from "./varint.ts";
 * import assert from "node:assert/strict";
 * const encoder = new VarintEncoder({ kind: "varint", maxFrameBytes: 1000, text: false });
 * const frame = encoder.encode(new Uint8Array(300));
 * assert.deepEqual(frame.subarray(0, 2), new Uint8Array([0xac, 0x02]));
 * assert.equal(frame.length, 302);
 * ```
 */
export class VarintEncoder implements FrameEncoder {
  /** Always 0: the head is only the varint. */
  readonly bodyOffset = 0;
  /** Always empty. */
  readonly trailer: Uint8Array = EMPTY;
  #max: number;

  /**
   * Constructs a new instance.
   * @param spec The `varint` framing.
   */
  constructor(spec: VarintFramingSpec) {
    this.#max = normalizeFramingSpec(spec).maxFrameBytes;
  }

  /**
   * Checks the size of `message` and returns the length of its frame.
   * @param message The message.
   * @returns The varint length plus the message length.
   * @throws {FrameTooLargeError} When it is longer than `maxFrameBytes`.
   */
  frameLength(message: Uint8Array): number {
    const length = message.length;
    checkMessageSize(length, this.#max, "message");
    return varintLength(length) + length;
  }

  /**
   * Writes the varint length of `message`.
   * @param message The message.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The number of bytes written.
   */
  encodeHeadInto(
    message: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): number {
    return writeVarint(message.length, target, offset);
  }

  /**
   * Writes the frame of `message`.
   * @param message The message.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The frame length.
   */
  encodeInto(message: Uint8Array, target: Uint8Array, offset: number): number {
    const head = writeVarint(message.length, target, offset);
    target.set(message, offset + head);
    return head + message.length;
  }

  /**
   * Checks `message` and returns its frame.
   * @param message The message.
   * @returns The frame bytes.
   */
  encode(message: Uint8Array): Uint8Array {
    const frame = new Uint8Array(this.frameLength(message));
    this.encodeInto(message, frame, 0);
    return frame;
  }
}
