/**
 * Waiting for one read with a deadline (the close of a failed upgrade). Writing a
 * whole buffer, closing quietly and draining live in `io/`. Private to
 * `server/`.
 *
 * @module
 */

import { withTimeout } from "../io/deadline_queue.ts";

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
