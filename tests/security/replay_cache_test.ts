import assert from "node:assert/strict";
import { ReplayCache } from "../../src/security/replay_cache.ts";

Deno.test("ReplayCache refuses new ids when full of unexpired ones and frees expired ones", () => {
  const cache = new ReplayCache({ maxEntries: 3 });
  assert.equal(cache.use("a", 100, 0), "fresh");
  assert.equal(cache.use("b", 200, 0), "fresh");
  assert.equal(cache.use("c", 300, 0), "fresh");
  assert.equal(cache.use("d", 400, 50), "full");
  assert.equal(cache.use("a", 500, 50), "replayed");
  assert.equal(cache.use("d", 400, 100), "fresh", "a expired at 100");
  assert.equal(cache.size, 3);
  assert.equal(cache.use("a", 500, 150), "full");
  assert.equal(cache.purge(300), 2);
  assert.equal(cache.size, 1);
  assert.equal(cache.purge(300), 0);
  assert.equal(
    cache.use("b", 600, 300),
    "fresh",
    "an expired id may be used again",
  );
  assert.throws(() => new ReplayCache({ maxEntries: 0 }), RangeError);
});

Deno.test("ReplayCache.use refuses a held id until its expiry and accepts it again from then on", () => {
  // Pins the boundary: an id held until t is replayed before t and fresh at
  // t; a cache that never let expired ids go refused valid new tickets.
  const cache = new ReplayCache({ maxEntries: 10 });
  assert.equal(cache.use("a", 1000, 0), "fresh");
  assert.equal(cache.use("a", 1000, 999), "replayed");
  assert.equal(cache.use("a", 5000, 1000), "fresh");
  assert.equal(cache.use("a", 5000, 4999), "replayed");
});

Deno.test("ReplayCache has no cap by default: 20,000 distinct fresh tickets within one expiry window are all accepted", () => {
  const cache = new ReplayCache();
  for (let i = 0; i < 20_000; i++) {
    assert.equal(cache.use(`jti-${i}`, 60_000, i), "fresh", `ticket ${i}`);
  }
  assert.equal(cache.use("jti-7", 60_000, 20_000), "replayed");
  assert.equal(cache.size, 20_000);
});

Deno.test("ReplayCache purges expired ids as new ones arrive, without a call to purge", () => {
  const cache = new ReplayCache();
  for (let i = 0; i < 10_000; i++) cache.use(`old-${i}`, 1000, 0);
  for (let i = 0; i < 10_000; i++) cache.use(`new-${i}`, 5000, 2000);
  assert.ok(cache.size < 15_000, `held ${cache.size} ids`);
  assert.equal(cache.use("new-1", 5000, 2001), "replayed");
});

Deno.test("ReplayCache.forget lets a spent ticket id be used again", () => {
  const cache = new ReplayCache();
  assert.equal(cache.use("a", 1000, 0), "fresh");
  assert.equal(cache.forget("a"), true);
  assert.equal(cache.use("a", 1000, 1), "fresh");
  assert.equal(cache.forget("b"), false);
});
