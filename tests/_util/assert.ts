/**
 * The assertion hub for tests: `node:assert/strict` plus a few helpers.
 *
 * @module
 */

export {
  deepEqual as assertEquals,
  equal as assertStrictEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
export { default as assertModule } from "node:assert/strict";

/**
 * Resolves `promise` or rejects after `ms` with a message naming `what`, so a
 * broken test fails instead of hanging. The timer is always cleared.
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
