/**
 * One relay session: a browser WebSocket connection and a backend TCP
 * connection joined by two one-way pumps (`pumpBrowserToBackend`,
 * `pumpBackendToBrowser`) and a single idempotent close path. Flow control
 * is plain TCP: a pump stops reading while the bytes held for the other side
 * are above the high-water mark.
 *
 * @module
 */

import {
  frameHeaderLength,
  Opcode,
  RSV1_COMPRESSED,
  validateUtf8,
  writeFrameHeader,
  WsFrameParser,
} from "../websocket/ws_frame_codec.ts";
import {
  encodeClosePayload,
  parseClosePayload,
} from "../websocket/close_frame.ts";
import { Latch } from "./latch.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { SocketWriter } from "./socket_writer.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { drainUntilEof } from "../io/drain.ts";
import { judgeLiveness } from "./liveness.ts";
import { CloseCode, closeCodeForError } from "./close_codes.ts";
import {
  closeWriteWithin,
  errorText,
  isSocketError,
  nextTurn,
  regionOf,
} from "./_relay_util.ts";
import type {
  DuplexSocket,
  RelaySessionOptions,
  SessionCompression,
  SessionSummary,
} from "./relay_options.ts";
import {
  newSizeBuckets,
  NO_TRAFFIC,
  type RelayStatsDelta,
  sizeBucket,
} from "./relay_stats.ts";

/**
 * Messages below this size are copied into the write batch (so a codec may
 * hand them over in a reused scratch buffer); larger ones go by reference.
 */
export const COPY_THRESHOLD_BYTES = 128 * 1024;

/** An end of the session, decided by whichever side ended first. */
interface EndCause {
  code: number;
  reason: string;
  detail: string | undefined;
  initiator: "browser" | "backend" | "gateway";
  /** The browser cannot be written to any more. */
  isBrowserGone?: boolean;
  /** The backend cannot be written to any more. */
  isBackendGone?: boolean;
  /** The browser broke the protocol: its close reply is awaited only briefly. */
  isBrowserFaulty?: boolean;
}

/**
 * The new floor of a read buffer (see RelaySession's read floors) after
 * `view` was queued by reference: bytes up to its end are no longer free.
 * (With reads of at most 256 KiB and the 128 KiB copy threshold only one
 * such message fits whole in a read today; this keeps the in-place path
 * safe should either limit change.)
 */
function readFloorAfter(
  view: Uint8Array,
  read: Uint8Array,
  floor: number,
): number {
  if (view.buffer !== read.buffer) return floor;
  return Math.max(floor, view.byteOffset + view.length - read.byteOffset);
}

/** The longest header of a frame wsgate sends (unmasked, 64-bit length). */
const MAX_SERVER_HEADER_BYTES = 10;

/** How long a faulty browser gets to answer our close frame. */
const FAULTY_CLOSE_WAIT_MS = 1000;

/**
 * Relays one browser WebSocket connection to one backend TCP connection.
 *
 * @example Construct and start (needs two real sockets)
 * ```ts ignore
 * const session = new RelaySession("s1", browserConn, backendConn, options);
 * session.start();
 * ```
 */
export class RelaySession {
  /** The session id used in logs. */
  readonly id: string;
  #browser: DuplexSocket;
  #backend: DuplexSocket;
  #options: RelaySessionOptions;
  #parser: WsFrameParser;
  #toBrowser: SocketWriter;
  #toBackend: SocketWriter;
  #now: () => number;

  #openedAtMs: number;
  #lastFromBrowserMs: number;
  #lastFromBackendMs: number;
  #lastToBackendMs: number;
  #lastDataMs: number;
  #pingSentAtMs = 0;
  #isBrowserPaused = false;
  /** The latest ping's payload, answered once the browser reads again. */
  #deferredPong: Uint8Array | undefined;

  #isEnding = false;
  #isCloseSent = false;
  #isCloseReceived = false;
  #closeReceived = new Latch();
  #backendEnded = new Latch();
  #isBackendWriteClosed = false;
  #ended = new Latch<SessionSummary>();
  #isBrowserReadRetained = false;
  #isBackendReadRetained = false;

