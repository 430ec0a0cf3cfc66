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
