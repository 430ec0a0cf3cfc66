/**
 * Small socket chores of the server: writing a whole buffer and waiting
 * for one read. Closing quietly and draining live in `io/`. Private to
 * `server/`.
 *
 * @module
 */

import { withTimeout } from "../io/deadline_queue.ts";

/**
 * Writes all of `bytes` (a raw `write` may be partial).
 * @param conn The connection.
 * @param bytes The bytes to write.
 * @returns Resolves once everything is written; rejects on a write error.
 */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) {
    const written = await conn.write(rest);
    rest = rest.subarray(written);
  }
}

/**
 * Waits for one read (its bytes discarded) or `ms`, whichever comes first;
 * never throws.
 * @param conn The connection.
 * @param ms The longest wait in milliseconds.
 * @returns Resolves after the read or the wait.
 */
export async function awaitOneRead(conn: Deno.Conn, ms: number): Promise<void> {
  const buffer = new Uint8Array(256);
  await withTimeout(conn.read(buffer).catch(() => null), ms);
}
