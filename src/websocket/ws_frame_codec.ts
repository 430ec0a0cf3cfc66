/**
 * Pure RFC 6455 frame codec: an incremental parser that turns bytes from a
 * peer into whole messages and control frames (reassembling fragments,
 * unmasking word-wise, validating UTF-8 and limits), and header writers for
 * outgoing frames. No I/O.
 *
 * @module
 */

import {
  FrameTooLargeError,
  InvalidMessageError,
  WebSocketProtocolError,
} from "../errors.ts";
import { ScratchBuffer } from "../io/scratch_buffer.ts";
import { maskKeyAt, unmaskInPlace, unmaskWithKey } from "./unmask.ts";

/** WebSocket opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  /** A continuation fragment. */
  CONTINUATION: 0x0,
  /** A text message (UTF-8). */
  TEXT: 0x1,
  /** A binary message. */
  BINARY: 0x2,
  /** The close control frame. */
  CLOSE: 0x8,
  /** The ping control frame. */
  PING: 0x9,
  /** The pong control frame. */
  PONG: 0xa,
} as const;

/** Largest header of a frame: 2 + 8 (length) + 4 (mask). */
export const MAX_FRAME_HEADER_BYTES = 14;

/** Receives what a {@linkcode WsFrameParser} decodes. */
export interface WsFrameHandler {
  /**
   * A complete data message. `payload` is unmasked; it is a view into the
   * pushed chunk when the message was one frame inside that chunk.
   * `isCompressed` is true when its first frame had RSV1 set (only possible
   * with `isCompressionNegotiated`): the payload is then raw deflate without
   * the `00 00 ff ff` tail, and a text message is not yet UTF-8 checked
   * (check it after inflating).
   */
  onMessage(isText: boolean, payload: Uint8Array, isCompressed: boolean): void;
  /** A control frame (close, ping or pong) with its unmasked payload. */
  onControl(opcode: number, payload: Uint8Array): void;
}

/** Options for {@linkcode WsFrameParser}. */
export interface WsFrameParserOptions {
  /**
   * Largest message accepted, in bytes, summed over its fragments.
   * @default {16777216}
   */
  maxMessageBytes?: number;
  /**
   * Whether frames must be masked (a server parsing client frames) or must
   * not be (a client parsing server frames).
   * @default {true}
   */
  expectMasked?: boolean;
  /**
   * Whether text messages are checked to be valid UTF-8.
   * @default {true}
   */
  validateUtf8?: boolean;
  /**
   * A payload that spans chunks and is at most this many bytes is gathered
   * in one reused scratch buffer instead of a fresh one; such a message is
   * then only valid during `onMessage` (the caller copies it). 0 turns reuse
   * off, so every message may be kept.
   * @default {0}
   */
  scratchBytes?: number;
  /**
   * Whether permessage-deflate was negotiated, so RSV1 may mark the first
   * frame of a data message as compressed. Without it RSV1 is a protocol
   * error (1002), as are RSV1 on a continuation or control frame and RSV2,
   * RSV3 always.
   * @default {false}
   */
  isCompressionNegotiated?: boolean;
}

/**
 * The RSV1 bit of a frame's first byte: "compressed" under permessage-deflate
 * (RFC 7692 section 6). OR it into the opcode given to `writeFrameHeader` to
 * send a compressed message.
 */
export const RSV1_COMPRESSED = 0x40;

const EMPTY = new Uint8Array(0);

/** The first buffer of a fragmented message holds at least this much. */
const MIN_FRAGMENT_BUFFER = 1024;

/**
 * Incremental WebSocket frame parser. Push bytes in any chunking; complete
 * messages and control frames come out through the handler, in order.
 * Throws `WebSocketProtocolError` (1002), `FrameTooLargeError` (1009) or
 * `InvalidMessageError` (1007 for invalid UTF-8); it must not be used after
 * a throw.
 *
 * Data frames are unmasked in place inside the pushed chunk, so the caller
 * gives up the chunk's bytes to the parser.
 *
 * @example Parse a masked text frame
 * ```ts
 * import { WsFrameParser, encodeClientFrame, Opcode } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * const got: string[] = [];
 * const parser = new WsFrameParser({
 *   onMessage: (_isText, payload) => got.push(new TextDecoder().decode(payload)),
 *   onControl: () => {},
 * });
 * parser.push(encodeClientFrame(Opcode.TEXT, new TextEncoder().encode("hello")));
 * assert.deepEqual(got, ["hello"]);
 * ```
 */
export class WsFrameParser {
  #handler: WsFrameHandler;
  #maxMessageBytes: number;
  #expectMasked: boolean;
  #validateUtf8: boolean;
  #isCompressionNegotiated: boolean;

