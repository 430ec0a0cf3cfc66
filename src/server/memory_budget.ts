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

/** The budget when the machine's memory cannot be read (no `--allow-sys`): 1 GiB. */
export const FALLBACK_MEMORY_BUDGET_BYTES: number = 2 ** 30;

/** What {@linkcode machineMemoryBudget} found. */
export interface MachineMemoryBudget {
  /** The budget in bytes. */
  bytes: number;
  /** Why the machine's memory could not be read (the fallback is used). */
  problem?: string;
}

/**
 * The default budget of this machine: a quarter of its memory, or
 * {@linkcode FALLBACK_MEMORY_BUDGET_BYTES} with the reason when reading it
 * fails (Deno without `--allow-sys=systemMemoryInfo`). Never throws.
 *
 * @example Without permission to read the machine's memory
 * ```ts
 * import { FALLBACK_MEMORY_BUDGET_BYTES, machineMemoryBudget } from "./memory_budget.ts";
 * import assert from "node:assert/strict";
 * const found = machineMemoryBudget(() => {
 *   throw new Deno.errors.NotCapable("Requires sys access");
 * });
 * assert.equal(found.bytes, FALLBACK_MEMORY_BUDGET_BYTES);
 * assert.match(found.problem ?? "", /sys access/);
 * assert.deepEqual(machineMemoryBudget(() => 8 * 2 ** 30), { bytes: 2 * 2 ** 30 });
 * ```
 *
 * @param readTotal Reads the machine's memory in bytes.
 * @returns The budget, and the problem when the fallback is used.
 */
export function machineMemoryBudget(
  readTotal: () => number = () => Deno.systemMemoryInfo().total,
): MachineMemoryBudget {
  try {
    return { bytes: defaultMemoryBudgetBytes(readTotal()) };
  } catch (error) {
    return {
      bytes: FALLBACK_MEMORY_BUDGET_BYTES,
      problem: error instanceof Error ? error.message : String(error),
    };
  }
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
