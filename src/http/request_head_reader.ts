/**
 * Reading an HTTP request head off a fresh connection: grows a buffer up to
 * the head limit, looks for the end of the head in the new bytes of each
 * read, parses once when it is there (or the limit is reached), and keeps
 * the bytes that followed the head (a client may send its first WebSocket
 * frames at once). The handshake deadline is enforced by the gateway's
 * sweep closing the socket.
 *
 * @module
 */

import {
  type HttpRefusal,
  parseRequestHead,
  type RequestHead,
} from "./request_head.ts";

/** What {@linkcode readRequestHead} found. */
export type RequestHeadRead =
  | {
    kind: "head";
    head: RequestHead;
    /** Bytes received after the head, if any. */
    leftover: Uint8Array | undefined;
  }
  /** The client closed before the head was complete. */
  | { kind: "closed" }
  /** The head is malformed or too large. */
  | { kind: "refused"; refusal: HttpRefusal };

/**
 * Reads from `conn` until a request head is complete, refused, or the
 * client closes. Rejects when a read fails (including a TLS handshake
 * failure or the socket being closed under it).
 *
 * @example Read a head followed by early bytes
 * ```ts
 * import { readRequestHead } from "./request_head_reader.ts";
 * import assert from "node:assert/strict";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 * });
 * const server = await listener.accept();
 * await client.write(
 *   new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a\r\n\r\nAB"),
 * );
 * const read = await readRequestHead(server, 8192);
 * assert.equal(read.kind, "head");
 * if (read.kind === "head") {
 *   assert.equal(read.head.path, "/x");
 *   assert.deepEqual(read.leftover, new TextEncoder().encode("AB"));
 * }
 * client.close();
 * server.close();
 * listener.close();
 * ```
 *
 * @param conn The connection (only `read` is used).
 * @param maxHeadBytes The largest head accepted, in bytes.
 * @returns The head, the refusal, or that the client closed.
 */
export async function readRequestHead(
  conn: Pick<Deno.Conn, "read">,
  maxHeadBytes: number,
): Promise<RequestHeadRead> {
  let buffer = new Uint8Array(Math.min(2048, maxHeadBytes));
  let filled = 0;
  // Bytes already searched for the terminator. Parsing the whole buffer
  // after every read rescanned it each time: quadratic for a head that
  // arrives a few bytes per read.
  let scanned = 0;
  for (;;) {
    if (filled === buffer.length) {
      const grown = new Uint8Array(Math.min(buffer.length * 2, maxHeadBytes));
      grown.set(buffer);
      buffer = grown;
    }
    const count = await conn.read(buffer.subarray(filled));
    if (count === null) return { kind: "closed" };
    filled += count;
    const result = parseRequestHead(
      buffer.subarray(0, filled),
      maxHeadBytes,
      scanned,
    );
    if (result.kind === "incomplete") {
      scanned = filled;
      continue;
    }
    if (result.kind === "refused") {
      return { kind: "refused", refusal: result.refusal };
    }
    const head = result.head;
    return {
      kind: "head",
      head,
      leftover: filled > head.headLength
        ? buffer.slice(head.headLength, filled)
        : undefined,
    };
  }
}
