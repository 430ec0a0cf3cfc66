/**
 * The process-wide memory budget for what sessions hold (messages being
 * reassembled, queues for either side): its default, derived from the
 * machine's memory, and the pure choice of which sessions to close when the
 * total goes over it (the largest holders first, as Envoy's overload
 * manager sheds the heaviest streams).
 *
 * @module
 */

/** The share of the machine's memory sessions may hold by default. */
const DEFAULT_SHARE = 1 / 4;

/**
 * The default budget: a quarter of the machine's memory.
 *
 * @example 16 GiB of memory
 * ```ts
 * import { defaultMemoryBudgetBytes } from "./memory_budget.ts";
 * import assert from "node:assert/strict";
 * assert.equal(defaultMemoryBudgetBytes(16 * 2 ** 30), 4 * 2 ** 30);
 * ```
 *
 * @param totalMemoryBytes The machine's memory in bytes.
 * @returns The budget in bytes.
 */
export function defaultMemoryBudgetBytes(totalMemoryBytes: number): number {
  return Math.floor(totalMemoryBytes * DEFAULT_SHARE);
}

/**
 * Which holders to close so that what the others hold fits the budget: the
 * largest first, as few as possible. Nothing when the total fits or the
 * budget is off (0).
 *
 * @example Three sessions over a 10-byte budget
 * ```ts
 * import { pickOverBudget } from "./memory_budget.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(pickOverBudget([4, 9, 6], 10), [1]);
 * assert.deepEqual(pickOverBudget([4, 9, 6], 3), [1, 2, 0]);
 * assert.deepEqual(pickOverBudget([4, 5], 10), []);
 * ```
 *
 * @param held Bytes each holder holds.
 * @param budgetBytes The budget in bytes; 0 = off.
 * @returns Indices into `held`, largest holder first.
 */
export function pickOverBudget(
  held: readonly number[],
  budgetBytes: number,
): number[] {
  if (budgetBytes <= 0) return [];
  let total = 0;
  for (const bytes of held) total += bytes;
  if (total <= budgetBytes) return [];
  const order = held.map((_, index) => index).sort((a, b) =>
    held[b]! - held[a]!
  );
  const picked: number[] = [];
  for (const index of order) {
    if (total <= budgetBytes || held[index]! === 0) break;
    picked.push(index);
    total -= held[index]!;
  }
  return picked;
}
