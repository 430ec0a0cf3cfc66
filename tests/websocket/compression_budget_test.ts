import assert from "node:assert/strict";
import {
  CompressionBudget,
  contextMemoryBytes,
} from "../../src/websocket/compression_budget.ts";

Deno.test("CompressionBudget refuses a reservation past the limit and counts the refusal", () => {
  const budget = new CompressionBudget({ limitBytes: 1000 });
  assert.equal(budget.tryReserve(400), true);
  assert.equal(budget.tryReserve(600), true);
  assert.equal(budget.tryReserve(1), false);
  assert.equal(budget.refusals, 1);
  assert.equal(budget.reservedBytes, 1000);
});

Deno.test("CompressionBudget makes room again when a session releases", () => {
  const budget = new CompressionBudget({ limitBytes: 1000 });
  assert.equal(budget.tryReserve(1000), true);
  budget.release(1000);
  assert.equal(budget.tryReserve(1000), true);
  budget.release(5000);
  assert.equal(budget.reservedBytes, 0);
});

Deno.test("CompressionBudget with a zero limit refuses every kept context", () => {
  const budget = new CompressionBudget({ limitBytes: 0 });
  assert.equal(budget.tryReserve(1), false);
  assert.throws(() => new CompressionBudget({ limitBytes: -1 }), RangeError);
});

Deno.test("contextMemoryBytes shrinks with the window and memLevel", () => {
  const full = contextMemoryBytes({
    serverWindowBits: 15,
    clientWindowBits: 15,
    memLevel: 8,
  });
  const small = contextMemoryBytes({
    serverWindowBits: 10,
    clientWindowBits: 10,
    memLevel: 4,
  });
  assert.ok(small < full / 3, `${small} vs ${full}`);
});

Deno.test("CompressionBudget.setLimit keeps reservations and refuses new ones until they fit", () => {
  const budget = new CompressionBudget({ limitBytes: 1000 });
  assert.equal(budget.tryReserve(800), true);
  budget.setLimit(500);
  assert.equal(budget.limitBytes, 500);
  assert.equal(budget.reservedBytes, 800);
  assert.equal(budget.tryReserve(1), false);
  budget.release(800);
  assert.equal(budget.tryReserve(500), true);
  assert.throws(() => budget.setLimit(-1), RangeError);
});
