/**
 * One relay session: a browser WebSocket connection and a backend TCP
 * connection joined by two one-way pumps (`pumpBrowserToBackend`,
 * `pumpBackendToBrowser`) and a single idempotent close path. Flow control
 * is plain TCP: a pump stops reading while the bytes held for the other side
 * are above the high-water mark. Frames are built by the two outputs
 * ({@linkcode BrowserOutput}, {@linkcode BackendOutput}), liveness is judged
 * by the pure `judgeLiveness`, traffic is counted by {@linkcode RelayStats},
 * and permessage-deflate runs in {@linkcode MessageCompression}.
 *
 * @module
 */

import { Opcode, WsFrameParser } from "../websocket/ws_frame_codec.ts";
import { parseClosePayload } from "../websocket/close_frame.ts";
import { Latch } from "./latch.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { drainUntilEof } from "../io/drain.ts";
import type { LivenessState } from "./liveness.ts";
import { LivenessWatch } from "./liveness_watch.ts";
import { CloseCode } from "./close_codes.ts";
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
  SessionSummary,
} from "./relay_options.ts";
import { RelayStats, type RelayStatsDelta } from "./relay_stats.ts";
import { ControlFrameBudget } from "./control_budget.ts";
import {
  backendReadFailed,
  backendWriteFailed,
  browserGone,
  browserReadFailed,
  type EndCause,
  livenessEnd,
} from "./end_cause.ts";
import { BrowserOutput, MAX_SERVER_HEADER_BYTES } from "./browser_output.ts";
import { COPY_THRESHOLD_BYTES } from "./output_writer.ts";
import { BackendOutput } from "./backend_output.ts";
import { MessageCompression } from "./message_compression.ts";

/** How long a faulty browser gets to answer our close frame. */
const FAULTY_CLOSE_WAIT_MS = 1000;

/**
 * After reads in a row that each filled the read buffer (more is waiting)
 * bring this many bytes, a pump yields to the event loop: a read that finds
 * data ready resolves without a trip through it, so one flooding session
 * would otherwise keep every other session waiting.
 */
const YIELD_AFTER_BYTES = 1024 * 1024;

/** Idle this long, a session gives its spare buffers back. */
const TRIM_AFTER_IDLE_MS = 5000;

