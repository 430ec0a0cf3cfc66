/**
 * Closing a socket or listener without caring whether it is still open:
 * the one copy shared by `server/` and `session/`.
 *
 * @module
 */

/** Anything with a synchronous `close()`: a connection, listener or socket. */
export interface Closer {
  /** Releases the resource; may throw when it is closed already. */
  close(): void;
}

/**
 * Closes `closer`, ignoring that it may be closed already.
 * @param closer The connection, listener or socket.
 *
 * @example Closing twice does not throw
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeQuietly } from "./close_quietly.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * closeQuietly(listener);
 * assert.doesNotThrow(() => closeQuietly(listener));
 * ```
 */
export function closeQuietly(closer: Closer): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
