/**
 * Small helpers of the relay session: bounded waits, a quiet close, and
 * telling socket failures from protocol errors. Private to `session/`.
 * (`withTimeout` lives in `deadline_queue.ts`.)
 *
 * @module
 */

import type { DuplexSocket } from "./relay_options.ts";

/**
 * Resolves after one turn of the event loop (pending I/O is polled).
 * @returns Resolves on the next timer turn.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Closes `socket`, ignoring that it may be closed already.
 * @param socket The socket.
 */
export function closeQuietly(socket: DuplexSocket): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
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
