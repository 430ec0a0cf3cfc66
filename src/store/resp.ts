/**
 * RESP, the Redis serialization protocol: {@linkcode encodeCommand} writes a
 * command as an array of bulk strings; {@linkcode RespDecoder} reads replies
 * incrementally (RESP2, plus the RESP3 types a `HELLO 3` would bring).
 * Pure: bytes in, values out. Lengths are checked against the limits before
 * anything is allocated.
 *
 * @module
 */

import { StoreReplyError } from "./store_errors.ts";

/**
 * One decoded reply. Simple and bulk strings become strings (UTF-8), integers
 * numbers, a null bulk or array `null`, arrays (and RESP3 maps, sets, pushes,
 * flattened) arrays; an error reply is a {@linkcode StoreReplyError} value so
 * a pipeline can carry one error among other replies.
 */
export type RespValue =
  | string
  | number
  | boolean
  | null
  | StoreReplyError
  | RespValue[];

/** One command argument: a string (sent as UTF-8), a number, or bytes. */
export type RespArgument = string | number | Uint8Array;

/** Options of {@linkcode RespDecoder}. */
export interface RespDecoderOptions {
  /**
   * The longest bulk string accepted, in bytes; a longer announced length is
   * refused before allocating.
   * @default {16777216}
   */
  maxBulkBytes?: number;
  /**
   * The most elements accepted in one array (or map, set), counted per level.
   * @default {1048576}
   */
  maxArrayLength?: number;
  /**
   * The most bytes buffered while a reply is incomplete.
   * @default {33554432}
   */
  maxBufferedBytes?: number;
}

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();
const CR = 13;
const LF = 10;
/** Marks "the reply is not complete yet" inside the parser. */
const INCOMPLETE = Symbol("incomplete");
/** The longest header line (type byte, length or simple string) accepted. */
const MAX_LINE_BYTES = 65536;

/**
 * Encodes one command as a RESP array of bulk strings.
 * @param args The command name and its arguments.
 * @returns The bytes to write.
 *
 * @example Usage
 * ```ts
 * import { encodeCommand } from "./resp.ts";
 * import assert from "node:assert/strict";
 * const bytes = encodeCommand(["GET", "k"]);
 * assert.equal(new TextDecoder().decode(bytes), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
 * ```
 */
