/**
 * Whether the process's file-descriptor limit can hold the session limit:
 * each session holds two descriptors (browser and backend) and each pending
 * handshake one, so a limit below that makes `accept()` fail with "Too many
 * open files" before `maxSessions` is reached. A pure check plus the Linux
 * reader of the limit.
 *
 * @module
 */

/**
 * A warning when `maxSessions` needs more descriptors than `limit` allows.
 *
 * @example
 * ```ts
 * import { descriptorBudgetWarning } from "./descriptor_budget.ts";
 * import assert from "node:assert/strict";
 * assert.equal(descriptorBudgetWarning(100, 1024), undefined);
 * assert.match(descriptorBudgetWarning(10000, 1024)!, /limit is 1024/);
 * ```
 *
 * @param maxSessions The configured session limit.
 * @param limit The open-file limit (RLIMIT_NOFILE, soft).
 * @returns The warning text, or `undefined` when the limit is enough.
 */
export function descriptorBudgetWarning(
  maxSessions: number,
  limit: number,
): string | undefined {
  // Only the clear case: pending handshakes and the runtime's own
  // descriptors come on top, so even a limit just above this can run out.
  const needed = maxSessions * 2;
  if (limit >= needed) return undefined;
  return `maxSessions ${maxSessions} needs at least ${needed} file descriptors ` +
    `(2 per session) but the open-file limit is ${limit}: accept() will fail ` +
    `with "Too many open files" first; raise the limit (ulimit -n) or lower ` +
    `maxSessions to ${Math.max(1, Math.floor(limit / 2))}`;
}

/**
 * This process's soft open-file limit from Linux `/proc/self/limits`.
 *
 * @example
 * ```ts
 * import { openFileLimit } from "./descriptor_budget.ts";
 * import assert from "node:assert/strict";
 * const limit = await openFileLimit();
 * assert.ok(limit === undefined || limit > 0);
 * ```
 *
 * @returns The limit, or `undefined` when unknown or unlimited.
 */
export async function openFileLimit(): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile("/proc/self/limits");
  } catch {
    return undefined;
  }
  const line = text.split("\n").find((row) => row.startsWith("Max open files"));
  const soft = Number(
    line?.slice("Max open files".length).trim().split(/\s+/)[0],
  );
  return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
}
