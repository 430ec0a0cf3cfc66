/**
 * The fixed-width length framings `u8` ... `u64le`, with `offset`, `adjust`
 * and `whole`.
 *
 * A frame on the wire is `prefix (offset bytes) + length field (width bytes)
 * + rest`, where a length field holding L means `rest` is L + adjust bytes.
 * The header is `prefix + length field`.
 *
 * - Without `whole` the message is `prefix + rest`: the length field is
 *   dropped when decoding and computed when encoding
 *   (L = message.length - offset - adjust).
 * - With `whole` the message is the whole frame; the encoder only checks that
 *   the message is exactly one well-formed frame.
 *
 * `maxFrameBytes` bounds the message (for `whole`, the frame). The decoder
 * checks each length field before buffering anything of that size:
 * a computed `rest` below 0 or a u64 above 2^53 - 1 is a
 * {@linkcode MalformedFrameError} (1002); a message above the maximum is a
 * {@linkcode FrameTooLargeError} (1009) carrying the announced message size.
 *
 * @module
 */

import {
  FrameTooLargeError,
  InvalidMessageError,
  LengthFieldIsTextError,
  MalformedFrameError,
  TruncatedFrameError,
} from "../errors.ts";
import { checkMessageSize } from "./_message_size.ts";
import type {
  FrameDecoder,
  FrameDecoderOptions,
  FrameEncoder,
  MessageSink,
} from "./codec.ts";
import {
  type LengthFramingSpec,
  maxMessageBytes,
  normalizeFramingSpec,
} from "./spec.ts";
import { ScratchBuffer } from "../io/scratch_buffer.ts";

const EMPTY = new Uint8Array(0);
const TWO_POW_32 = 2 ** 32;
/** Below this many bytes a loop copies faster than `subarray` + `set`. */
const SMALL_COPY_BYTES = 32;

/**
 * Reads a length field. Returns -1 for a u64 above 2^53 - 1.
 * The caller guarantees `width` bytes at `at`.
 */
