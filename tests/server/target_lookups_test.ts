import { assert, assertEquals } from "../_util/assert.ts";
import { TargetLookups } from "../../src/server/target_lookups.ts";

Deno.test("TargetLookups admits up to its bound, starts nothing beyond it, and frees a slot when a lookup settles either way", async () => {
  const lookups = new TargetLookups(2);
  const settle: { resolve: () => void; reject: () => void }[] = [];
  const start = () =>
    new Promise<void>((resolve, reject) => settle.push({ resolve, reject }));
  const first = lookups.track(start);
  const second = lookups.track(start);
  assert(first !== undefined && second !== undefined);
  let isStarted = false;
  assertEquals(
    lookups.track(() => {
      isStarted = true;
      return Promise.resolve();
    }),
    undefined,
  );
  assertEquals(isStarted, false);
  assertEquals(lookups.inFlight, 2);
  settle[0]!.resolve();
  await first;
  assertEquals(lookups.inFlight, 1);
  settle[1]!.reject();
  await second.catch(() => {});
  assertEquals(lookups.inFlight, 0);
});
