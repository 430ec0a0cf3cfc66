/**
 * WebSocket output to the browser: the one place where frames for the
 * browser are built (data frames, ping, pong, close), including large
 * messages framed in place in the backend pump's read buffer, and the
 * deferred pong of a browser that is not reading. Pings and pongs go ahead
 * of queued data at the next frame boundary; close frames go after it.
 *
 * @module
 */

import {
  frameHeaderLength,
  Opcode,
  RSV1_COMPRESSED,
  validateUtf8,
  writeFrameHeader,
} from "../websocket/ws_frame_codec.ts";
import { encodeClosePayload } from "../websocket/close_frame.ts";
import type { ReadFloor } from "./read_floor.ts";
import type { ByteSink, SocketWriter } from "./socket_writer.ts";
import {
  COPY_THRESHOLD_BYTES,
  createOutputWriter,
  type OutputWriterOptions,
} from "./output_writer.ts";

/** The longest header of a frame wsgate sends (unmasked, 64-bit length). */
export const MAX_SERVER_HEADER_BYTES = 10;

/**
 * Options for {@linkcode BrowserOutput}; `source` is the backend pump's
 * read buffer.
 */
export interface BrowserOutputOptions extends OutputWriterOptions {
  /**
   * Whether messages go out as text frames (validated as UTF-8) rather
   * than binary ones.
   * @default {false}
   */
  isText?: boolean;
}

type Encode = (
  payload: Uint8Array,
  buffer: Uint8Array,
  offset: number,
) => number;

/** Encodes a whole frame of `opcode` (header and copied payload). */
function frameOf(opcode: number): Encode {
  return (payload, buffer, offset) => {
    const header = writeFrameHeader(buffer, offset, opcode, payload.length);
    buffer.set(payload, offset + header);
    return header + payload.length;
  };
}

/** Encodes the header of a frame of `opcode` for `payload`. */
function headOf(opcode: number): Encode {
  return (payload, buffer, offset) =>
    writeFrameHeader(buffer, offset, opcode, payload.length);
}

const CLOSE_FRAME = frameOf(Opcode.CLOSE);

/**
 * The encoders of each kind of data frame, made once for all sessions (a
 * closure per session and kind would stay with every idle session).
 */
const ENCODERS_OF = [Opcode.BINARY, Opcode.TEXT].map((opcode) => ({
  frame: frameOf(opcode),
  head: headOf(opcode),
  compressed: frameOf(opcode | RSV1_COMPRESSED),
  compressedHead: headOf(opcode | RSV1_COMPRESSED),
}));
const PING = Uint8Array.of(0x80 | Opcode.PING, 0);

/** A whole control frame of `opcode` carrying `payload` (<= 125 bytes). */
function controlFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(2 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = payload.length;
  frame.set(payload, 2);
  return frame;
}

/**
 * Frames and queues everything the gateway sends to one browser.
 *
 * @example Send a text message and a close frame
 * ```ts
 * import { BrowserOutput } from "./browser_output.ts";
 * import assert from "node:assert/strict";
 * const sent: number[] = [];
 * const output = new BrowserOutput({
 *   write: (bytes) => { sent.push(...bytes); return Promise.resolve(bytes.length); },
 * }, { isText: true });
 * output.sendMessage(new TextEncoder().encode("hi"));
 * output.sendClose(1000, "");
 * await output.writer.drained();
 * assert.deepEqual(sent, [0x81, 2, 0x68, 0x69, 0x88, 2, 0x03, 0xe8]);
 * assert.equal(output.isFinished, true);
 * ```
 */
export class BrowserOutput {
  #writer: SocketWriter;
  #source: ReadFloor | undefined;
  #isText: boolean;
  #opcode: number;
  #encodeFrame: Encode;
  #encodeHead: Encode;
  #encodeCompressed: Encode;
  #encodeCompressedHead: Encode;
  #isCloseSent = false;
  /** The latest ping's payload, answered once the browser reads again. */
  #deferredPong: Uint8Array | undefined;

  /**
   * Constructs the output.
   * @param socket The browser connection.
   * @param options Frame type, water mark, in-place source and errors.
   */
  constructor(socket: ByteSink, options: BrowserOutputOptions = {}) {
    const { isText = false } = options;
    this.#isText = isText;
    this.#opcode = isText ? Opcode.TEXT : Opcode.BINARY;
    const encoders = ENCODERS_OF[isText ? 1 : 0]!;
    this.#encodeFrame = encoders.frame;
    this.#encodeHead = encoders.head;
    this.#encodeCompressed = encoders.compressed;
    this.#encodeCompressedHead = encoders.compressedHead;
    const { writer, floor } = createOutputWriter(socket, options);
    this.#writer = writer;
    this.#source = floor;
  }

  /** The write queue: flow control, draining, abandoning. */
  get writer(): SocketWriter {
    return this.#writer;
  }

  /** Whether our close frame is queued (nothing more may follow it). */
  get isCloseSent(): boolean {
    return this.#isCloseSent;
  }

  /** Whether nothing more can reach the browser (closed or failed). */
  get isFinished(): boolean {
    return this.#isCloseSent || this.#writer.hasFailed;
  }