  // A header split across chunks is gathered here.
  // Allocated the first time a header is split across chunks.
  #header: Uint8Array | undefined;
  #headerLength = 0;

  // The current frame whose payload spans chunks.
  #payload: Uint8Array | null = null;
  #payloadFilled = 0;
  #frameOpcode = 0;
  #frameFin = false;
  #frameCompressed = false;
  /** The current frame's masking key (see maskKeyAt). */
  #maskKey = 0;
  #masked = false;

  // A fragmented message being reassembled, in one buffer that doubles as
  // it fills (never past maxMessageBytes): a message sent as a million
  // one-byte fragments costs its bytes, not a million small arrays.
  #fragmentOpcode = 0;
  #fragmentBuffer: Uint8Array | null = null;
  #fragmentBytes = 0;
  #fragmentCompressed = false;
  #utf8: TextDecoder | null = null;
  #scratch: ScratchBuffer;

  /**
   * Constructs a new parser.
   * @param handler Receives messages and control frames.
   * @param options Limits and the masking direction.
   */
  constructor(handler: WsFrameHandler, options: WsFrameParserOptions = {}) {
    const {
      maxMessageBytes = 16 * 1024 * 1024,
      expectMasked = true,
      validateUtf8 = true,
      scratchBytes = 0,
      isCompressionNegotiated = false,
    } = options;
    this.#isCompressionNegotiated = isCompressionNegotiated;
    this.#scratch = new ScratchBuffer(scratchBytes);
    this.#handler = handler;
    this.#maxMessageBytes = maxMessageBytes;
    this.#expectMasked = expectMasked;
    this.#validateUtf8 = validateUtf8;
  }

