/**
 * What a relay session is made of and what it reports: the duplex sockets
 * it joins, its options and liveness timers, and the summary handed to
 * `onClose` once it has ended.
 *
 * @module
 */

import type { FrameDecoder, FrameEncoder } from "../framing/codec.ts";
import type {
  MessageDeflater,
  MessageInflater,
} from "../websocket/message_deflate.ts";

/** The zlib state of a session that negotiated permessage-deflate. */
export interface SessionCompression {
  /** Compresses backend messages for the browser. */
  deflater: MessageDeflater;
  /** Inflates compressed browser messages, capped at the message limit. */
  inflater: MessageInflater;
}

/** A duplex byte socket (`Deno.Conn` fits). */
export interface DuplexSocket {
  /** Reads into `buffer`; resolves to the count, or null at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves to the count written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes the socket. */
  close(): void;
  /** Shuts down the write side (sends FIN), if supported. */
  closeWrite?(): Promise<void>;
}

/** How a session ended; reported once through `onClose`. */
export interface SessionSummary {
  /** The close code sent to (or received from) the browser. */
  code: number;
  /** The short reason. */
  reason: string;
  /** Detail for the log (error message), if any. */
  detail: string | undefined;
  /** Which side ended the session first. */
  initiator: "browser" | "backend" | "gateway";
  /** Payload bytes relayed browser -> backend (messages). */
  bytesToBackend: number;
  /** Payload bytes relayed backend -> browser (messages). */
  bytesToBrowser: number;
  /** Messages relayed browser -> backend. */
  messagesToBackend: number;
  /** Messages relayed backend -> browser. */
  messagesToBrowser: number;
  /** Session duration in milliseconds. */
  durationMs: number;
}

/** Liveness and timeout settings of a session (all in milliseconds; 0 = off). */
export interface SessionTimers {
  /** Send a WebSocket ping after this long without hearing from the browser. @default {20000} */
  pingIntervalMs: number;
  /** Consider the browser gone when a ping is unanswered this long. @default {20000} */
  pingTimeoutMs: number;
  /** Close with 4001 when no data moved either way this long. @default {0} */
  idleTimeoutMs: number;
  /** Close with 4002 when the session is this old. @default {0} */
  maxLifetimeMs: number;
  /** Send the heartbeat message to the backend after this long without backend-bound traffic. @default {0} */
  backendHeartbeatMs: number;
  /** Close with 4000 when the backend sent nothing this long while being read. @default {0} */
  backendSilenceMs: number;
  /**
   * Close with 4003 when the browser is not being read (flow control) and
   * nothing moved either way this long: a browser's close cannot be seen
   * behind data the gateway is not reading. @default {60000}
   */
  stallTimeoutMs: number;
}

/** Options of a `RelaySession`. */
export interface RelaySessionOptions {
  /** The session id used in logs. */
  id: string;
  /** Frames browser messages for the backend. */
  encoder: FrameEncoder;
  /** Splits the backend stream into messages. */
  decoder: FrameDecoder;
  /** Whether backend messages go to the browser as text (validated UTF-8). */
  isTextToBrowser: boolean;
  /** Largest browser message accepted. */
  maxMessageBytes: number;
  /** High-water mark per direction in bytes. */
  highWaterBytes: number;
  /** How long to wait for flushing and the close handshake. */
  closeTimeoutMs: number;
  /** Liveness timers. */
  timers: SessionTimers;
  /** The message sent to the backend as an application heartbeat. */
  heartbeatMessage: Uint8Array | undefined;
  /** Bytes that followed the request head in the first read. */
  initialBrowserBytes: Uint8Array | undefined;
  /**
   * Pings and pongs per second a browser may send on average (bursts of
   * twice that); beyond, the session closes with 1008. 0 = no limit.
   * @default {0}
   */
  maxControlFramesPerSecond?: number;
  /** Clock in milliseconds. */
  now: () => number;
  /** Called once when the session has fully ended. */
  onClose: (summary: SessionSummary) => void;
  /** permessage-deflate state; undefined when not negotiated (the fast path). */
  compression?: SessionCompression;
  /** Sees every relayed message (for traffic logs and recordings); off when undefined. */
  onTraffic?: (
    direction: "to_backend" | "to_browser",
    message: Uint8Array,
  ) => void;
}