export function encodeCommand(args: readonly RespArgument[]): Uint8Array {
  const parts: Uint8Array[] = [ENCODER.encode(`*${args.length}\r\n`)];
  let total = parts[0]!.length;
  for (const arg of args) {
    const body = arg instanceof Uint8Array
      ? arg
      : ENCODER.encode(typeof arg === "number" ? String(arg) : arg);
    const head = ENCODER.encode(`$${body.length}\r\n`);
    parts.push(head, body, CRLF);
    total += head.length + body.length + 2;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
const CRLF = new Uint8Array([CR, LF]);

/**
 * Decodes RESP replies from a byte stream cut at any point: `push` keeps the
 * incomplete tail and calls back once per complete reply, in order.
 *
 * @example Usage
 * ```ts
 * import { RespDecoder } from "./resp.ts";
 * import assert from "node:assert/strict";
 * const decoder = new RespDecoder();
 * const replies: unknown[] = [];
 * const bytes = new TextEncoder().encode("+OK\r\n:42\r\n$5\r\nhel");
 * decoder.push(bytes, (reply) => replies.push(reply));
 * decoder.push(new TextEncoder().encode("lo\r\n"), (reply) => replies.push(reply));
 * assert.deepEqual(replies, ["OK", 42, "hello"]);
 * ```
 */
export class RespDecoder {
  #maxBulkBytes: number;
  #maxArrayLength: number;
  #maxBufferedBytes: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;

  /**
   * Constructs a new instance.
   * @param options The limits.
   */
  constructor(options: RespDecoderOptions = {}) {
    const {
      maxBulkBytes = 16777216,
      maxArrayLength = 1048576,
      maxBufferedBytes = 33554432,
    } = options;
    this.#maxBulkBytes = maxBulkBytes;
    this.#maxArrayLength = maxArrayLength;
    this.#maxBufferedBytes = maxBufferedBytes;
  }

  /** The number of bytes held for an incomplete reply. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  /**
   * Decodes every complete reply in the bytes held plus `chunk`.
   * @param chunk The bytes just read.
   * @param onReply Called once per complete reply, in order.
   * @throws {SyntaxError} When the bytes are not RESP.
   * @throws {RangeError} When a length or the buffered bytes exceed a limit.
   */
  push(chunk: Uint8Array, onReply: (reply: RespValue) => void): void {
    if (this.#buffer.length === 0) {
      this.#buffer = chunk;
    } else {
      const joined = new Uint8Array(this.#buffer.length + chunk.length);
      joined.set(this.#buffer);
      joined.set(chunk, this.#buffer.length);
      this.#buffer = joined;
    }
    let start = 0;
    while (start < this.#buffer.length) {
      this.#offset = start;
      const value = this.#parse();
      if (value === INCOMPLETE) break;
      start = this.#offset;
      onReply(value);
    }
    // Keep only the tail; copy it, as `chunk` belongs to the caller's buffer.
    this.#buffer = start === this.#buffer.length
      ? new Uint8Array(0)
      : this.#buffer.slice(start);
    if (this.#buffer.length > this.#maxBufferedBytes) {
      throw new RangeError(
        `Cannot buffer store reply as it must be <= ${this.#maxBufferedBytes} bytes: current value is ${this.#buffer.length}`,
      );
    }
  }

  #line(): string | typeof INCOMPLETE {
    const buffer = this.#buffer;
    const end = Math.min(buffer.length, this.#offset + MAX_LINE_BYTES);
    for (let i = this.#offset; i < end - 1; i++) {
      if (buffer[i] === CR && buffer[i + 1] === LF) {
        const text = DECODER.decode(buffer.subarray(this.#offset, i));
        this.#offset = i + 2;
        return text;
      }
    }
    if (end - this.#offset >= MAX_LINE_BYTES) {
      throw new RangeError(
        `Cannot decode store reply as a line must be <= ${MAX_LINE_BYTES} bytes`,
      );
    }
    return INCOMPLETE;
  }

  #length(text: string, limit: number, what: string): number {
    if (!/^-?\d{1,12}$/.test(text)) {
      throw new SyntaxError(
        `Cannot decode store reply as a ${what} length must be an integer: current value is "${
          text.slice(0, 32)
        }"`,
      );
    }
    const length = Number(text);
    if (length > limit) {
      throw new RangeError(
        `Cannot decode store reply as a ${what} length must be <= ${limit}: current value is ${length}`,
      );
    }
    return length;
  }

  #parse(): RespValue | typeof INCOMPLETE {
    if (this.#offset >= this.#buffer.length) return INCOMPLETE;
    const type = this.#buffer[this.#offset++]!;
    const line = this.#line();
    if (line === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // + simple string
        return line;
      case 0x2d: // - error
        return new StoreReplyError(line);
      case 0x3a: { // : integer
        const value = Number(line);
        if (!/^-?\d+$/.test(line)) {
          throw new SyntaxError(
            `Cannot decode store reply as an integer is malformed: current value is "${
              line.slice(0, 32)
            }"`,
          );
        }
        return value;
      }
      case 0x2c: // , RESP3 double
        return Number(line);
      case 0x23: // # RESP3 boolean
        return line === "t";
      case 0x5f: // _ RESP3 null
        return null;
      case 0x24: // $ bulk string
      case 0x3d: // = RESP3 verbatim string
      case 0x21: { // ! RESP3 bulk error
        const length = this.#length(line, this.#maxBulkBytes, "bulk");
        if (length < 0) return null;
        if (this.#buffer.length - this.#offset < length + 2) return INCOMPLETE;
        const text = DECODER.decode(
          this.#buffer.subarray(this.#offset, this.#offset + length),
        );
        this.#offset += length + 2;
        if (type === 0x21) return new StoreReplyError(text);
        return type === 0x3d ? text.slice(4) : text;
      }
      case 0x2a: // * array
      case 0x7e: // ~ RESP3 set
      case 0x3e: // > RESP3 push
      case 0x25: { // % RESP3 map: flattened to key, value, ...
        const count = this.#length(line, this.#maxArrayLength, "array");
        if (count < 0) return null;
        const total = type === 0x25 ? count * 2 : count;
        const items: RespValue[] = [];
        for (let i = 0; i < total; i++) {
          const item = this.#parse();
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new SyntaxError(
          `Cannot decode store reply as its type byte is unknown: current value is ${type}`,
        );
    }
  }
}