  /** Releases the scratch buffer when no frame is in progress (idle). */
  trim(): void {
    if (this.#payload === null) this.#scratch.release();
  }

  /** Bytes held for an incomplete frame or message. */
  get pendingBytes(): number {
    return this.#headerLength + this.#payloadFilled + this.#fragmentBytes;
  }

  /**
   * Feeds the next bytes from the peer.
   * @param chunk The bytes; data payloads inside it are unmasked in place.
   */
  push(chunk: Uint8Array): void {
    let pos = 0;
    const end = chunk.length;
    if (this.#payload !== null) {
      pos = this.#fillPayload(chunk, 0);
    }
    if (this.#headerLength > 0 && pos < end) {
      pos = this.#completeSplitHeader(chunk, pos);
    }
    while (pos < end) {
      const available = end - pos;
      if (available < 2) {
        this.#stashHeader(chunk, pos, end);
        return;
      }
      const b0 = chunk[pos]!;
      const b1 = chunk[pos + 1]!;
      const lengthCode = b1 & 0x7f;
      const headerBytes = 2 +
        (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) +
        ((b1 & 0x80) !== 0 ? 4 : 0);
      if (available < headerBytes) {
        this.#stashHeader(chunk, pos, end);
        return;
      }
      const payloadLength = this.#readHeader(chunk, pos, b0, b1, lengthCode);
      pos += headerBytes;
      if (end - pos >= payloadLength) {
        // A direct view: cheaper than subarray (no species lookup), and
        // this runs once per message.
        const payload = new Uint8Array(
          chunk.buffer,
          chunk.byteOffset + pos,
          payloadLength,
        );
        if (this.#masked) unmaskWithKey(payload, this.#maskKey, 0);
        pos += payloadLength;
        this.#deliverFrame(payload);
      } else {
        // The payload spans chunks: its size was checked against the limit
        // in #readHeader, so allocating it once here is bounded.
        this.#payload = this.#scratch.take(payloadLength);
        this.#payloadFilled = 0;
        pos = this.#fillPayload(chunk, pos);
      }
    }
  }

  #stashHeader(chunk: Uint8Array, from: number, to: number): void {
    (this.#header ??= new Uint8Array(MAX_FRAME_HEADER_BYTES)).set(
      chunk.subarray(from, to),
      this.#headerLength,
    );
    this.#headerLength += to - from;
  }

  /** Completes a header that began in an earlier chunk; returns new pos. */
  #completeSplitHeader(chunk: Uint8Array, pos: number): number {
    const header = this.#header!;
    const take = Math.min(
      MAX_FRAME_HEADER_BYTES - this.#headerLength,
      chunk.length - pos,
    );
    header.set(chunk.subarray(pos, pos + take), this.#headerLength);
    const have = this.#headerLength + take;
    if (have < 2) {
      this.#headerLength = have;
      return pos + take;
    }
    const b0 = header[0]!;
    const b1 = header[1]!;
    const lengthCode = b1 & 0x7f;
    const headerBytes = 2 +
      (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) +
      ((b1 & 0x80) !== 0 ? 4 : 0);
    if (have < headerBytes) {
      this.#headerLength = have;
      return pos + take;
    }
    const consumed = headerBytes - this.#headerLength;
    this.#headerLength = 0;
    const payloadLength = this.#readHeader(header, 0, b0, b1, lengthCode);
    pos += consumed;
    if (payloadLength === 0) {
      this.#deliverFrame(EMPTY);
      return pos;
    }
    this.#payload = this.#scratch.take(payloadLength);
    this.#payloadFilled = 0;
    return this.#fillPayload(chunk, pos);
  }

  /** Validates a header and records it; returns the payload length. */
  #readHeader(
    bytes: Uint8Array,
    at: number,
    b0: number,
    b1: number,
    lengthCode: number,
  ): number {
    const opcode = b0 & 0x0f;
    const rsv = b0 & 0x70;
    // RSV1 is allowed only with permessage-deflate, and only on the first
    // frame of a data message (RFC 7692 section 6.1).
    const isCompressed = rsv === RSV1_COMPRESSED &&
      this.#isCompressionNegotiated &&
      (opcode === Opcode.TEXT || opcode === Opcode.BINARY);
    if (rsv !== 0 && !isCompressed) {
      throw new WebSocketProtocolError(
        `Cannot accept frame as its reserved bits must be 0: current value is ${
          rsv >> 4
        }`,
      );
    }
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#expectMasked) {
      throw new WebSocketProtocolError(
        masked
          ? "Cannot accept frame as server frames must not be masked"
          : "Cannot accept frame as client frames must be masked",
      );
    }
    if (opcode >= 0x8 && lengthCode > 125) {
      // Checked before the extended length is read: a control frame can
      // never be that long, whatever the length field says.
      throw new WebSocketProtocolError(
        `Cannot accept control frame as its payload must be <= 125 bytes: current length code is ${lengthCode}`,
      );
    }
    let length = lengthCode;
    let p = at + 2;
    if (lengthCode === 126) {
      length = (bytes[p]! << 8) | bytes[p + 1]!;
      p += 2;
      if (length < 126) {
        throw new WebSocketProtocolError(
          `Cannot accept frame as its length must use the minimal encoding: current value ${length} is sent in 16 bits`,
        );
      }
    } else if (lengthCode === 127) {
      const high = ((bytes[p]! << 24) | (bytes[p + 1]! << 16) |
        (bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 0;
      const low = ((bytes[p + 4]! << 24) | (bytes[p + 5]! << 16) |
        (bytes[p + 6]! << 8) | bytes[p + 7]!) >>> 0;
      if (high >= 0x80000000) {
        throw new WebSocketProtocolError(
          "Cannot accept frame as its 64-bit length has the most significant bit set",
        );
      }
      if (high >= 0x200000) {
        throw new FrameTooLargeError(
          Number.MAX_SAFE_INTEGER,
          this.#maxMessageBytes,
        );
      }
      length = high * 0x100000000 + low;
      p += 8;
      if (length < 0x10000) {
        throw new WebSocketProtocolError(
          `Cannot accept frame as its length must use the minimal encoding: current value ${length} is sent in 64 bits`,
        );
      }
    }
    if (opcode >= 0x8) {
      if (opcode > Opcode.PONG) {
        throw new WebSocketProtocolError(
          `Cannot accept frame as its opcode is reserved: current value is ${opcode}`,
        );
      }
      if (!fin) {
        throw new WebSocketProtocolError(
          "Cannot accept control frame as it must not be fragmented",
        );
      }
      if (length > 125) {
        throw new WebSocketProtocolError(
          `Cannot accept control frame as its payload must be <= 125 bytes: current value is ${length}`,
        );
      }
    } else if (opcode === Opcode.CONTINUATION) {
      if (this.#fragmentOpcode === 0) {
        throw new WebSocketProtocolError(
          "Cannot accept continuation frame as no message is in progress",
        );
      }
      if (this.#fragmentBytes + length > this.#maxMessageBytes) {
        throw new FrameTooLargeError(
          this.#fragmentBytes + length,
          this.#maxMessageBytes,
          `Cannot accept message as its length must be <= ${this.#maxMessageBytes}: current value is at least ${
            this.#fragmentBytes + length
          }`,
        );
      }
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      if (this.#fragmentOpcode !== 0) {
        throw new WebSocketProtocolError(
          "Cannot accept new message as the previous fragmented message is not finished",
        );
      }
      if (length > this.#maxMessageBytes) {
        throw new FrameTooLargeError(
          length,
          this.#maxMessageBytes,
          `Cannot accept message as its length must be <= ${this.#maxMessageBytes}: current value is ${length}`,
        );
      }
    } else {
      throw new WebSocketProtocolError(
        `Cannot accept frame as its opcode is reserved: current value is ${opcode}`,
      );
    }
    this.#frameOpcode = opcode;
    this.#frameFin = fin;
    this.#frameCompressed = isCompressed;
    this.#masked = masked;
    if (masked) {
      this.#maskKey = maskKeyAt(bytes, p);
    }
    return length;
  }

  /** Copies payload bytes of a spanning frame; returns the new pos. */
  #fillPayload(chunk: Uint8Array, pos: number): number {
    const payload = this.#payload!;
    const take = Math.min(
      payload.length - this.#payloadFilled,
      chunk.length - pos,
    );
    payload.set(chunk.subarray(pos, pos + take), this.#payloadFilled);
    this.#payloadFilled += take;
    pos += take;
    if (this.#payloadFilled === payload.length) {
      this.#payload = null;
      this.#payloadFilled = 0;
      if (this.#masked) unmaskWithKey(payload, this.#maskKey, 0);
      this.#deliverFrame(payload);
    }
    return pos;
  }

  #deliverFrame(payload: Uint8Array): void {
    const opcode = this.#frameOpcode;
    if (opcode >= 0x8) {
      this.#handler.onControl(opcode, payload);
      return;
    }
    if (opcode !== Opcode.CONTINUATION) {
      const isCompressed = this.#frameCompressed;
      if (this.#frameFin) {
        const isText = opcode === Opcode.TEXT;
        if (isText && this.#validateUtf8 && !isCompressed) {
          validateUtf8(payload);
        }
        this.#handler.onMessage(isText, payload, isCompressed);
        return;
      }
      this.#fragmentOpcode = opcode;
      this.#fragmentCompressed = isCompressed;
      if (opcode === Opcode.TEXT && this.#validateUtf8 && !isCompressed) {
        this.#utf8 = new TextDecoder("utf-8", { fatal: true });
      }
    }
    // Fragments of one message: copy them out (the chunk may be reused) and
    // validate text incrementally so bad UTF-8 fails at the fragment.
    if (payload.length > 0) this.#appendFragment(payload);
    if (this.#utf8 !== null) {
      try {
        this.#utf8.decode(payload, { stream: !this.#frameFin });
      } catch (cause) {
        throw new InvalidMessageError(
          "Cannot accept text message as it is not valid UTF-8",
          { cause },
        );
      }
    }
    if (!this.#frameFin) return;
    const isText = this.#fragmentOpcode === Opcode.TEXT;
    const isCompressed = this.#fragmentCompressed;
    const buffer = this.#fragmentBuffer;
    const length = this.#fragmentBytes;
    const message = buffer === null
      ? EMPTY
      : buffer.length === length
      ? buffer
      : buffer.subarray(0, length);
    this.#fragmentOpcode = 0;
    this.#fragmentBuffer = null;
    this.#fragmentBytes = 0;
    this.#fragmentCompressed = false;
    this.#utf8 = null;
    this.#handler.onMessage(isText, message, isCompressed);
  }

  #appendFragment(payload: Uint8Array): void {
    const filled = this.#fragmentBytes;
    const needed = filled + payload.length;
    let buffer = this.#fragmentBuffer;
    if (buffer === null || needed > buffer.length) {
      // #readHeader checked needed <= maxMessageBytes.
      const grown = new Uint8Array(
        Math.min(
          this.#maxMessageBytes,
          Math.max(needed, 2 * (buffer?.length ?? 0), MIN_FRAGMENT_BUFFER),
        ),
      );
      if (buffer !== null) grown.set(buffer.subarray(0, filled));
      buffer = this.#fragmentBuffer = grown;
    }
    buffer.set(payload, filled);
    this.#fragmentBytes = needed;
  }
}

const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Throws `InvalidMessageError` unless `bytes` is valid UTF-8.
 *
 * @example Reject a lone continuation byte
 * ```ts
 * import { validateUtf8 } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => validateUtf8(new Uint8Array([0x80])));
 * ```
 *
 * @param bytes The bytes to check.
 */
export function validateUtf8(bytes: Uint8Array): void {
  // ASCII fast path: most text messages never reach the decoder.
  let i = 0;
  const length = bytes.length;
  while (i < length && bytes[i]! < 0x80) i++;
  if (i === length) return;
  try {
    UTF8_DECODER.decode(bytes.subarray(i));
  } catch (cause) {
    throw new InvalidMessageError(
      "Cannot accept text message as it is not valid UTF-8",
      { cause },
    );
  }
}

/**
 * Returns the size of a server (unmasked) frame header for a payload length.
 *
 * @example Sizes at the length-code boundaries
 * ```ts
 * import { frameHeaderLength } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([125, 126, 65536].map((n) => frameHeaderLength(n)), [2, 4, 10]);
 * ```
 *
 * @param payloadLength The payload length in bytes.
 * @returns The header length in bytes.
 */
export function frameHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
}

