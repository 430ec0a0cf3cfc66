import assert from "node:assert/strict";
import { ControlFrameBudget } from "../../src/session/control_budget.ts";

Deno.test("ControlFrameBudget allows a burst of twice the rate, then refuses", () => {
  const budget = new ControlFrameBudget(100, 1000);
  for (let i = 0; i < 200; i++) assert.equal(budget.take(1000), true, `${i}`);
  assert.equal(budget.take(1000), false);
});

Deno.test("ControlFrameBudget refills at the rate and never above the burst", () => {
  const budget = new ControlFrameBudget(100, 0);
  for (let i = 0; i < 200; i++) budget.take(0);
  // 10 ms at 100 per second: one frame.
  assert.equal(budget.take(10), true);
  assert.equal(budget.take(10), false);
  // A long quiet time refills only up to the burst.
  let taken = 0;
  for (let i = 0; i < 1000 && budget.take(1_000_000); i++) taken++;
  assert.equal(taken, 200);
});

Deno.test("ControlFrameBudget ignores a clock that goes back", () => {
  const budget = new ControlFrameBudget(1, 1000);
  budget.take(1000);
  budget.take(1000);
  assert.equal(budget.take(0), false);
  assert.equal(budget.take(2000), true);
});
