/**
 * Draining: reading and discarding what a peer still sends until EOF, a
 * read budget or a deadline, whichever comes first. The one copy shared by
 * `server/` (after an HTTP reply) and `session/` (the browser linger).
 *
 * @module
 */

import { withTimeout } from "./deadline_queue.ts";

/** Anything with a raw `read()`, like `Deno.Conn`. */
export interface Reader {
  /** Reads into `buffer`; resolves with the count, or null at EOF. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Options for {@linkcode drainUntilEof}. */
export interface DrainOptions {
  /**
   * The most reads before giving up (bounds the loop against a peer that
   * keeps sending).
   * @default {1024}
   */
  maxReads?: number;
  /**
   * The clock in milliseconds: the loop also stops once it reads `ms` past
   * its start on this clock (a session clock may run apart from the
   * runtime timer).
   * @default {performance.now}
   */
  now?: () => number;
}

const DISCARD_BYTES = 4096;
/**
 * Bytes read back to back (every read filling the buffer) before the loop
 * gives the event loop a turn, as the relay pumps do: a peer that keeps the
 * socket full must not hold the thread, nor keep the deadline's timer from
 * firing.
 */
const YIELD_AFTER_BYTES = 1024 * 1024;

/** Resolves after one turn of the event loop (timers and I/O polled). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Reads and discards until EOF or `ms` pass; never throws. A peer that
 * keeps sending is bounded by `maxReads` and by the deadline, which the
 * loop checks itself; after every 1 MiB read back to back it yields to the
 * event loop.
 * @param reader The connection or socket.
 * @param ms The longest wait in milliseconds.
 * @param options The read budget and the optional clock.
 * @returns Resolves at EOF, on a read error, or when the time is up.
 *
 * @example Draining a connection the peer has closed
 * ```ts
 * import assert from "node:assert/strict";
 * import { drainUntilEof } from "./drain.ts";
 *
 * let reads = 0;
 * const reader = {
 *   read: (_buffer: Uint8Array) => Promise.resolve(++reads < 3 ? 1 : null),
 * };
 * await drainUntilEof(reader, 1000);
 * assert.equal(reads, 3);
 * ```
 */
export async function drainUntilEof(
  reader: Reader,
  ms: number,
  options: DrainOptions = {},
): Promise<void> {
  const { maxReads = 1024, now = () => performance.now() } = options;
  const buffer = new Uint8Array(DISCARD_BYTES);
  const deadline = now() + ms;
  const drain = (async () => {
    let streakBytes = 0;
    for (let reads = 0; reads < maxReads; reads++) {
      if (now() >= deadline) return;
      const count = await reader.read(buffer);
      if (count === null) return;
      if (count < buffer.length) streakBytes = 0;
      else if ((streakBytes += count) >= YIELD_AFTER_BYTES) {
        streakBytes = 0;
        await nextTurn();
      }
    }
  })().catch(() => {});
  await withTimeout(drain, ms);
}
