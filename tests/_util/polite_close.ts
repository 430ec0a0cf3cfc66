/**
 * Ends a {@linkcode RawWsClient} session the way a browser leaves: a close
 * frame 1000, then a bounded wait for the gateway to end the connection, so
 * a test's gateway shutdown does not wait out `closeTimeoutMs`.
 *
 * @module
 */

import type { RawWsClient } from "./raw_ws_client.ts";

/** Sends close 1000, waits up to 2 s for EOF, then closes the socket. */
export async function closePolitely(client: RawWsClient): Promise<void> {
  try {
    await client.sendClose(1000);
    await client.waitForEof(2000);
  } catch {
    // Already closed by the gateway, or slow: close below anyway.
  }
  await client.close();
}

/** Wraps `client` so that `await using` ends it with {@linkcode closePolitely}. */
export function politely(client: RawWsClient): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => closePolitely(client) };
}
