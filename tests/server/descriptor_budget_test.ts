import { assert, assertStrictEquals } from "../_util/assert.ts";
import {
  descriptorBudgetWarning,
  openFileLimit,
} from "../../src/server/descriptor_budget.ts";

Deno.test("descriptorBudgetWarning is quiet when the limit holds two descriptors per session", () => {
  assertStrictEquals(descriptorBudgetWarning(1000, 2000), undefined);
});

Deno.test("descriptorBudgetWarning names the limit and a session limit that fits", () => {
  const warning = descriptorBudgetWarning(10000, 19999);
  assert(warning !== undefined);
  assert(warning.includes("the open-file limit is 19999"), warning);
  assert(warning.includes("lower maxSessions to 9999"), warning);
});

Deno.test("openFileLimit reads this process's soft limit", async () => {
  const limit = await openFileLimit();
  assert(limit !== undefined && limit > 0, String(limit));
});