/**
 * Writes an unmasked, final frame header (server to client).
 *
 * @example A binary frame header
 * ```ts
 * import { writeFrameHeader, Opcode } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * const target = new Uint8Array(10);
 * assert.equal(writeFrameHeader(target, 0, Opcode.BINARY, 300), 4);
 * assert.deepEqual([...target.subarray(0, 4)], [0x82, 126, 1, 44]);
 * ```
 *
 * @param target Where to write.
 * @param offset Where in `target` to start.
 * @param opcode The frame opcode, OR'ed with `RSV1_COMPRESSED` for a
 * compressed message.
 * @param payloadLength The payload length in bytes.
 * @returns The number of header bytes written.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
): number {
  target[offset] = 0x80 | opcode;
  if (payloadLength < 126) {
    target[offset + 1] = payloadLength;
    return 2;
  }
  if (payloadLength < 0x10000) {
    target[offset + 1] = 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    return 4;
  }
  target[offset + 1] = 127;
  const high = Math.floor(payloadLength / 0x100000000);
  const low = payloadLength >>> 0;
  target[offset + 2] = high >>> 24;
  target[offset + 3] = (high >>> 16) & 0xff;
  target[offset + 4] = (high >>> 8) & 0xff;
  target[offset + 5] = high & 0xff;
  target[offset + 6] = low >>> 24;
  target[offset + 7] = (low >>> 16) & 0xff;
  target[offset + 8] = (low >>> 8) & 0xff;
  target[offset + 9] = low & 0xff;
  return 10;
}

/**
 * Builds a complete unmasked (server to client) frame.
 *
 * @example A pong frame
 * ```ts
 * import { encodeServerFrame, Opcode } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...encodeServerFrame(Opcode.PONG, new Uint8Array([7]))], [0x8a, 1, 7]);
 * ```
 *
 * @param opcode The opcode.
 * @param payload The payload.
 * @returns The frame bytes.
 */