/**
 * Relays one browser WebSocket connection to one backend TCP connection.
 *
 * @example Construct and start (needs two real sockets)
 * ```ts ignore
 * const session = new RelaySession(browserConn, backendConn, { id: "s1", ...options });
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
  #toBrowser: BrowserOutput;
  /**
   * permessage-deflate, when negotiated: browser messages and control
   * frames go through its inbound queue, backend messages through its
   * outbound one; each pump awaits its queue before reading on.
   */
  #compression: MessageCompression | undefined;
  #toBackend: BackendOutput;
  #stats = new RelayStats();
  #now: () => number;
  #liveness: LivenessWatch;
  /** The timestamps liveness is judged on, updated as data moves. */
  #times: LivenessState;

  #isEnding = false;
  #isCloseReceived = false;
  /** Pings and pongs the browser may still send; undefined: no limit. */
  #controlBudget: ControlFrameBudget | undefined;
  /** The browser is no longer read (it flooded). */
  #isBrowserCut = false;
  #closeReceived = new Latch();
  #backendEnded = new Latch();
  #isBackendWriteClosed = false;
  #ended = new Latch<SessionSummary>();
  /** What each side is read into; reads never exceed the high-water mark. */
  #browserRead: ReadBuffer;
  #backendRead: ReadBuffer;

  /**
   * Constructs a session; call {@linkcode RelaySession.start} to relay.
   * @param browser The upgraded browser connection.
   * @param backend The connected backend.
   * @param options The id, codecs, limits and callbacks.
   */
  constructor(
    browser: DuplexSocket,
    backend: DuplexSocket,
    options: RelaySessionOptions,
  ) {
    this.id = options.id;
    this.#browser = browser;
    this.#backend = backend;
    this.#options = options;
    this.#now = options.now;
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
    this.#liveness = new LivenessWatch(options.timers, now);
    this.#times = this.#liveness.state;
    const controlRate = options.maxControlFramesPerSecond ?? 0;
    if (controlRate > 0) {
      this.#controlBudget = new ControlFrameBudget(controlRate, now);
    }
    const compression = options.compression === undefined
      ? undefined
      : new MessageCompression(options.compression, {
        toBackend: (message) => this.#relayToBackend(message),
        control: (opcode, payload) => this.#onBrowserControl(opcode, payload),
        toBrowser: (message, compressed) =>
          this.#relayCompressedToBrowser(message, compressed),
      }, { isTextToBrowser: options.isTextToBrowser });
    this.#compression = compression;
    this.#parser = new WsFrameParser(
      compression === undefined
        ? {
          onMessage: (_isText, payload) => this.#relayToBackend(payload),
          onControl: (opcode, payload) =>
            this.#onBrowserControl(opcode, payload),
        }
        : {
          onMessage: (isText, payload, isCompressed) =>
            compression.queueInbound(isText, payload, isCompressed),
          onControl: (opcode, payload) =>
            compression.queueControl(opcode, payload),
        },
      {
        maxMessageBytes: options.maxMessageBytes,
        expectMasked: true,
        isCompressionNegotiated: compression !== undefined,
        // Outputs copy every message below the copy threshold, so those
        // may live in the parser's reused scratch buffer.
        scratchBytes: COPY_THRESHOLD_BYTES - 1,
      },
    );
    this.#toBrowser = new BrowserOutput(browser, {
      isText: options.isTextToBrowser,
      highWaterBytes: options.highWaterBytes,
      source: this.#backendRead,
      onError: (error) => this.#end(browserGone(errorText(error))),
    });
    this.#toBackend = new BackendOutput(backend, options.encoder, {
      highWaterBytes: options.highWaterBytes,
      source: this.#browserRead,
      onError: (error) => this.#end(backendWriteFailed(error)),
    });
  }

  /** Resolves with the summary once the session has fully ended. */
  get ended(): Promise<SessionSummary> {
    return this.#ended.wait();
  }

  /** Bytes currently held for both sides. */
  get bufferedBytes(): number {
    return this.#toBrowser.writer.pendingBytes +
      this.#toBackend.writer.pendingBytes +
      this.#parser.pendingBytes + this.#options.decoder.pendingBytes;
  }

  /** Payload bytes relayed so far, per direction. */
  get traffic(): { toBackend: number; toBrowser: number } {
    return {
      toBackend: this.#stats.bytesToBackend,
      toBrowser: this.#stats.bytesToBrowser,
    };
  }

  /**
   * Returns the traffic since the previous call (for metrics) and resets
   * the size buckets.
   * @returns The deltas.
   */
  takeStats(): RelayStatsDelta {
    return this.#stats.take();
  }

  /** Whether the browser is not being read now (flow control). */
  get isBrowserPaused(): boolean {
    return this.#times.isBrowserPaused;
  }

  /** Whether the backend is not being read now (flow control). */
  get isBackendPaused(): boolean {
    return this.#times.isBackendPaused;
  }

  /** When the session opened (clock milliseconds). */
  get openedAtMs(): number {
    return this.#times.openedAtMs;
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
    this.#toBrowser.writer.abandon();
    this.#toBackend.writer.abandon();
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
    const times = this.#times;
    const verdict = this.#liveness.judge(now, {
      toBrowser: this.#toBrowser.writer.writtenBytes,
      toBackend: this.#toBackend.writer.writtenBytes,
    });
    if (verdict.end !== null) {
      this.#end(livenessEnd(verdict.end, timers));
      return;
    }
    if (verdict.isPingDue) {
      this.#liveness.pingSent(now, this.#toBrowser.writer.writtenBytes);
      this.#toBrowser.ping(this.#onPingWritten);
    }
    if (verdict.isHeartbeatDue) {
      times.lastToBackendMs = now;
      this.#toBackend.sendHeartbeat(
        this.#options.heartbeatMessage ?? new Uint8Array(0),
      );
    }
    if (now - times.lastDataMs >= TRIM_AFTER_IDLE_MS) {
      this.#toBrowser.writer.trim();
      this.#toBackend.writer.trim();
      this.#parser.trim();
      this.#browserRead.trim();
      this.#backendRead.trim();
    }
  }

  // ---- browser -> backend -------------------------------------------------

  async #pumpBrowserToBackend(): Promise<void> {
    const buffer = this.#browserRead;
    const output = this.#toBackend;
    const writer = output.writer;
    const times = this.#times;
    const compression = this.#compression;
    try {
      const initial = this.#options.initialBrowserBytes;
      if (initial !== undefined && initial.length > 0) {
        this.#parser.push(initial);
        if (compression !== undefined) await compression.inbound;
        output.flush();
      }
      let streakBytes = 0;
      while (!this.#isCloseReceived && !this.#isBrowserCut) {
        if (writer.isAboveHighWater) {
          times.isBrowserPaused = true;
          await writer.belowLowWater();
          times.isBrowserPaused = false;
          if (this.#isEnding && this.#isCloseReceived) break;
        }
        const bytes = buffer.bytes;
        const count = await this.#browser.read(bytes);
        if (count === null && this.#isEnding) {
          // The browser left while we were closing: nothing more to wait for.
          this.#toBrowser.writer.abandon();
          this.#closeReceived.set();
          return;
        }
        if (count === null) {
          this.#end(
            browserGone("browser closed the connection without a close frame"),
          );
          return;
        }
        times.lastFromBrowserMs = this.#now();
        times.pingSentAtMs = 0;
        output.beginRead();
        this.#parser.push(regionOf(bytes, 0, count));
        if (compression !== undefined) await compression.inbound;
        // Part of a message arrived: data is moving (idle timeout).
        if (this.#parser.pendingBytes > 0) {
          times.lastDataMs = times.lastFromBrowserMs;
        }
        output.flush();
        buffer.afterRead(count, output.isReadRetained);
        if (count < bytes.length) streakBytes = 0;
        else if ((streakBytes += count) >= YIELD_AFTER_BYTES) {
          streakBytes = 0;
          await nextTurn();
        }
      }
    } catch (error) {
      if (this.#isEnding) {
        // The socket failed or was closed by our own close path while the
        // session was ending; nothing to report, nothing more to wait for.
        this.#toBrowser.writer.abandon();
        this.#closeReceived.set();
        return;
      }
      this.#end(browserReadFailed(error));
    }
  }

  /** The outstanding ping reached the browser's socket. */
  #onPingWritten = (): void =>
    this.#liveness.pingWritten(
      this.#now(),
      this.#toBrowser.writer.writtenBytes,
    );

  /** Each complete browser message, from the parser. */
  #relayToBackend(payload: Uint8Array): void {
    // Messages keep flowing while the session closes (they were sent before
    // the browser saw our close), until the backend's write side is shut.
    // Nothing after the browser's own close frame counts (RFC 6455 5.5.1).
    if (
      this.#isCloseReceived || this.#isBackendWriteClosed ||
      this.#isBrowserCut || this.#toBackend.writer.hasFailed
    ) {
      return;
    }
    this.#toBackend.sendMessage(payload);
    this.#stats.countToBackend(payload.length);
    this.#options.onTraffic?.("to_backend", payload);
    // The time of the read that carried the message: no clock call per
    // message on the hot path.
    const times = this.#times;
    times.lastToBackendMs = times.lastFromBrowserMs;
    times.lastDataMs = times.lastFromBrowserMs;
  }

  /** Each control frame from the browser, from the parser. */
  #onBrowserControl(opcode: number, payload: Uint8Array): void {
    if (this.#isBrowserCut) return;
    if (
      opcode !== Opcode.CLOSE && this.#controlBudget !== undefined &&
      !this.#controlBudget.take(this.#times.lastFromBrowserMs)
    ) {
      this.#isBrowserCut = true;
      this.#end({
        code: CloseCode.POLICY_VIOLATION,
        reason: "too many control frames",
        detail: `more than ${this.#options.maxControlFramesPerSecond} ` +
          "pings and pongs per second",
        initiator: "browser",
        isBrowserFlooding: true,
      });
      return;
    }
    if (opcode === Opcode.PING) {
      this.#toBrowser.answerPing(payload);
      return;
    }
    if (opcode === Opcode.PONG) {
      this.#times.pingSentAtMs = 0;
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
    const output = this.#toBrowser;
    const writer = output.writer;
    const times = this.#times;
    const compression = this.#compression;
    const relayToBrowser = compression === undefined
      ? (message: Uint8Array) => this.#relayToBrowser(message)
      : (message: Uint8Array) => compression.queueOutbound(message);
    let streakBytes = 0;
    try {
      for (;;) {
        // Once our close frame is queued nothing more can go to the browser:
        // keep reading only to see the backend's end, discarding.
        if (!output.isFinished && writer.isAboveHighWater) {
          times.isBackendPaused = true;
          await writer.belowLowWater();
          times.isBackendPaused = false;
          times.backendReadSinceMs = this.#now();
          continue;
        }
        const bytes = buffer.bytes;
        const count = await this.#backend.read(bytes);
        if (count === null) {
          this.#backendEnded.set();
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
        times.lastFromBackendMs = this.#now();
        if (output.isFinished) {
          // Discarding until the backend's end: the buffer still grows, so
          // a long tail drains in a few large reads, not thousands.
          buffer.afterRead(count, output.isReadRetained);
          continue;
        }
        output.beginRead();
        decoder.push(regionOf(bytes, 0, count), relayToBrowser);
        if (compression !== undefined) await compression.outbound;
        if (decoder.pendingBytes > 0) {
          times.lastDataMs = times.lastFromBackendMs;
        }
        output.flush();
        buffer.afterRead(count, output.isReadRetained);
        if (count < bytes.length) streakBytes = 0;
        else if ((streakBytes += count) >= YIELD_AFTER_BYTES) {
          streakBytes = 0;
          await nextTurn();
        }
      }
    } catch (error) {
      this.#backendEnded.set();
      if (this.#isEnding) {
        // A late decoding or socket error while closing: the backend side is
        // done either way.
        if (isSocketError(error)) this.#toBackend.writer.abandon();
        return;
      }
      this.#end(backendReadFailed(error));
    }
  }

  /** Each complete backend message, from the decoder. */
  #relayToBrowser(message: Uint8Array): void {
    this.#toBrowser.sendMessage(message);
    this.#stats.countToBrowser(message.length);
    this.#options.onTraffic?.("to_browser", message);
    this.#times.lastDataMs = this.#times.lastFromBackendMs;
  }

  /**
   * Each backend message of a compressing session, once compressed: sent
   * with RSV1 (or plain below the route's `minSize`) unless nothing more
   * can reach the browser.
   */
  #relayCompressedToBrowser(
    message: Uint8Array,
    compressed: Uint8Array | null,
  ): void {
    if (this.#toBrowser.isFinished) return;
    if (compressed === null) {
      this.#relayToBrowser(message);
      return;
    }
    this.#toBrowser.sendCompressed(compressed);
    this.#stats.countToBrowser(message.length);
    this.#options.onTraffic?.("to_browser", message);
    this.#times.lastDataMs = this.#times.lastFromBackendMs;
  }

  async #lingerBrowser(timeoutMs: number): Promise<void> {
    const browser = this.#browser;
    // closeWrite waits for pending writes: a browser that reads nothing
    // gets no linger (our close frame could not reach it anyway).
    if (this.#toBrowser.writer.pendingBytes > 0) return;
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
    const toBrowser = this.#toBrowser.writer;
    if (cause.isBrowserGone) toBrowser.abandon();
    if (cause.isBackendGone) this.#toBackend.writer.abandon();
    if (cause.initiator === "gateway") {
      // Let reads that already completed in the kernel be relayed before
      // the close frame goes out: that data is in flight, not late.
      await nextTurn();
    }
    // Messages still compressing go out before our close frame.
    if (this.#compression !== undefined) {
      await withTimeout(
        this.#compression.outbound.catch(() => {}),
        remaining(),
      );
    }
    if (!toBrowser.hasFailed) {
      // Browser side: queued messages first, then our close frame (an echo
      // of the browser's code when it closed first). Browser messages sent
      // before it saw our close are still relayed meanwhile.
      this.#toBrowser.sendClose(cause.code, cause.reason);
      if (toBrowser.pendingBytes > 0) {
        await withTimeout(toBrowser.drained(), remaining());
      }
      if (cause.isBrowserFlooding) {
        // Neither read nor lingered for: our close frame went out (or the
        // drain deadline passed), the socket closes now.
      } else if (cause.isBrowserFaulty && !toBrowser.hasFailed) {
        // The parser cannot read past the fault, so linger instead: send
        // FIN after our close frame and discard input until the browser
        // closes too. Closing at once could turn unread input into a reset
        // that destroys the close frame before the browser reads it.
        await this.#lingerBrowser(Math.min(remaining(), FAULTY_CLOSE_WAIT_MS));
      } else if (!this.#isCloseReceived && !toBrowser.hasFailed) {
        await withTimeout(this.#closeReceived.wait(), remaining());
      }
    }
    this.#toBrowser.stop();
    closeQuietly(this.#browser);
    await this.#closeBackend(remaining);
    this.#compression?.close();
    return this.#summary(cause);
  }

  #summary(cause: EndCause): SessionSummary {
    return {
      code: cause.code,
      reason: cause.reason,
      detail: cause.detail,
      initiator: cause.initiator,
      bytesToBackend: this.#stats.bytesToBackend,
      bytesToBrowser: this.#stats.bytesToBrowser,
      messagesToBackend: this.#stats.messagesToBackend,
      messagesToBrowser: this.#stats.messagesToBrowser,
      durationMs: this.#now() - this.#times.openedAtMs,
    };
  }

  /**
   * Delivers every message already received to the backend, then shuts its
   * write side and waits (bounded) for its end before closing. Closing with
   * unread replies in the socket would make the kernel send a reset and
   * drop the tail of what we sent.
   */
  async #closeBackend(remaining: () => number): Promise<void> {
    const toBackend = this.#toBackend.writer;
    if (!toBackend.hasFailed) {
      if (toBackend.pendingBytes > 0) {
        await withTimeout(toBackend.drained(), remaining());
      }
    }
    this.#isBackendWriteClosed = true;
    // A backend that stopped reading keeps our last write pending, and the
    // runtime's closeWrite waits for pending writes: after the drain
    // deadline, close at once instead of shutting the write side.
    if (!toBackend.hasFailed && toBackend.pendingBytes === 0) {
      try {
        await closeWriteWithin(this.#backend, remaining());
        if (!this.#backendEnded.isSet) {
          await withTimeout(this.#backendEnded.wait(), remaining());
        }
      } catch {
        // Already gone.
      }
    }
    toBackend.abandon();
    closeQuietly(this.#backend);
  }
}
