/**
 * Close frame payloads: parsing with RFC 6455 validation and building with
 * the 123-byte reason limit.
 *
 * @module
 */

import { InvalidMessageError, WebSocketProtocolError } from "../errors.ts";

/** Largest close reason in bytes (125 payload bytes minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A decoded close frame. Code 1005 means the frame carried no code. */
export interface ClosePayload {
  /** The close code (1005 when the payload was empty). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
}

/**
 * Whether a peer may send `code` in a close frame (RFC 6455 section 7.4 and
 * the IANA registry): 1000-1003, 1007-1014, 3000-4999.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "./close_frame.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isValidCloseCode(1000), true);
 * assert.equal(isValidCloseCode(1005), false);
 * ```
 *
 * @param code The code to check.
 * @returns Whether it is allowed on the wire.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const ENCODER = new TextEncoder();

/**
 * Parses and validates a close frame payload.
 *
 * @example
 * ```ts
 * import { parseClosePayload } from "./close_frame.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseClosePayload(new Uint8Array([0x03, 0xe8, 0x6f, 0x6b])), { code: 1000, reason: "ok" });
 * ```
 *
 * @param payload The close frame payload.
 * @returns The code and reason.
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: 1005, reason: "" };
  if (payload.length === 1) {
    throw new WebSocketProtocolError(
      "Cannot accept close frame as its payload must be empty or at least 2 bytes: current length is 1",
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new WebSocketProtocolError(
      `Cannot accept close frame as its code is not allowed: current value is ${code}`,
    );
  }
  let reason: string;
  try {
    reason = STRICT_UTF8.decode(payload.subarray(2));
  } catch (cause) {
    throw new InvalidMessageError(
      "Cannot accept close frame as its reason is not valid UTF-8",
      { cause },
    );
  }
  return { code, reason };
}

/**
 * Builds a close frame payload; the reason is cut to 123 bytes on a
 * character boundary. Code 1005 yields an empty payload.
 *
 * @example
 * ```ts
 * import { encodeClosePayload } from "./close_frame.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...encodeClosePayload(1000, "")], [0x03, 0xe8]);
 * ```
 *
 * @param code The close code.
 * @param reason The reason text.
 * @returns The payload bytes.
 */
export function encodeClosePayload(code: number, reason: string): Uint8Array {
  if (code === 1005) return new Uint8Array(0);
  let reasonBytes = ENCODER.encode(reason);
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    let cut = MAX_CLOSE_REASON_BYTES;
    // Step back over UTF-8 continuation bytes so no character is split.
    while (cut > 0 && (reasonBytes[cut]! & 0xc0) === 0x80) cut--;
    reasonBytes = reasonBytes.subarray(0, cut);
  }
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}
