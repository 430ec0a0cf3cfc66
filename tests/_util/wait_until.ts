/**
 * Bounded polling for state that changes without an event to await (a
 * gauge, a count of open descriptors, a log filled by another connection).
 *
 * @module
 */

/** How often {@linkcode waitUntil} checks its predicate, in milliseconds. */
const POLL_INTERVAL_MS = 10;

/**
 * Polls `predicate` every 10 ms until it holds or `timeoutMs` passes.
 *
 * @param predicate The condition to wait for.
 * @param timeoutMs How long to wait at most, in milliseconds.
 * @param what Describes the condition for the timeout error; called only on
 * failure, so it may show the current state.
 * @returns Resolves once `predicate()` is true; rejects on the timeout.
 *
 * @example Wait for a flag set by a timer
 * ```ts
 * import { waitUntil } from "./wait_until.ts";
 *
 * let isSet = false;
 * const timer = setTimeout(() => isSet = true, 20);
 * try {
 *   await waitUntil(() => isSet, 1000, () => "the flag");
 * } finally {
 *   clearTimeout(timer);
 * }
 * ```
 */
export async function waitUntil(
  predicate: () => boolean,
  timeoutMs: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let polls = 0; polls < 100_000; polls++) {
    if (predicate()) return;
    if (Date.now() >= deadline) break;
    await delay(POLL_INTERVAL_MS);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what()}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
