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

/**
 * Asserts two byte arrays are equal, comparing up to the first differing
 * index and reporting that index and both values. Unlike `deepEqual`, a
 * mismatch in a 1 MiB buffer fails at once instead of building a giant diff.
 */
export function assertBytesEqual(
  actual: Uint8Array,
  expected: Uint8Array,
  message = "",
): void {
  const prefix = message === "" ? "" : `${message}: `;
  const length = Math.min(actual.length, expected.length);
  for (let i = 0; i < length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(
        `${prefix}bytes differ at index ${i}: actual ${actual[i]}, expected ${
          expected[i]
        } (lengths ${actual.length} and ${expected.length})`,
      );
    }
  }
  if (actual.length !== expected.length) {
    throw new Error(
      `${prefix}byte lengths differ: actual ${actual.length}, expected ${expected.length} (equal up to index ${length})`,
    );
  }
}
