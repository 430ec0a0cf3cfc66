/**
 * Writing to a peer that must keep reading: every write has to make
 * progress within a bound, or the connection is closed. Used for plain HTTP
 * responses (static files, metrics), where a client that asks for a large
 * file and stops reading would otherwise hold a connection and a file
 * descriptor forever.
 *
 * @module
 */

import { withTimeout } from "./deadline_queue.ts";
import { closeQuietly } from "./close_quietly.ts";

/**
 * Thrown when a write made no progress within its bound; the connection has
 * been closed.
 *
 * @example Usage
 * ```ts
 * import { WriteStalledError } from "./write_progress.ts";
 * import assert from "node:assert/strict";
 * const error = new WriteStalledError(5000, 15);
 * assert.equal(error.idleMs, 5000);
 * assert.equal(error.bytesWritten, 15);
 * ```
 */
export class WriteStalledError extends Error {
  /** The progress bound that passed, in milliseconds. */
  readonly idleMs: number;
  /** The bytes written before the stall. */
  readonly bytesWritten: number;

  /**
   * @param idleMs The progress bound that passed.
   * @param bytesWritten The bytes written before the stall.
   */
  constructor(idleMs: number, bytesWritten: number) {
    super(
      `the peer read nothing for ${idleMs} ms after ${bytesWritten} bytes`,
    );
    this.name = "WriteStalledError";
    this.idleMs = idleMs;
    this.bytesWritten = bytesWritten;
  }
}

/**
 * Writes all of `bytes` to `conn`; each `write` call must complete within
 * `idleMs`, else `conn` is closed and a {@linkcode WriteStalledError} thrown.
 * The bound is on progress, not on the whole transfer: a slow but reading
 * client gets a large file.
 *
 * @example Usage
 * ```ts
 * import { writeWithProgress } from "./write_progress.ts";
 * import assert from "node:assert/strict";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const server = await listener.accept();
 * const written = await writeWithProgress(server, new Uint8Array(10), 1000, 0);
 * assert.equal(written, 10);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 *
 * @param conn The connection.
 * @param bytes The bytes to write.
 * @param idleMs The longest time one write may take, in milliseconds.
 * @param alreadyWritten Bytes written before this call, for the error.
 * @returns The total written (`alreadyWritten` plus `bytes.length`).
 */
export async function writeWithProgress(
  conn: Deno.Conn,
  bytes: Uint8Array,
  idleMs: number,
  alreadyWritten: number,
): Promise<number> {
  let rest = bytes;
  let total = alreadyWritten;
  while (rest.length > 0) {
    let written: number | undefined;
    await withTimeout(
      conn.write(rest).then((count) => {
        written = count;
      }),
      idleMs,
    );
    if (written === undefined) {
      closeQuietly(conn);
      throw new WriteStalledError(idleMs, total);
    }
    total += written;
    rest = rest.subarray(written);
  }
  return total;
}
