/**
 * Small socket chores of the server: writing a whole buffer, closing
 * without caring whether the socket is still open, and bounded reads that
 * discard what the client still sends. Private to `server/`.
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
 * Closes `conn`, ignoring that it may be closed already.
 * @param conn The connection.
 */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Reads and discards until EOF or `ms` pass; never throws.
 * @param conn The connection.
 * @param ms The longest wait in milliseconds.
 * @returns Resolves at EOF, on a read error, or when the time is up.
 */
export async function drainUntilEof(
  conn: Deno.Conn,
  ms: number,
): Promise<void> {
  const buffer = new Uint8Array(4096);
  const drain = (async () => {
    for (let reads = 0; reads < 1024; reads++) {
      if (await conn.read(buffer) === null) return;
    }
  })().catch(() => {});
  await withTimeout(drain, ms);
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