function readLengthField(
  bytes: Uint8Array,
  at: number,
  width: number,
  littleEndian: boolean,
): number {
  switch (width) {
    case 4:
      return littleEndian
        ? (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) |
          (bytes[at + 3]! << 24)) >>> 0
        : ((bytes[at]! << 24) | (bytes[at + 1]! << 16) |
          (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
    case 2:
      return littleEndian
        ? bytes[at]! | (bytes[at + 1]! << 8)
        : (bytes[at]! << 8) | bytes[at + 1]!;
    case 1:
      return bytes[at]!;
    case 3:
      return littleEndian
        ? bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)
        : (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
    default: {
      const high = readLengthField(
        bytes,
        littleEndian ? at + 4 : at,
        4,
        littleEndian,
      );
      const low = readLengthField(
        bytes,
        littleEndian ? at : at + 4,
        4,
        littleEndian,
      );
      return high > 0x1fffff ? -1 : high * TWO_POW_32 + low;
    }
  }
}

/** Writes a length field; `value` fits `width` (checked by the caller). */
function writeLengthField(
  bytes: Uint8Array,
  at: number,
  value: number,
  width: number,
  littleEndian: boolean,
): void {
  if (width === 8) {
    const high = Math.floor(value / TWO_POW_32);
    const low = value >>> 0;
    writeLengthField(bytes, littleEndian ? at + 4 : at, high, 4, littleEndian);
    writeLengthField(bytes, littleEndian ? at : at + 4, low, 4, littleEndian);
    return;
  }
  if (width === 4 && !littleEndian) {
    // u32be, the most common framing, without the loop.
    bytes[at] = value >>> 24;
    bytes[at + 1] = value >>> 16;
    bytes[at + 2] = value >>> 8;
    bytes[at + 3] = value;
    return;
  }
  for (let i = 0; i < width; i++) {
    const shift = 8 * (littleEndian ? i : width - 1 - i);
    bytes[at + i] = value >>> shift;
  }
}

/** Copies `source[start, end)` into `target` at `at`. */
function copyBytes(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  at: number,
): void {
  if (end - start < SMALL_COPY_BYTES) {
    for (let i = start; i < end; i++) target[at++] = source[i]!;
  } else if (start === 0 && end === source.length) {
    // The whole source (the common case): no view to allocate.
    target.set(source, at);
  } else {
    target.set(source.subarray(start, end), at);
  }
}

/**
 * Decodes a fixed-width length framing. A frame inside one chunk is passed on
 * as a view of the chunk. Without `whole` and with `offset` > 0 the message
 * is not contiguous on the wire (the length field sits inside it): the prefix
 * and the rest are copied, next to each other, into a buffer allocated once
 * per push, and the message is a view of that buffer. A frame spanning chunks
 * is copied once into an array of exactly the message size.
 *
 * @example Usage
 * ```ts
 * import { LengthPrefixDecoder } from "./length_prefix.ts";
 * import { parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = parseFramingSpec("u16be");
 * const decoder = new LengthPrefixDecoder(spec.kind === "length" ? spec : assert.fail());
 * const messages: number[][] = [];
 * decoder.push(new Uint8Array([0, 2, 7, 8, 0]), (m) => messages.push([...m]));
 * decoder.push(new Uint8Array([1, 9]), (m) => messages.push([...m]));
 * decoder.finish();
 * assert.deepEqual(messages, [[7, 8], [9]]);
 * ```
 */
export class LengthPrefixDecoder implements FrameDecoder {
  #width: number;
  #littleEndian: boolean;
  #offset: number;
  #adjust: number;
  #whole: boolean;
  #max: number;
  /** Bytes from the frame start to the end of the length field. */
  #headerSize: number;
  /** The largest `rest` accepted: the maximum minus the header bytes kept. */
  #restLimit: number;
  /** The header of the next frame while it is incomplete (made when first needed). */
  #head: Uint8Array = EMPTY;
  #headLength = 0;
  /** The message being filled from a frame spanning chunks. */
  #message: Uint8Array | undefined;
  #filled = 0;
  /** Spanning messages are gathered here (see FrameDecoderOptions). */
  #scratch: ScratchBuffer;

  /**
   * Constructs a new instance.
   * @param spec The length framing.
   * @param options Scratch reuse for spanning frames (see
   * {@linkcode FrameDecoderOptions}).
   */
  constructor(spec: LengthFramingSpec, options: FrameDecoderOptions = {}) {
    this.#scratch = new ScratchBuffer(options.scratchBytes ?? 0);
    const checked = normalizeFramingSpec(spec) as LengthFramingSpec;
    this.#width = checked.width;
    this.#littleEndian = checked.littleEndian;
    this.#offset = checked.offset;
    this.#adjust = checked.adjust;
    this.#whole = checked.whole;
    this.#max = checked.maxFrameBytes;
    this.#headerSize = checked.offset + checked.width;
    this.#restLimit = checked.maxFrameBytes -
      (checked.whole ? this.#headerSize : checked.offset);
  }

  /** Bytes of an incomplete frame held back, counted as on the wire. */
  get pendingBytes(): number {
    if (this.#message === undefined) return this.#headLength;
    return this.#whole ? this.#filled : this.#filled + this.#width;
  }

  /**
   * Throws the error for a length field whose `rest` is out of range;
   * `header` holds the frame's header bytes (prefix + length field).
   */
  #reject(length: number, header: Uint8Array): never {
    if (length < 0) {
      throw new MalformedFrameError(
        `Cannot decode frame as its u64 length field must be <= ${Number.MAX_SAFE_INTEGER}: current value is larger`,
      );
    }
    const adjust = this.#adjust;
    const rest = length + adjust;
    if (rest < 0) {
      throw new MalformedFrameError(
        `Cannot decode frame as its length field must be >= ${-adjust}: current value is ${length}`,
      );
    }
    const size = this.#max - this.#restLimit + rest;
    const text = lengthFieldText(
      header.subarray(this.#offset, this.#offset + this.#width),
    );
    if (text !== undefined) {
      throw new LengthFieldIsTextError(text, size, this.#max);
    }
    throw new FrameTooLargeError(
      size,
      this.#max,
      `Cannot decode frame as its message length must be <= ${this.#max}: current value is ${size}`,
    );
  }

  /**
   * Feeds the next bytes of the stream.
   * @param chunk The next bytes; may be empty.
   * @param onMessage Called for each complete message.
   * @throws {FrameTooLargeError} When a frame announces a message above
   * `maxFrameBytes`.
   * @throws {MalformedFrameError} When a length field is impossible.
   */
  push(chunk: Uint8Array, onMessage: MessageSink): void {
    const end = chunk.length;
    let at = 0;
    if (this.#headLength > 0) at = this.#completeHead(chunk, onMessage);
    if (this.#message !== undefined) {
      at = this.#fill(chunk, at, onMessage);
      if (this.#message !== undefined) return;
    }
    const width = this.#width;
    const littleEndian = this.#littleEndian;
    const offset = this.#offset;
    const adjust = this.#adjust;
    const headerSize = this.#headerSize;
    const restLimit = this.#restLimit;
    const whole = this.#whole;
    const buffer = chunk.buffer;
    const byteOffset = chunk.byteOffset;
    // Without `whole`, offset > 0 messages are copied (prefix + rest) into one
    // slab per push rather than one allocation per frame: the messages of
    // this chunk take fewer bytes than the chunk does.
    let slab = EMPTY;
    let slabAt = 0;
    while (end - at >= headerSize) {
      const length = readLengthField(chunk, at + offset, width, littleEndian);
      const rest = length + adjust;
      if (length < 0 || rest < 0 || rest > restLimit) {
        this.#reject(length, chunk.subarray(at, at + headerSize));
      }
      const frameEnd = at + headerSize + rest;
      if (frameEnd > end) {
        this.#startMessage(chunk, at, rest);
        return;
      }
      // Direct views: cheaper than subarray (no species lookup), and this
      // runs once per message.
      if (whole) {
        onMessage(new Uint8Array(buffer, byteOffset + at, frameEnd - at));
      } else if (offset === 0) {
        onMessage(
          new Uint8Array(buffer, byteOffset + at + headerSize, rest),
        );
      } else {
        if (slab.length === 0) {
          slab = new Uint8Array(end - at);
          slabAt = 0;
        }
        copyBytes(chunk, at, at + offset, slab, slabAt);
        copyBytes(chunk, at + headerSize, frameEnd, slab, slabAt + offset);
        const next = slabAt + offset + rest;
        onMessage(slab.subarray(slabAt, next));
        slabAt = next;
      }
      at = frameEnd;
    }
    if (at < end) {
      if (this.#head.length === 0) {
        this.#head = new Uint8Array(this.#headerSize);
      }
      this.#head.set(chunk.subarray(at, end), 0);
      this.#headLength = end - at;
    }
  }

  /**
   * Starts a message for a frame at `chunk[at]` whose header is complete but
   * whose rest continues in later chunks.
   */
  #startMessage(chunk: Uint8Array, at: number, rest: number): void {
    const headerSize = this.#headerSize;
    const offset = this.#offset;
    const end = chunk.length;
    let message: Uint8Array;
    if (this.#whole) {
      message = this.#scratch.take(headerSize + rest);
      copyBytes(chunk, at, end, message, 0);
      this.#filled = end - at;
    } else {
      message = this.#scratch.take(offset + rest);
      copyBytes(chunk, at, at + offset, message, 0);
      copyBytes(chunk, at + headerSize, end, message, offset);
      this.#filled = offset + end - at - headerSize;
    }
    this.#message = message;
  }

  /** Adds bytes to an incomplete header. Returns where the rest starts. */
  #completeHead(chunk: Uint8Array, onMessage: MessageSink): number {
    const headerSize = this.#headerSize;
    const taken = Math.min(headerSize - this.#headLength, chunk.length);
    this.#head.set(chunk.subarray(0, taken), this.#headLength);
    this.#headLength += taken;
    if (this.#headLength < headerSize) return taken;
    this.#headLength = 0;
    const head = this.#head;
    const length = readLengthField(
      head,
      this.#offset,
      this.#width,
      this.#littleEndian,
    );
    const rest = length + this.#adjust;
    if (length < 0 || rest < 0 || rest > this.#restLimit) {
      this.#reject(length, head);
    }
    const message = this.#scratch.take(
      (this.#whole ? headerSize : this.#offset) + rest,
    );
    this.#filled = this.#whole ? headerSize : this.#offset;
    message.set(head.subarray(0, this.#filled), 0);
    if (rest === 0) {
      onMessage(message);
    } else {
      this.#message = message;
    }
    return taken;
  }

  /** Copies bytes into the message being filled. Returns where they end. */
  #fill(chunk: Uint8Array, at: number, onMessage: MessageSink): number {
    const message = this.#message as Uint8Array;
    const taken = Math.min(message.length - this.#filled, chunk.length - at);
    copyBytes(chunk, at, at + taken, message, this.#filled);
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
 * Encodes a fixed-width length framing. Without `whole` it writes the
 * message prefix (`offset` bytes), the length field and the rest of the
 * message; with `whole` it checks that the message is one well-formed frame
 * and writes it verbatim.
 *
 * @example Usage
 * ```ts
 * import { LengthPrefixEncoder } from "./length_prefix.ts";
 * import { parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = parseFramingSpec("u32be,offset=1,adjust=-5");
 * const encoder = new LengthPrefixEncoder(spec.kind === "length" ? spec : assert.fail());
 * // Message: type byte 0x51 + body "hi"; the length counts the 5-byte header.
 * const frame = encoder.encode(new Uint8Array([0x51, 0x68, 0x69]));
 * assert.deepEqual(frame, new Uint8Array([0x51, 0, 0, 0, 7, 0x68, 0x69]));
 * ```
 */
export class LengthPrefixEncoder implements FrameEncoder {
  /** `offset` without `whole`, else 0. */
  readonly bodyOffset: number;
  /** Always empty. */
  readonly trailer: Uint8Array = EMPTY;
  #width: number;
  #littleEndian: boolean;
  #offset: number;
  #adjust: number;
  #whole: boolean;
  #maxMessage: number;

  /**
   * Constructs a new instance.
   * @param spec The length framing.
   */
  constructor(spec: LengthFramingSpec) {
    const checked = normalizeFramingSpec(spec) as LengthFramingSpec;
    this.#width = checked.width;
    this.#littleEndian = checked.littleEndian;
    this.#offset = checked.offset;
    this.#adjust = checked.adjust;
    this.#whole = checked.whole;
    this.#maxMessage = maxMessageBytes(checked);
    this.bodyOffset = checked.whole ? 0 : checked.offset;
  }

  /**
   * Checks `message` and returns the length of its frame.
   * @param message The message.
   * @returns The frame length.
   * @throws {FrameTooLargeError} When the message is longer than the spec can
   * carry (`maxMessageBytes`).
   * @throws {InvalidMessageError} When the message is shorter than `offset`
   * or too short for a negative length with `adjust`, or, with `whole`, is
   * not exactly one well-formed frame.
   */
  frameLength(message: Uint8Array): number {
    const size = message.length;
    checkMessageSize(size, this.#maxMessage, "message");
    const offset = this.#offset;
    if (this.#whole) {
      const headerSize = offset + this.#width;
      if (size < headerSize) {
        throw new InvalidMessageError(
          `Cannot encode message as a whole frame as it must be at least ${headerSize} bytes long: current length is ${size}`,
        );
      }
      const length = readLengthField(
        message,
        offset,
        this.#width,
        this.#littleEndian,
      );
      const frameSize = headerSize + length + this.#adjust;
      if (length < 0 || frameSize !== size) {
        throw new InvalidMessageError(
          `Cannot encode message as a whole frame as its length field must announce ${size} bytes: current value announces ${
            length < 0 ? "more than 2^53" : frameSize
          }`,
        );
      }
      return size;
    }
    if (size < offset) {
      throw new InvalidMessageError(
        `Cannot encode message as it must be at least ${offset} bytes long: current length is ${size}`,
      );
    }
    if (size - offset - this.#adjust < 0) {
      throw new InvalidMessageError(
        `Cannot encode message as it must be at least ${
          offset + this.#adjust
        } bytes long for adjust=${this.#adjust}: current length is ${size}`,
      );
    }
    return size + this.#width;
  }

  /**
   * Writes the message prefix and the length field (nothing with `whole`).
   * @param message The message, checked with `frameLength`.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The number of bytes written (`offset` + width, or 0).
   */
  encodeHeadInto(
    message: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): number {
    if (this.#whole) return 0;
    const prefix = this.#offset;
    copyBytes(message, 0, prefix, target, offset);
    const length = message.length - prefix - this.#adjust;
    writeLengthField(
      target,
      offset + prefix,
      length,
      this.#width,
      this.#littleEndian,
    );
    return prefix + this.#width;
  }

  /**
   * Writes the frame of `message`.
   * @param message The message, checked with `frameLength`.
   * @param target Where to write.
   * @param offset Where in `target` to start.
   * @returns The frame length.
   */
  encodeInto(message: Uint8Array, target: Uint8Array, offset: number): number {
    const head = this.encodeHeadInto(message, target, offset);
    const bodyOffset = this.bodyOffset;
    copyBytes(message, bodyOffset, message.length, target, offset + head);
    return head + message.length - bodyOffset;
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

/**
 * The length field as text when it has at least 2 bytes and every one is
 * printable ASCII, tab, CR or LF (`GET `, `+OK `, `HTTP`); else `undefined`.
 * A binary length this large is rare; text this regular is the usual sign
 * of a text protocol behind a length-prefixed route.
 */
function lengthFieldText(field: Uint8Array): string | undefined {
  if (field.length < 2) return undefined;
  let text = "";
  for (const byte of field) {
    const isText = (byte >= 0x20 && byte < 0x7f) || byte === 0x09 ||
      byte === 0x0a || byte === 0x0d;
    if (!isText) return undefined;
    text += String.fromCharCode(byte);
  }
  return text;
}
