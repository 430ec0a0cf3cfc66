/**
 * permessage-deflate on one session's two message paths: browser messages
 * are inflated (and browser control frames held behind them), backend
 * messages compressed, one at a time and in order, each direction on its
 * own promise chain. The pump that fed a chain awaits it before reading on,
 * so flow control stays the pumps'; a failure rejects the chain and ends
 * the pump like a codec error.
 *
 * @module
 */

import { validateUtf8 } from "../websocket/ws_frame_codec.ts";
import type { SessionCompression } from "./relay_options.ts";

/** Where {@linkcode MessageCompression} hands each message on, in order. */
export interface MessageCompressionHandlers {
  /**
   * Each browser message, inflated when it came compressed.
   * @param message The message bytes (owned by the callee).
   */
  toBackend(message: Uint8Array): void;
  /**
   * Each browser control frame, after the messages queued before it.
   * @param opcode The control opcode.
   * @param payload A copy of the frame's payload.
   */
  control(opcode: number, payload: Uint8Array): void;
  /**
   * Each backend message once compressed.
   * @param message The message bytes (a copy, owned by the callee).
   * @param compressed The payload to send with RSV1 set, or `null` when the
   * message stays uncompressed (below the route's `minSize`).
   */
  toBrowser(message: Uint8Array, compressed: Uint8Array | null): void;
}

/** Options for {@linkcode MessageCompression}. */
export interface MessageCompressionOptions {
  /**
   * Whether backend messages go to the browser as text: each is validated
   * as UTF-8 before it is queued.
   * @default {false}
   */
  isTextToBrowser?: boolean;
}

/**
 * The ordered inflate and deflate queues of one compressing session.
 *
 * @example Inflate a browser message and compress a backend message
 * ```ts
 * import { MessageCompression } from "./message_compression.ts";
 * import {
 *   MessageDeflater,
 *   MessageInflater,
 * } from "../websocket/message_deflate.ts";
 * import assert from "node:assert/strict";
 * const toBackend: string[] = [];
 * const toBrowser: (Uint8Array | null)[] = [];
 * const queues = new MessageCompression({
 *   deflater: new MessageDeflater({ minSize: 0 }),
 *   inflater: new MessageInflater(),
 * }, {
 *   toBackend: (message) => toBackend.push(new TextDecoder().decode(message)),
 *   control: () => {},
 *   toBrowser: (_message, compressed) => toBrowser.push(compressed),
 * });
 * // "Hello" deflated (RFC 7692 section 7.2.3.1).
 * const hello = new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
 * queues.queueInbound(true, hello, true);
 * await queues.inbound;
 * assert.deepEqual(toBackend, ["Hello"]);
 * queues.queueOutbound(new TextEncoder().encode("Hello"));
 * await queues.outbound;
 * assert.deepEqual(toBrowser, [hello]);
 * queues.close();
 * ```
 */
export class MessageCompression {
  #compression: SessionCompression;
  #handlers: MessageCompressionHandlers;
  #isTextToBrowser: boolean;
  #inbound: Promise<void> = Promise.resolve();
  #outbound: Promise<void> = Promise.resolve();

  /**
   * Constructs the queues.
   * @param compression The session's zlib state (closed by `close()`).
   * @param handlers Where messages go once inflated or compressed.
   * @param options The frame type to the browser.
   */
  constructor(
    compression: SessionCompression,
    handlers: MessageCompressionHandlers,
    options: MessageCompressionOptions = {},
  ) {
    this.#compression = compression;
    this.#handlers = handlers;
    this.#isTextToBrowser = options.isTextToBrowser ?? false;
  }

  /**
   * Settles once every browser message and control frame queued so far was
   * handed on; rejects with the first failure (`FrameTooLargeError` past
   * the message limit, `InvalidMessageError` for a corrupt stream or a text
   * message that is not UTF-8), after which nothing more is handed on.
   */
  get inbound(): Promise<void> {
    return this.#inbound;
  }

  /**
   * Settles once every backend message queued so far was handed on;
   * rejects with the first compression failure.
   */
  get outbound(): Promise<void> {
    return this.#outbound;
  }

  /**
   * Queues one browser message (the parser's `onMessage`): inflated when
   * compressed (capped at the inflater's message limit), validated when
   * text, then handed to `toBackend`.
   * @param isText Whether it came as a text message.
   * @param payload The message as received (copied: the parser may reuse
   * its buffer).
   * @param isCompressed Whether its first frame had RSV1 set.
   */
  queueInbound(
    isText: boolean,
    payload: Uint8Array,
    isCompressed: boolean,
  ): void {
    const copy = payload.slice();
    const handlers = this.#handlers;
    const inflater = this.#compression.inflater;
    this.#inbound = this.#inbound.then(async () => {
      if (!isCompressed) {
        handlers.toBackend(copy);
        return;
      }
      const message = await inflater.decompress(copy);
      if (isText) validateUtf8(message);
      handlers.toBackend(message);
    });
  }

  /**
   * Queues one browser control frame (the parser's `onControl`) behind the
   * messages before it, which may still be inflating.
   * @param opcode The control opcode.
   * @param payload The frame's payload (copied).
   */
  queueControl(opcode: number, payload: Uint8Array): void {
    const copy = payload.slice();
    this.#inbound = this.#inbound.then(() =>
      this.#handlers.control(opcode, copy)
    );
  }

  /**
   * Queues one backend message (the decoder's callback): compressed, then
   * handed to `toBrowser`. Throws `InvalidMessageError` at once, queueing
   * nothing, for a text message that is not UTF-8.
   * @param message The message (copied: the decoder may reuse its buffer).
   */
  queueOutbound(message: Uint8Array): void {
    if (this.#isTextToBrowser) validateUtf8(message);
    const copy = message.slice();
    const handlers = this.#handlers;
    const deflater = this.#compression.deflater;
    this.#outbound = this.#outbound.then(async () => {
      handlers.toBrowser(copy, await deflater.compress(copy));
    });
  }

  /** Frees both zlib states; a message still in a queue fails. */
  close(): void {
    this.#compression.deflater.close();
    this.#compression.inflater.close();
  }
}
