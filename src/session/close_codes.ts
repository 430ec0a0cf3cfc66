/**
 * The WebSocket close codes wsgate sends, and the one function that maps an
 * error to a code and a short reason for the browser.
 *
 * @module
 */

import {
  BackendConnectError,
  FrameTooLargeError,
  InvalidMessageError,
  LengthFieldIsTextError,
  MalformedFrameError,
  TruncatedFrameError,
  WebSocketProtocolError,
} from "../errors.ts";

/**
 * Close codes used by wsgate. 1000-1015 are RFC 6455 codes; 4000-4999 are
 * wsgate's own, documented in the README.
 */
export const CloseCode = {
  /** The backend closed cleanly after all its data was delivered, or the browser closed. */
  NORMAL: 1000,
  /** The gateway is shutting down. */
  GOING_AWAY: 1001,
  /** A WebSocket protocol violation, or a malformed frame from the backend. */
  PROTOCOL_ERROR: 1002,
  /** No status was present in the close frame (never sent). */
  NO_STATUS: 1005,
  /** The connection dropped without a close frame (never sent). */
  ABNORMAL: 1006,
  /** A message was not valid for its type (bad UTF-8, cannot be framed). */
  INVALID_PAYLOAD: 1007,
  /** A policy refused the message or session. */
  POLICY_VIOLATION: 1008,
  /** A frame or message is larger than allowed. */
  MESSAGE_TOO_BIG: 1009,
  /** The backend is unreachable, failed, reset, or cut a frame short. */
  INTERNAL_ERROR: 1011,
  /** The gateway is overloaded; try again later. */
  TRY_AGAIN_LATER: 1013,
  /** The backend sent nothing for the configured silence timeout. */
  BACKEND_SILENT: 4000,
  /** No data moved either way for the idle timeout. */
  IDLE_TIMEOUT: 4001,
  /** The session reached its maximum lifetime. */
  LIFETIME_EXCEEDED: 4002,
  /** Stuck both ways: the browser not read (flow control) and nothing moving, for the stall timeout. */
  STALLED: 4003,
} as const;

/** A close code and the short reason the browser sees. */
export interface CloseDecision {
  /** The close code. */
  code: number;
  /** A short reason naming the cause (at most 123 bytes). */
  reason: string;
}

/**
 * Chooses the close code and browser-facing reason for an error raised while
 * relaying. The detailed message stays in the log.
 *
 * @example
 * ```ts
 * import { closeCodeForError } from "./close_codes.ts";
 * import { FrameTooLargeError } from "../errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(closeCodeForError(new FrameTooLargeError(9, 8), "backend").code, 1009);
 * ```
 *
 * @param error The error.
 * @param side Which side the offending bytes came from.
 * @returns The code and reason.
 */
export function closeCodeForError(
  error: unknown,
  side: "browser" | "backend",
): CloseDecision {
  if (error instanceof LengthFieldIsTextError && side === "backend") {
    return {
      code: CloseCode.MESSAGE_TOO_BIG,
      reason:
        "backend sent text, not length-prefixed frames: try --framing raw or lines",
    };
  }
  if (error instanceof FrameTooLargeError) {
    return {
      code: CloseCode.MESSAGE_TOO_BIG,
      reason: side === "backend" ? "backend frame too big" : "message too big",
    };
  }
  if (error instanceof MalformedFrameError) {
    return {
      code: CloseCode.PROTOCOL_ERROR,
      reason: side === "backend"
        ? "malformed backend frame"
        : "malformed frame",
    };
  }
  if (error instanceof InvalidMessageError) {
    const isUtf8 = error.message.includes("UTF-8");
    // permessage-deflate: MessageInflater's corrupt-stream error.
    const isCompressed = error.message.startsWith("Cannot inflate");
    return {
      code: CloseCode.INVALID_PAYLOAD,
      reason: side === "backend"
        ? "invalid backend message"
        : isUtf8
        ? "invalid UTF-8"
        : isCompressed
        ? "invalid compressed data"
        : "message cannot be framed",
    };
  }
  if (error instanceof WebSocketProtocolError) {
    return { code: CloseCode.PROTOCOL_ERROR, reason: "protocol error" };
  }
  if (error instanceof TruncatedFrameError) {
    return {
      code: CloseCode.INTERNAL_ERROR,
      reason: "backend closed mid-frame",
    };
  }
  if (error instanceof BackendConnectError) {
    return { code: CloseCode.INTERNAL_ERROR, reason: "backend unreachable" };
  }
  if (error instanceof Deno.errors.ConnectionReset) {
    return {
      code: CloseCode.INTERNAL_ERROR,
      reason: "backend connection reset",
    };
  }
  return {
    code: CloseCode.INTERNAL_ERROR,
    // A read error on the browser's connection (a corrupt TLS record, for
    // one) is not the backend's fault.
    reason: side === "backend" ? "backend error" : "browser connection error",
  };
}
