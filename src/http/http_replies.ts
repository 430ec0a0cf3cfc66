/**
 * Writing the gateway's answers to a request head: an HTTP response with an
 * optional streamed file, a refusal that lingers so the client reads it, the
 * `101 Switching Protocols` head, and a 101 followed at once by a close
 * frame.
 *
 * @module
 */

import { encodeClosePayload } from "../websocket/close_frame.ts";
import { encodeHttpResponse } from "./http_response.ts";
import type { HttpRefusal } from "./request_head.ts";
import { encodeServerFrame, Opcode } from "../websocket/ws_frame_codec.ts";
import { sharedDeadlines } from "../io/deadline_queue.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { drainUntilEof } from "../io/drain.ts";
import { writeAll } from "../io/write_all.ts";
import { writeWithProgress } from "../io/write_progress.ts";
import type { HttpResponse } from "./http_routes.ts";

const ASCII = new TextEncoder();

/** The read size for streaming a static file. */
const FILE_CHUNK_BYTES = 64 * 1024;

/** How long a refused connection may linger for the client to finish. */
const REFUSAL_LINGER_MS = 500;

/**
 * Writes `response` (head, then the file if any) and closes `conn`; the
 * file is always closed. Rejects when a write fails, and with
 * `WriteStalledError` when the client read nothing for `idleMs`.
 * @param conn The connection.
 * @param response The response from the HTTP responder.
 * @param idleMs The longest a single write may wait for the client to read.
 * @returns Resolves once written and closed.
 */
export async function sendHttpResponse(
  conn: Deno.Conn,
  response: HttpResponse,
  idleMs: number,
): Promise<void> {
  const file = response.file;
  try {
    let written = await writeWithProgress(conn, response.bytes, idleMs, 0);
    if (file !== undefined) {
      const chunk = new Uint8Array(FILE_CHUNK_BYTES);
      // Bounded by the file's size: every turn reads at least one byte.
      for (;;) {
        const count = await file.read(chunk);
        if (count === null) break;
        written = await writeWithProgress(
          conn,
          chunk.subarray(0, count),
          idleMs,
          written,
        );
      }
    }
  } finally {
    try {
      file?.close();
    } catch {
      // Already closed.
    }
    closeQuietly(conn);
  }
}

function encodeRefusal(refusal: HttpRefusal): Uint8Array {
  return encodeHttpResponse(refusal.status, {
    "content-type": "text/plain; charset=utf-8",
    ...refusal.headers,
  }, refusal.body + "\n");
}

/**
 * Writes the refusal as a plain-text HTTP response, lingers briefly, then
 * closes `conn`; never throws.
 * @param conn The connection.
 * @param refusal The status, body and extra headers.
 * @returns Resolves once the connection is closed.
 */
export async function sendRefusal(
  conn: Deno.Conn,
  refusal: HttpRefusal,
): Promise<void> {
  try {
    await writeAll(conn, encodeRefusal(refusal));
    // Linger briefly: shut our side, then read what the client still
    // sends, so unread request bytes do not turn the close into a reset
    // that destroys the response before the client reads it.
    await conn.closeWrite();
    await drainUntilEof(conn, REFUSAL_LINGER_MS);
  } catch {
    // The client went away; nothing to tell it.
  }
  closeQuietly(conn);
}

/**
 * Writes the refusal to a connection that still has a read pending (so it
 * cannot linger and read), then closes it; closes it within
 * `REFUSAL_LINGER_MS` even when the write cannot complete (a client that
 * reads nothing, or a TLS handshake that never finished). Never throws.
 * @param conn The connection.
 * @param refusal The status, body and extra headers.
 * @returns Resolves once the connection is closed.
 */
export async function sendRefusalWithoutLinger(
  conn: Deno.Conn,
  refusal: HttpRefusal,
): Promise<void> {
  const deadline = sharedDeadlines.add(
    REFUSAL_LINGER_MS,
    () => closeQuietly(conn),
  );
  try {
    await writeAll(conn, encodeRefusal(refusal));
  } catch {
    // The client went away, or the deadline closed the connection.
  } finally {
    sharedDeadlines.cancel(deadline);
    closeQuietly(conn);
  }
}

/**
 * The `101 Switching Protocols` response head.
 *
 * @example With a subprotocol
 * ```ts
 * import { switchingProtocols } from "./http_replies.ts";
 * import assert from "node:assert/strict";
 * const text = new TextDecoder().decode(switchingProtocols("abc=", "chat"));
 * assert.ok(text.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
 * assert.ok(text.includes("Sec-WebSocket-Protocol: chat\r\n"));
 * assert.ok(text.endsWith("\r\n\r\n"));
 * ```
 *
 * @param accept The `Sec-WebSocket-Accept` value.
 * @param subprotocol The chosen subprotocol, if any.
 * @param extensions The `Sec-WebSocket-Extensions` value, if any.
 * @returns The head bytes.
 */
export function switchingProtocols(
  accept: string,
  subprotocol: string | undefined,
  extensions?: string,
): Uint8Array {
  return ASCII.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      (subprotocol === undefined
        ? ""
        : `Sec-WebSocket-Protocol: ${subprotocol}\r\n`) +
      (extensions === undefined
        ? ""
        : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      "\r\n",
  );
}

/**
 * The 101 head followed by a close frame, in one buffer: completes the
 * upgrade only to close at once with a reason the page can read.
 *
 * @example A close frame with 1011 follows the head
 * ```ts
 * import { switchingProtocols, switchingProtocolsThenClose } from "./http_replies.ts";
 * import assert from "node:assert/strict";
 * const head = switchingProtocols("abc=", undefined);
 * const bytes = switchingProtocolsThenClose("abc=", undefined, 1011, "down");
 * assert.equal(bytes[head.length], 0x88);
 * assert.equal((bytes[head.length + 2]! << 8) | bytes[head.length + 3]!, 1011);
 * ```
 *
 * @param accept The `Sec-WebSocket-Accept` value.
 * @param subprotocol The chosen subprotocol, if any.
 * @param code The close code.
 * @param reason The close reason.
 * @returns The bytes to write.
 */
export function switchingProtocolsThenClose(
  accept: string,
  subprotocol: string | undefined,
  code: number,
  reason: string,
): Uint8Array {
  const response = switchingProtocols(accept, subprotocol);
  const close = encodeServerFrame(
    Opcode.CLOSE,
    encodeClosePayload(code, reason),
  );
  const bytes = new Uint8Array(response.length + close.length);
  bytes.set(response, 0);
  bytes.set(close, response.length);
  return bytes;
}
