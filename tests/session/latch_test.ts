import { assertEquals } from "../_util/assert.ts";
import { Latch } from "../../src/session/latch.ts";

Deno.test("Latch resolves waiters from before and after set with the first value", async () => {
  const latch = new Latch<string>();
  assertEquals(latch.isSet, false);
  const early = latch.wait();
  latch.set("first");
  latch.set("second");
  assertEquals(await early, "first");
  assertEquals(await latch.wait(), "first");
  assertEquals(latch.isSet, true);
});