  /** Whether the current read of the source is still referenced. */
  get isReadRetained(): boolean {
    return this.#source?.isRetained ?? false;
  }

  /** A new read of the source begins (see `BrowserOutputOptions.source`). */
  beginRead(): void {
    this.#source?.reset();
  }

  /**
   * Queues one message as a data frame; call {@linkcode BrowserOutput.flush}
   * after a batch. Throws `InvalidMessageError` for a text message that is
   * not UTF-8 (nothing is queued then).
   * @param message The payload.
   */
  sendMessage(message: Uint8Array): void {
    if (this.#isText) validateUtf8(message);
    const length = message.length;
    const writer = this.#writer;
    if (length < COPY_THRESHOLD_BYTES) {
      writer.appendEncoded(
        frameHeaderLength(length) + length,
        this.#encodeFrame,
        message,
      );
    } else if (!this.#sendInPlace(message)) {
      writer.appendEncoded(MAX_SERVER_HEADER_BYTES, this.#encodeHead, message);
      // The body continues the frame: nothing urgent may go in between.
      if (writer.append(message, true)) this.#source?.lend(message);
    }
  }

  /**
   * Queues one permessage-deflate message: a single data frame with RSV1
   * set (RFC 7692 section 6). The caller validated the message before
   * compressing it; call {@linkcode BrowserOutput.flush} after a batch.
   * @param payload The compressed payload, its `00 00 ff ff` tail removed.
   */
  sendCompressed(payload: Uint8Array): void {
    const length = payload.length;
    if (length < COPY_THRESHOLD_BYTES) {
      this.#writer.appendEncoded(
        frameHeaderLength(length) + length,
        this.#encodeCompressed,
        payload,
      );
      return;
    }
    // zlib's output is a fresh buffer: it goes by reference, and continues
    // the frame (nothing urgent may go between header and body).
    this.#writer.appendEncoded(
      MAX_SERVER_HEADER_BYTES,
      this.#encodeCompressedHead,
      payload,
    );
    this.#writer.append(payload, true);
  }

  /** Starts writing what is queued. */
  flush(): void {
    this.#writer.flush();
  }

  /**
   * Sends a ping with an empty payload, ahead of queued data.
   * @param onWritten Called once the ping has reached the socket.
   */
  ping(onWritten?: () => void): void {
    if (this.isFinished) return;
    this.#writer.appendUrgent(PING, onWritten);
    this.#writer.flush();
  }

  /**
   * Answers a browser ping. While the browser is not reading what we send,
   * a pong per ping would queue without bound: only the latest ping is
   * answered, once the queue drains (RFC 6455 section 5.5.3 allows it); a
   * later ping replaces the one waiting, so pongs never go out of order.
   * @param payload The ping's payload.
   */
  answerPing(payload: Uint8Array): void {
    if (this.#isCloseSent) return;
    const isWaiting = this.#deferredPong !== undefined;
    if (isWaiting || this.#writer.isAboveHighWater) {
      this.#deferredPong = payload.slice();
      if (!isWaiting) {
        this.#writer.belowLowWater().then(() => this.#sendDeferredPong());
      }
      return;
    }
    this.#sendPong(payload);
  }

  /**
   * Queues our close frame after everything queued; nothing is sent after
   * it.
   * @param code The close code.
   * @param reason The short reason.
   */
  sendClose(code: number, reason: string): void {
    this.#isCloseSent = true;
    const payload = encodeClosePayload(code, reason);
    this.#writer.appendEncoded(2 + payload.length, CLOSE_FRAME, payload);
    this.#writer.flush();
  }

  /** Sends nothing more and drops what is queued (the socket closes). */
  stop(): void {
    this.#isCloseSent = true;
    this.#writer.abandon();
  }

  // A large message that lies in the source read buffer is sent from there:
  // its new header is written over the bytes just before it (its old
  // header, the read's headroom, or bytes of messages already copied out),
  // and header and message go out as one piece by reference. The read
  // buffer then comes back through the writer's releaseTo once written.
  // Messages of one read rewritten this way are adjacent when the headers
  // have the same size, and the writer joins them into one write.

  /** Frames a large message in place in the source, if it can. */
  #sendInPlace(message: Uint8Array): boolean {
    const source = this.#source;
    if (source === undefined) return false;
    const read = source.whole;
    if (message.buffer !== read.buffer) return false;
    const start = message.byteOffset - read.byteOffset;
    const at = start - frameHeaderLength(message.length);
    const end = start + message.length;
    if (!source.tryClaim(at, end)) return false;
    writeFrameHeader(read, at, this.#opcode, message.length);
    this.#writer.append(read.subarray(at, end));
    return true;
  }

  #sendDeferredPong(): void {
    const payload = this.#deferredPong;
    this.#deferredPong = undefined;
    if (payload !== undefined && !this.isFinished) this.#sendPong(payload);
  }

  #sendPong(payload: Uint8Array): void {
    this.#writer.appendUrgent(controlFrame(Opcode.PONG, payload));
    this.#writer.flush();
  }
}
