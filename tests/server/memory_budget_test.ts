import assert from "node:assert/strict";
import {
  defaultMemoryBudgetBytes,
  pickOverBudget,
} from "../../src/server/memory_budget.ts";

Deno.test("pickOverBudget closes nothing while the total fits, at exactly the budget too", () => {
  assert.deepEqual(pickOverBudget([], 10), []);
  assert.deepEqual(pickOverBudget([5, 5], 10), []);
});

Deno.test("pickOverBudget closes the largest holders first until the rest fits", () => {
  assert.deepEqual(pickOverBudget([1, 8, 3, 8], 10), [1, 3]);
  assert.deepEqual(pickOverBudget([1, 8, 3, 8], 12), [1]);
});

Deno.test("pickOverBudget never closes a holder of nothing", () => {
  assert.deepEqual(pickOverBudget([0, 0, 20], 5), [2]);
});

Deno.test("pickOverBudget with a budget of 0 is off", () => {
  assert.deepEqual(pickOverBudget([1e12], 0), []);
});

Deno.test("defaultMemoryBudgetBytes is a quarter of the machine's memory, in whole bytes", () => {
  assert.equal(defaultMemoryBudgetBytes(1001), 250);
});
