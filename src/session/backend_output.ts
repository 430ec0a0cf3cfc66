/**
 * Output to the backend: browser messages framed by the route's
 * {@linkcode FrameEncoder} (large ones in place in the browser pump's read
 * buffer when the framing allows) and the application heartbeat.
 *
 * @module
 */

import type { FrameEncoder } from "../framing/codec.ts";
import type { ReadFloor } from "./read_floor.ts";
import type { ByteSink, SocketWriter } from "./socket_writer.ts";
import {
  COPY_THRESHOLD_BYTES,
  createOutputWriter,
  type OutputWriterOptions,
} from "./output_writer.ts";

type Encode = (
  message: Uint8Array,
  buffer: Uint8Array,
  offset: number,
) => number;

/**
 * The batch encoders of each encoder: sessions sharing a route's encoder
 * share these too, instead of holding two closures each.
 */
const ENCODERS_OF = new WeakMap<
  FrameEncoder,
  { frame: Encode; head: Encode }
>();

function encodersOf(encoder: FrameEncoder): { frame: Encode; head: Encode } {
  let encoders = ENCODERS_OF.get(encoder);
  if (encoders === undefined) {
    encoders = {
      frame: (message, buffer, offset) =>
        encoder.encodeInto(message, buffer, offset),
      head: (message, buffer, offset) =>
        encoder.encodeHeadInto(message, buffer, offset),
    };
    ENCODERS_OF.set(encoder, encoders);
  }
  return encoders;
}

/**
 * Options for {@linkcode BackendOutput}; `source` is the browser pump's
 * read buffer.
 */
export type BackendOutputOptions = OutputWriterOptions;

/**
 * Frames and queues everything the gateway sends to one backend.
 *
 * @example Frame a message with a 4-byte length prefix
 * ```ts
 * import { BackendOutput } from "./backend_output.ts";
 * import { createFrameEncoder } from "../framing/create_codec.ts";
 * import { parseFramingSpec } from "../framing/spec.ts";
 * import assert from "node:assert/strict";
 * const sent: number[] = [];
 * const output = new BackendOutput({
 *   write: (bytes) => { sent.push(...bytes); return Promise.resolve(bytes.length); },
 * }, createFrameEncoder(parseFramingSpec("u32be")));
 * output.sendMessage(new Uint8Array([7]));
 * output.flush();
 * await output.writer.drained();
 * assert.deepEqual(sent, [0, 0, 0, 1, 7]);
 * ```
 */
export class BackendOutput {
  #writer: SocketWriter;
  #encoder: FrameEncoder;
  #source: ReadFloor | undefined;
  #encodeFrame: (
    message: Uint8Array,
    buffer: Uint8Array,
    offset: number,
  ) => number;
  #encodeHead: (
    message: Uint8Array,
    buffer: Uint8Array,
    offset: number,
  ) => number;

  /**
   * Constructs the output.
   * @param socket The backend connection.
   * @param encoder Frames messages for the backend.
   * @param options Water mark, in-place source and errors.
   */
  constructor(
    socket: ByteSink,
    encoder: FrameEncoder,
    options: BackendOutputOptions = {},
  ) {
    this.#encoder = encoder;
    const encode = encodersOf(encoder);
    this.#encodeFrame = encode.frame;
    this.#encodeHead = encode.head;
    const { writer, floor } = createOutputWriter(socket, options);
    this.#writer = writer;
    this.#source = floor;
  }

  /** The write queue: flow control, draining, abandoning. */
  get writer(): SocketWriter {
    return this.#writer;
  }

  /** Whether the current read of the source is still referenced. */
  get isReadRetained(): boolean {
    return this.#source?.isRetained ?? false;
  }

  /** A new read of the source begins (see `BackendOutputOptions.source`). */
  beginRead(): void {
    this.#source?.reset();
  }

  /**
   * Queues one message as a frame; call {@linkcode BackendOutput.flush}
   * after a batch. Validates first (`FrameTooLargeError`,
   * `InvalidMessageError`): nothing of a message that cannot be framed is
   * queued.
   * @param payload The message.
   */
  sendMessage(payload: Uint8Array): void {
    const encoder = this.#encoder;
    const frameLength = encoder.frameLength(payload);
    const writer = this.#writer;
    if (frameLength < COPY_THRESHOLD_BYTES) {
      writer.appendEncoded(frameLength, this.#encodeFrame, payload);
    } else if (!this.#sendInPlace(payload, frameLength)) {
      writer.appendEncoded(
        encoder.bodyOffset + 16,
        this.#encodeHead,
        payload,
      );
      const body = payload.subarray(encoder.bodyOffset);
      if (writer.append(body)) this.#source?.lend(body);
      if (encoder.trailer.length > 0) writer.append(encoder.trailer);
    }
  }

  /**
   * Queues the application heartbeat and starts writing.
   * @param message The heartbeat message (framed like any other).
   */
  sendHeartbeat(message: Uint8Array): void {
    this.#writer.append(this.#encoder.encode(message));
    this.#writer.flush();
  }

  /** Starts writing what is queued. */
  flush(): void {
    this.#writer.flush();
  }

  /**
   * Frames a large message in place in the source (its header written over
   * the bytes just before it), if the framing has no prefix copy or
   * trailer and the bytes before it are free.
   */
  #sendInPlace(payload: Uint8Array, frameLength: number): boolean {
    const encoder = this.#encoder;
    const source = this.#source;
    if (
      source === undefined || encoder.bodyOffset !== 0 ||
      encoder.trailer.length > 0
    ) {
      return false;
    }
    const read = source.whole;
    if (payload.buffer !== read.buffer) return false;
    const end = payload.byteOffset + payload.length - read.byteOffset;
    const at = end - frameLength;
    if (!source.tryClaim(at, end)) return false;
    encoder.encodeHeadInto(payload, read, at);
    this.#writer.append(read.subarray(at, end));
    return true;
  }
}