  #bytesToBackend = 0;
  #bytesToBrowser = 0;
  #messagesToBackend = 0;
  #messagesToBrowser = 0;
  // What takeStats() reported last, and size buckets since then (allocated
  // on the first message: idle sessions carry none).
  #reportedBytesToBackend = 0;
  #reportedBytesToBrowser = 0;
  #reportedMessagesToBackend = 0;
  #reportedMessagesToBrowser = 0;
  #sizesToBackend: number[] | undefined;
  #sizesToBrowser: number[] | undefined;
  #onTraffic: RelaySessionOptions["onTraffic"];
  /** What each side is read into; reads never exceed the high-water mark. */
  #browserRead: ReadBuffer;
  #backendRead: ReadBuffer;
  /**
   * Where the current read buffer of each side is free to be written over:
   * bytes before it belong to messages queued by reference (see
   * #toBackendInPlace and #toBrowserInPlace).
   */
  #browserReadFloor = 0;
  #backendReadFloor = 0;
  /**
   * permessage-deflate, when negotiated: browser messages (and control
   * frames, to keep their order) go through #inbound, backend messages
   * through #outbound; each pump awaits its chain before reading on.
   */
  #compression: SessionCompression | undefined;
  #inbound: Promise<void> = Promise.resolve();
  #outbound: Promise<void> = Promise.resolve();

