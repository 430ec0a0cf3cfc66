/**
 * Small helpers of the relay session: the next event-loop turn, a bounded
 * close, telling socket failures from protocol errors, and a
 * cheap view of part of a buffer.
 * Private to `session/`.
 *
 * @module
 */

import { withTimeout } from "../io/deadline_queue.ts";
import type { DuplexSocket } from "./relay_options.ts";

/**
 * Resolves after one turn of the event loop (pending I/O is polled).
 * @returns Resolves on the next timer turn.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Shuts the write side of `socket` (FIN), waiting at most `ms`: the
 * runtime's closeWrite waits behind a pending write, which a peer that
 * stopped reading never completes.
 * @param socket The socket.
 * @param ms The longest wait in milliseconds.
 * @returns Resolves when shut or when the time is up; rejects when the
 * socket is gone.
 */
export function closeWriteWithin(
  socket: DuplexSocket,
  ms: number,
): Promise<void> {
  return withTimeout(socket.closeWrite?.() ?? Promise.resolve(), ms);
}

/**
 * Whether `error` is a socket failure (reset, broken pipe, closed resource)
 * rather than a protocol or framing error.
 * @param error The caught value.
 * @returns True for socket failures.
 */
export function isSocketError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.TimedOut;
}

/**
 * The `name: message` of an error, for log details.
 * @param error The caught value.
 * @returns The text.
 */
export function errorText(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

/**
 * `bytes.subarray(start, end)` without the species lookup `subarray` makes
 * (the relay and its writers make one per read and per write).
 * @param bytes The bytes.
 * @param start The first index of the view.
 * @param end The index after its last byte.
 * @returns A view of `bytes[start..end)`.
 */
export function regionOf(
  bytes: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}