export function encodeServerFrame(
  opcode: number,
  payload: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(
    frameHeaderLength(payload.length) + payload.length,
  );
  const header = writeFrameHeader(out, 0, opcode, payload.length);
  out.set(payload, header);
  return out;
}

/** Options for {@linkcode encodeClientFrame}. */
export interface ClientFrameOptions {
  /** Whether the FIN bit is set. @default {true} */
  fin?: boolean;
  /** The masking key; random when omitted. */
  mask?: Uint8Array;
  /** Whether the frame is masked at all (tests send unmasked frames). @default {true} */
  masked?: boolean;
  /** RSV bits to set (0-7), for conformance tests. @default {0} */
  rsv?: number;
}

/**
 * Builds a client (masked) frame; used by tests and load generators.
 *
 * @example A masked binary frame round-trips through the parser
 * ```ts
 * import { encodeClientFrame, Opcode } from "./ws_frame_codec.ts";
 * import assert from "node:assert/strict";
 * const frame = encodeClientFrame(Opcode.BINARY, new Uint8Array([1, 2]));
 * assert.equal(frame.length, 2 + 4 + 2);
 * ```
 *
 * @param opcode The opcode.
 * @param payload The unmasked payload.
 * @param options FIN, mask and RSV bits.
 * @returns The frame bytes.
 */
export function encodeClientFrame(
  opcode: number,
  payload: Uint8Array,
  options: ClientFrameOptions = {},
): Uint8Array {
  const { fin = true, masked = true, rsv = 0 } = options;
  const mask = options.mask ?? crypto.getRandomValues(new Uint8Array(4));
  const headerLength = frameHeaderLength(payload.length);
  const out = new Uint8Array(
    headerLength + (masked ? 4 : 0) + payload.length,
  );
  writeFrameHeader(out, 0, opcode, payload.length);
  out[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | opcode;
  let at = headerLength;
  if (masked) {
    out[1] = out[1]! | 0x80;
    out.set(mask, at);
    at += 4;
  }
  out.set(payload, at);
  if (masked) unmaskInPlace(out.subarray(at), mask, 0);
  return out;
}