  /**
   * Constructs a session; call {@linkcode RelaySession.start} to relay.
   * @param id The session id.
   * @param browser The upgraded browser connection.
   * @param backend The connected backend.
   * @param options Codecs, limits and callbacks.
   */
  constructor(
    id: string,
    browser: DuplexSocket,
    backend: DuplexSocket,
    options: RelaySessionOptions,
  ) {
    this.id = id;
    this.#browser = browser;
    this.#backend = backend;
    this.#options = options;
    this.#now = options.now;
    this.#onTraffic = options.onTraffic;
    // Reads never exceed the high-water mark, so a stalled side holds ~2x it.
    const maxReadBytes = Math.max(
      16 * 1024,
      Math.min(256 * 1024, options.highWaterBytes),
    );
    this.#browserRead = new ReadBuffer({ maxBytes: maxReadBytes });
    this.#backendRead = new ReadBuffer({
      maxBytes: maxReadBytes,
      // Room for a WebSocket header in front of a read's first message.
      headroomBytes: MAX_SERVER_HEADER_BYTES,
    });
    const now = options.now();
    this.#openedAtMs = now;
    this.#lastFromBrowserMs = now;
    this.#lastFromBackendMs = now;
    this.#lastToBackendMs = now;
    this.#lastDataMs = now;
    this.#compression = options.compression;
    this.#parser = new WsFrameParser(this, {
      maxMessageBytes: options.maxMessageBytes,
      expectMasked: true,
      isCompressionNegotiated: options.compression !== undefined,
      // onMessage copies every message below the copy threshold, so those
      // may live in the parser's reused scratch buffer.
      scratchBytes: COPY_THRESHOLD_BYTES - 1,
    });
    this.#toBrowser = new SocketWriter(browser, {
      highWaterBytes: options.highWaterBytes,
      copyThresholdBytes: COPY_THRESHOLD_BYTES,
      releaseTo: this.#backendRead,
      onError: (error) =>
        this.#end({
          code: CloseCode.ABNORMAL,
          reason: "browser gone",
          detail: errorText(error),
          initiator: "browser",
          isBrowserGone: true,
        }),
    });
    this.#toBackend = new SocketWriter(backend, {
      highWaterBytes: options.highWaterBytes,
      copyThresholdBytes: COPY_THRESHOLD_BYTES,
      releaseTo: this.#browserRead,
      onError: (error) =>
        this.#end({
          ...closeCodeForError(error, "backend"),
          detail: `backend write failed: ${errorText(error)}`,
          initiator: "backend",
          isBackendGone: true,
        }),
    });
  }

  /** Resolves with the summary once the session has fully ended. */
  get ended(): Promise<SessionSummary> {
    return this.#ended.wait();
  }

  /** Bytes currently held for both sides. */
  get bufferedBytes(): number {
    return this.#toBrowser.pendingBytes + this.#toBackend.pendingBytes +
      this.#parser.pendingBytes + this.#options.decoder.pendingBytes;
  }

  /** Payload bytes relayed so far, per direction. */
  get traffic(): { toBackend: number; toBrowser: number } {
    return { toBackend: this.#bytesToBackend, toBrowser: this.#bytesToBrowser };
  }

  /**
   * Returns the traffic since the previous call (for metrics) and resets
   * the size buckets.
   * @returns The deltas.
   */
  takeStats(): RelayStatsDelta {
    if (
      this.#messagesToBackend === this.#reportedMessagesToBackend &&
      this.#messagesToBrowser === this.#reportedMessagesToBrowser
    ) {
      // Idle sessions (the common case per sweep) allocate nothing.
      return NO_TRAFFIC;
    }
    const delta: RelayStatsDelta = {
      bytesToBackend: this.#bytesToBackend - this.#reportedBytesToBackend,
      bytesToBrowser: this.#bytesToBrowser - this.#reportedBytesToBrowser,
      messagesToBackend: this.#messagesToBackend -
        this.#reportedMessagesToBackend,
      messagesToBrowser: this.#messagesToBrowser -
        this.#reportedMessagesToBrowser,
      sizesToBackend: this.#sizesToBackend ?? NO_TRAFFIC.sizesToBackend,
      sizesToBrowser: this.#sizesToBrowser ?? NO_TRAFFIC.sizesToBrowser,
    };
    this.#reportedBytesToBackend = this.#bytesToBackend;
    this.#reportedBytesToBrowser = this.#bytesToBrowser;
    this.#reportedMessagesToBackend = this.#messagesToBackend;
    this.#reportedMessagesToBrowser = this.#messagesToBrowser;
    this.#sizesToBackend = undefined;
    this.#sizesToBrowser = undefined;
    return delta;
  }

  /** When the session opened (clock milliseconds). */
  get openedAtMs(): number {
    return this.#openedAtMs;
  }

  /** Starts both pumps. */
  start(): void {
    this.#pumpBrowserToBackend();
    this.#pumpBackendToBrowser();
  }

  /**
   * Ends the session from the gateway side (shutdown, policy): flushes what
   * is in flight both ways, then closes with `code`.
   * @param code The close code.
   * @param reason The short reason.
   * @returns The summary once ended.
   */
  close(code: number, reason: string): Promise<SessionSummary> {
    this.#end({ code, reason, detail: undefined, initiator: "gateway" });
    return this.#ended.wait();
  }

  /**
   * Ends the session at once without flushing (a drain deadline passed):
   * closes both sockets; the close is reported with `code`.
   * @param code The close code to report.
   * @param reason The short reason.
   * @returns The summary once ended.
   */
  abort(code: number, reason: string): Promise<SessionSummary> {
    this.#end({
      code,
      reason,
      detail: "aborted after the drain deadline",
      initiator: "gateway",
      isBrowserGone: true,
      isBackendGone: true,
    });
    this.#toBrowser.abandon();
    this.#toBackend.abandon();
    closeQuietly(this.#browser);
    closeQuietly(this.#backend);
    return this.#ended.wait();
  }

  /**
   * Runs the liveness checks; called by the gateway's shared sweep.
   * @param now The current clock value in milliseconds.
   */
  tick(now: number): void {
    if (this.#isEnding) return;
    const timers = this.#options.timers;
    const verdict = judgeLiveness(
      {
        openedAtMs: this.#openedAtMs,
        lastDataMs: this.#lastDataMs,
        lastFromBackendMs: this.#lastFromBackendMs,
        lastFromBrowserMs: this.#lastFromBrowserMs,
        lastToBackendMs: this.#lastToBackendMs,
        pingSentAtMs: this.#pingSentAtMs,
        isBrowserPaused: this.#isBrowserPaused,
      },
      timers,
      now,
    );
    switch (verdict.end) {
      case "lifetime":
        this.#end({
          code: CloseCode.LIFETIME_EXCEEDED,
          reason: "session lifetime exceeded",
          detail: `session older than ${timers.maxLifetimeMs} ms`,
          initiator: "gateway",
        });
        return;
      case "idle":
        this.#end({
          code: CloseCode.IDLE_TIMEOUT,
          reason: "idle timeout",
          detail: `no data either way for ${timers.idleTimeoutMs} ms`,
          initiator: "gateway",
        });
        return;
      case "backend_silent":
        this.#end({
          code: CloseCode.BACKEND_SILENT,
          reason: "backend silent",
          detail: `nothing from the backend for ${timers.backendSilenceMs} ms`,
          initiator: "backend",
        });
        return;
      case "ping_timeout":
        this.#end({
          code: CloseCode.ABNORMAL,
          reason: "browser gone",
          detail: `no pong within ${timers.pingTimeoutMs} ms`,
          initiator: "browser",
          isBrowserGone: true,
        });
        return;
    }
    if (verdict.isPingDue) {
      this.#pingSentAtMs = now;
      this.#sendControl(Opcode.PING, new Uint8Array(0));
    }
    if (verdict.isHeartbeatDue) {
      this.#lastToBackendMs = now;
      this.#toBackend.append(
        this.#options.encoder.encode(
          this.#options.heartbeatMessage ?? new Uint8Array(0),
        ),
      );
      this.#toBackend.flush();
    }
    if (now - this.#lastDataMs >= 5000) {
      this.#toBrowser.trim();
      this.#toBackend.trim();
      this.#parser.trim();
      this.#browserRead.trim();
      this.#backendRead.trim();
    }
  }

  // ---- browser -> backend -------------------------------------------------

  async #pumpBrowserToBackend(): Promise<void> {
    const buffer = this.#browserRead;
    try {
      const initial = this.#options.initialBrowserBytes;
      if (initial !== undefined && initial.length > 0) {
        this.#parser.push(initial);
        if (this.#compression !== undefined) await this.#inbound;
        this.#toBackend.flush();
      }
      while (!this.#isCloseReceived) {
        if (this.#toBackend.isAboveHighWater) {
          this.#isBrowserPaused = true;
          await this.#toBackend.belowLowWater();
          this.#isBrowserPaused = false;
          if (this.#isEnding && this.#isCloseReceived) break;
        }
        const bytes = buffer.bytes;
        const count = await this.#browser.read(bytes);
        if (count === null && this.#isEnding) {
          // The browser left while we were closing: nothing more to wait for.
          this.#toBrowser.abandon();
          this.#closeReceived.set();
          return;
        }
        if (count === null) {
          this.#end({
            code: CloseCode.ABNORMAL,
            reason: "browser gone",
            detail: "browser closed the connection without a close frame",
            initiator: "browser",
            isBrowserGone: true,
          });
          return;
        }
        this.#lastFromBrowserMs = this.#now();
        this.#pingSentAtMs = 0;
        this.#isBrowserReadRetained = false;
        this.#browserReadFloor = 0;
        this.#parser.push(regionOf(bytes, 0, count));
        if (this.#compression !== undefined) await this.#inbound;
        // Part of a message arrived: data is moving (idle timeout).
        if (this.#parser.pendingBytes > 0) {
          this.#lastDataMs = this.#lastFromBrowserMs;
        }
        this.#toBackend.flush();
        buffer.afterRead(count, this.#isBrowserReadRetained);
      }
    } catch (error) {
      if (this.#isEnding) {
        // The socket failed or was closed by our own close path while the
        // session was ending; nothing to report, nothing more to wait for.
        this.#toBrowser.abandon();
        this.#closeReceived.set();
        return;
      }
      if (isSocketError(error)) {
        this.#end({
          code: CloseCode.ABNORMAL,
          reason: "browser gone",
          detail: errorText(error),
          initiator: "browser",
          isBrowserGone: true,
        });
      } else {
        this.#end({
          ...closeCodeForError(error, "browser"),
          detail: errorText(error),
          initiator: "browser",
          isBrowserFaulty: true,
        });
      }
    }
  }

  /** Called by the parser for each complete browser message. */
  onMessage(isText: boolean, payload: Uint8Array, isCompressed = false): void {
    if (this.#compression !== undefined) {
      this.#queueInbound(isText, payload.slice(), isCompressed);
      return;
    }
    this.#relayToBackend(payload);
  }

  /** Inflates (in order) and relays a message of a compressing session. */
  #queueInbound(
    isText: boolean,
    payload: Uint8Array,
    isCompressed: boolean,
  ): void {
    const inflater = this.#compression!.inflater;
    this.#inbound = this.#inbound.then(async () => {
      if (!isCompressed) {
        this.#relayToBackend(payload);
        return;
      }
      const message = await inflater.decompress(payload);
      if (isText) validateUtf8(message);
      this.#relayToBackend(message);
    });
  }

  #relayToBackend(payload: Uint8Array): void {
    // Messages keep flowing while the session closes (they were sent before
    // the browser saw our close), until the backend's write side is shut.
    // Nothing after the browser's own close frame counts (RFC 6455 5.5.1).
    if (
      this.#isCloseReceived || this.#isBackendWriteClosed ||
      this.#toBackend.hasFailed
    ) {
      return;
    }
    const encoder = this.#options.encoder;
    // Validates first: nothing of a message that cannot be framed is queued.
    const frameLength = encoder.frameLength(payload);
    const writer = this.#toBackend;
    if (frameLength < COPY_THRESHOLD_BYTES) {
      const buffer = writer.reserve(frameLength);
      const offset = writer.reservedOffset;
      writer.commit(encoder.encodeInto(payload, buffer, offset));
    } else if (!this.#toBackendInPlace(payload, frameLength)) {
      const buffer = writer.reserve(encoder.bodyOffset + 16);
      const offset = writer.reservedOffset;
      writer.commit(encoder.encodeHeadInto(payload, buffer, offset));
      const body = payload.subarray(encoder.bodyOffset);
      if (writer.append(body)) {
        this.#isBrowserReadRetained = true;
        this.#browserReadFloor = readFloorAfter(
          body,
          this.#browserRead.whole,
          this.#browserReadFloor,
        );
      }
      if (encoder.trailer.length > 0) writer.append(encoder.trailer);
    }
    this.#bytesToBackend += payload.length;
    this.#messagesToBackend++;
    (this.#sizesToBackend ??= newSizeBuckets())[sizeBucket(payload.length)]!++;
    if (this.#onTraffic !== undefined) this.#onTraffic("to_backend", payload);
    // The time of the read that carried the message: no clock call per
    // message on the hot path.
    this.#lastToBackendMs = this.#lastFromBrowserMs;
    this.#lastDataMs = this.#lastFromBrowserMs;
  }

  /** Called by the parser for each control frame from the browser. */
  onControl(opcode: number, payload: Uint8Array): void {
    if (this.#compression !== undefined) {
      // After the messages before it, which may still be inflating.
      const copy = payload.slice();
      this.#inbound = this.#inbound.then(() =>
        this.#handleControl(opcode, copy)
      );
      return;
    }
    this.#handleControl(opcode, payload);
  }

  #handleControl(opcode: number, payload: Uint8Array): void {
    if (opcode === Opcode.PING) {
      if (this.#isCloseSent) return;
      const isWaiting = this.#deferredPong !== undefined;
      if (isWaiting || this.#toBrowser.isAboveHighWater) {
        // The browser is not reading what we send: a pong per ping would
        // queue without bound. Answer only the latest ping, once the queue
        // drains (RFC 6455 section 5.5.3 allows it); a later ping replaces
        // the one waiting, so pongs never go out of order.
        this.#deferredPong = payload.slice();
        if (!isWaiting) {
          this.#toBrowser.belowLowWater().then(() => this.#sendDeferredPong());
        }
        return;
      }
      this.#sendControl(Opcode.PONG, payload);
      return;
    }
    if (opcode === Opcode.PONG) {
      this.#pingSentAtMs = 0;
      return;
    }
    const { code, reason } = parseClosePayload(payload);
    this.#isCloseReceived = true;
    this.#closeReceived.set();
    this.#end({
      code,
      reason,
      detail: "browser sent a close frame",
      initiator: "browser",
    });
  }

  // ---- backend -> browser -------------------------------------------------

  async #pumpBackendToBrowser(): Promise<void> {
    const buffer = this.#backendRead;
    const decoder = this.#options.decoder;
    const sendToBrowser = this.#compression === undefined
      ? (message: Uint8Array) => this.#sendToBrowser(message)
      : (message: Uint8Array) => this.#queueOutbound(message);
    try {
      for (;;) {
        // Once our close frame is queued nothing more can go to the browser:
        // keep reading only to see the backend's end, discarding.
        const isDiscarding = this.#isCloseSent || this.#toBrowser.hasFailed;
        if (!isDiscarding && this.#toBrowser.isAboveHighWater) {
          await this.#toBrowser.belowLowWater();
          continue;
        }
        const bytes = buffer.bytes;
        const count = await this.#backend.read(bytes);
        if (count === null) {
          this.#markBackendEnded();
          if (this.#isEnding) return;
          decoder.finish();
          this.#end({
            code: CloseCode.NORMAL,
            reason: "backend closed",
            detail: undefined,
            initiator: "backend",
          });
          return;
        }
        this.#lastFromBackendMs = this.#now();
        if (this.#isCloseSent || this.#toBrowser.hasFailed) continue;
        this.#isBackendReadRetained = false;
        this.#backendReadFloor = 0;
        decoder.push(regionOf(bytes, 0, count), sendToBrowser);
        if (this.#compression !== undefined) await this.#outbound;
        if (decoder.pendingBytes > 0) {
          this.#lastDataMs = this.#lastFromBackendMs;
        }
        this.#toBrowser.flush();
        buffer.afterRead(count, this.#isBackendReadRetained);
      }
    } catch (error) {
      this.#markBackendEnded();
      if (this.#isEnding) {
        // A late decoding or socket error while closing: the backend side is
        // done either way.
        if (isSocketError(error)) this.#toBackend.abandon();
        return;
      }
      const decision = closeCodeForError(error, "backend");
      this.#end({
        ...decision,
        detail: errorText(error),
        initiator: "backend",
        isBackendGone: isSocketError(error),
      });
    }
  }

  /** Compresses (in order) and sends a message of a compressing session. */
  #queueOutbound(message: Uint8Array): void {
    if (this.#options.isTextToBrowser) validateUtf8(message);
    // The decoder may hand messages over in a reused scratch buffer.
    const copy = message.slice();
    const deflater = this.#compression!.deflater;
    this.#outbound = this.#outbound.then(async () => {
      const compressed = await deflater.compress(copy);
      if (this.#isCloseSent || this.#toBrowser.hasFailed) return;
      if (compressed === null) {
        this.#sendToBrowser(copy);
        return;
      }
      const opcode =
        (this.#options.isTextToBrowser ? Opcode.TEXT : Opcode.BINARY) |
        RSV1_COMPRESSED;
      const writer = this.#toBrowser;
      const length = compressed.length;
      const headerLength = frameHeaderLength(length);
      const buffer = writer.reserve(headerLength);
      const offset = writer.reservedOffset;
      writer.commit(writeFrameHeader(buffer, offset, opcode, length));
      writer.append(compressed);
      this.#countToBrowser(copy);
    });
  }

  #markBackendEnded(): void {
    this.#backendEnded.set();
  }

  #sendToBrowser(message: Uint8Array): void {
    const isText = this.#options.isTextToBrowser;
    if (isText && this.#compression === undefined) validateUtf8(message);
    const opcode = isText ? Opcode.TEXT : Opcode.BINARY;
    const length = message.length;
    const writer = this.#toBrowser;
    const headerLength = frameHeaderLength(length);
    if (length < COPY_THRESHOLD_BYTES) {
      const buffer = writer.reserve(headerLength + length);
      const offset = writer.reservedOffset;
      writeFrameHeader(buffer, offset, opcode, length);
      buffer.set(message, offset + headerLength);
      writer.commit(headerLength + length);
    } else if (!this.#toBrowserInPlace(message, opcode, headerLength)) {
      const buffer = writer.reserve(headerLength);
      const offset = writer.reservedOffset;
      writer.commit(writeFrameHeader(buffer, offset, opcode, length));
      if (writer.append(message)) {
        this.#isBackendReadRetained = true;
        this.#backendReadFloor = readFloorAfter(
          message,
          this.#backendRead.whole,
          this.#backendReadFloor,
        );
      }
    }
    this.#countToBrowser(message);
  }

  #countToBrowser(message: Uint8Array): void {
    const length = message.length;
    this.#bytesToBrowser += length;
    this.#messagesToBrowser++;
    (this.#sizesToBrowser ??= newSizeBuckets())[sizeBucket(length)]!++;
    if (this.#onTraffic !== undefined) this.#onTraffic("to_browser", message);
    this.#lastDataMs = this.#lastFromBackendMs;
  }

  // ---- large messages without a copy ---------------------------------------
  //
  // A large message that lies in the current read buffer is sent from there:
  // its new header is written over the bytes just before it (its old header,
  // the read's headroom, or bytes of messages already copied out), and header
  // and message go out as one piece by reference. The read buffer then comes
  // back through the writer's releaseTo once written. Messages in the same
  // read rewritten this way are adjacent when the headers have the same size,
  // and the writer joins them into one write.

  /** Frames a large browser message for the backend in place, if it can. */
  #toBackendInPlace(payload: Uint8Array, frameLength: number): boolean {
    const encoder = this.#options.encoder;
    const read = this.#browserRead.whole;
    if (
      payload.buffer !== read.buffer || encoder.bodyOffset !== 0 ||
      encoder.trailer.length > 0
    ) {
      return false;
    }
    const end = payload.byteOffset + payload.length - read.byteOffset;
    const at = end - frameLength;
    if (at < this.#browserReadFloor) return false;
    encoder.encodeHeadInto(payload, read, at);
    this.#toBackend.append(read.subarray(at, end));
    this.#browserReadFloor = end;
    this.#isBrowserReadRetained = true;
    return true;
  }

  /** Frames a large backend message for the browser in place, if it can. */
  #toBrowserInPlace(
    message: Uint8Array,
    opcode: number,
    headerLength: number,
  ): boolean {
    const read = this.#backendRead.whole;
    if (message.buffer !== read.buffer) return false;
    const start = message.byteOffset - read.byteOffset;
    const at = start - headerLength;
    if (at < this.#backendReadFloor) return false;
    writeFrameHeader(read, at, opcode, message.length);
    const end = start + message.length;
    this.#toBrowser.append(read.subarray(at, end));
    this.#backendReadFloor = end;
    this.#isBackendReadRetained = true;
    return true;
  }

  #sendDeferredPong(): void {
    const payload = this.#deferredPong;
    this.#deferredPong = undefined;
    if (
      payload !== undefined && !this.#isCloseSent && !this.#toBrowser.hasFailed
    ) {
      this.#sendControl(Opcode.PONG, payload);
    }
  }

  #sendControl(opcode: number, payload: Uint8Array): void {
    const writer = this.#toBrowser;
    const buffer = writer.reserve(2 + payload.length);
    const offset = writer.reservedOffset;
    const header = writeFrameHeader(buffer, offset, opcode, payload.length);
    buffer.set(payload, offset + header);
    writer.commit(header + payload.length);
    writer.flush();
  }

  async #lingerBrowser(timeoutMs: number): Promise<void> {
    const browser = this.#browser;
    // closeWrite waits for pending writes: a browser that reads nothing
    // gets no linger (our close frame could not reach it anyway).
    if (this.#toBrowser.pendingBytes > 0) return;
    try {
      await closeWriteWithin(browser, timeoutMs);
    } catch {
      return;
    }
    await drainUntilEof(browser, timeoutMs, {
      maxReads: 100000,
      now: this.#now,
    });
  }

  // ---- the single close path ---------------------------------------------

  #end(cause: EndCause): void {
    if (this.#isEnding) return;
    this.#isEnding = true;
    this.#finish(cause).catch((error) => {
      // A bug in the close path still ends the session and frees sockets.
      closeQuietly(this.#browser);
      closeQuietly(this.#backend);
      return this.#summary({
        ...cause,
        detail: `${cause.detail ?? ""} (close path failed: ${
          errorText(error)
        })`,
      });
    }).then((summary) => {
      this.#ended.set(summary);
      try {
        this.#options.onClose(summary);
      } catch {
        // The owner's bookkeeping must not break the relay.
      }
    });
  }

  async #finish(cause: EndCause): Promise<SessionSummary> {
    const deadline = this.#now() + this.#options.closeTimeoutMs;
    const remaining = () => Math.max(0, deadline - this.#now());
    if (cause.isBrowserGone) this.#toBrowser.abandon();
    if (cause.isBackendGone) this.#toBackend.abandon();
    if (cause.initiator === "gateway") {
      // Let reads that already completed in the kernel be relayed before
      // the close frame goes out: that data is in flight, not late.
      await nextTurn();
    }
    // Messages still compressing go out before our close frame.
    if (this.#compression !== undefined) {
      await withTimeout(this.#outbound.catch(() => {}), remaining());
    }
    if (!this.#toBrowser.hasFailed) {
      // Browser side: queued messages first, then our close frame (an echo
      // of the browser's code when it closed first). Browser messages sent
      // before it saw our close are still relayed meanwhile.
      this.#isCloseSent = true;
      this.#sendControl(
        Opcode.CLOSE,
        encodeClosePayload(cause.code, cause.reason),
      );
      if (this.#toBrowser.pendingBytes > 0) {
        await withTimeout(this.#toBrowser.drained(), remaining());
      }
      if (cause.isBrowserFaulty && !this.#toBrowser.hasFailed) {
        // The parser cannot read past the fault, so linger instead: send
        // FIN after our close frame and discard input until the browser
        // closes too. Closing at once could turn unread input into a reset
        // that destroys the close frame before the browser reads it.
        await this.#lingerBrowser(Math.min(remaining(), FAULTY_CLOSE_WAIT_MS));
      } else if (!this.#isCloseReceived && !this.#toBrowser.hasFailed) {
        await withTimeout(this.#closeReceived.wait(), remaining());
      }
    }
    this.#isCloseSent = true;
    this.#toBrowser.abandon();
    closeQuietly(this.#browser);
    await this.#closeBackend(remaining);
    this.#compression?.deflater.close();
    this.#compression?.inflater.close();
    return this.#summary(cause);
  }

  #summary(cause: EndCause): SessionSummary {
    return {
      code: cause.code,
      reason: cause.reason,
      detail: cause.detail,
      initiator: cause.initiator,
      bytesToBackend: this.#bytesToBackend,
      bytesToBrowser: this.#bytesToBrowser,
      messagesToBackend: this.#messagesToBackend,
      messagesToBrowser: this.#messagesToBrowser,
      durationMs: this.#now() - this.#openedAtMs,
    };
  }

  /**
   * Delivers every message already received to the backend, then shuts its
   * write side and waits (bounded) for its end before closing. Closing with
   * unread replies in the socket would make the kernel send a reset and
   * drop the tail of what we sent.
   */
  async #closeBackend(remaining: () => number): Promise<void> {
    if (!this.#toBackend.hasFailed) {
      if (this.#toBackend.pendingBytes > 0) {
        await withTimeout(this.#toBackend.drained(), remaining());
      }
    }
    this.#isBackendWriteClosed = true;
    // A backend that stopped reading keeps our last write pending, and the
    // runtime's closeWrite waits for pending writes: after the drain
    // deadline, close at once instead of shutting the write side.
    if (!this.#toBackend.hasFailed && this.#toBackend.pendingBytes === 0) {
      try {
        await closeWriteWithin(this.#backend, remaining());
        if (!this.#backendEnded.isSet) {
          await withTimeout(this.#backendEnded.wait(), remaining());
        }
      } catch {
        // Already gone.
      }
    }
    this.#toBackend.abandon();
    closeQuietly(this.#backend);
  }
}
