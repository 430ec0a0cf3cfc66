import {
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_util/assert.ts";
import {
  DeadlineQueue,
  valueWithin,
  withTimeout,
} from "../../src/io/deadline_queue.ts";
import { runDenoScript } from "../_util/deno_script.ts";

const MODULE_URL = new URL(
  "../../src/io/deadline_queue.ts",
  import.meta.url,
).href;

Deno.test("DeadlineQueue runs callbacks in deadline order, not insertion order", async () => {
  // The clock stands still while the deadlines are added, so a pause
  // between two adds (GC, a loaded machine) cannot reorder them.
  let frozenAt: number | undefined = performance.now();
  const queue = new DeadlineQueue({
    now: () => frozenAt ?? performance.now(),
  });
  const fired: number[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  for (const ms of [30, 10, 20, 0, 10]) {
    queue.add(ms, () => {
      fired.push(ms);
      if (fired.length === 5) resolve();
    });
  }
  frozenAt = undefined;
  assertEquals(queue.pending, 5);
  await promise;
  assertEquals(fired, [0, 10, 10, 20, 30]);
  assertEquals(queue.pending, 0);
});

Deno.test("DeadlineQueue never runs a cancelled callback, even one due earlier", async () => {
  const queue = new DeadlineQueue();
  const fired: string[] = [];
  const early = queue.add(1, () => fired.push("cancelled"));
  const { promise, resolve } = Promise.withResolvers<void>();
  queue.add(15, () => {
    fired.push("kept");
    resolve();
  });
  queue.cancel(early);
  queue.cancel(early);
  assertEquals(queue.pending, 1);
  await promise;
  assertEquals(fired, ["kept"]);
});

Deno.test("DeadlineQueue ignores cancel of an expired deadline and keeps counting", async () => {
  const queue = new DeadlineQueue();
  const { promise, resolve } = Promise.withResolvers<void>();
  const first = queue.add(0, resolve);
  await promise;
  queue.cancel(first);
  assertEquals(queue.pending, 0);
  const second = Promise.withResolvers<void>();
  queue.add(1, second.resolve);
  assertEquals(queue.pending, 1);
  await second.promise;
  assertEquals(queue.pending, 0);
});

Deno.test("DeadlineQueue keeps running later callbacks when one throws", async () => {
  const queue = new DeadlineQueue();
  const { promise, resolve } = Promise.withResolvers<void>();
  queue.add(1, () => {
    throw new Error("bad callback");
  });
  queue.add(2, resolve);
  await promise;
  assertEquals(queue.pending, 0);
});

Deno.test("DeadlineQueue keeps deadline order after most deadlines are cancelled", async () => {
  const queue = new DeadlineQueue();
  const fired: number[] = [];
  const kept: number[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  // 3,000 deadlines over 0-39 ms; 1 in 20 is kept, so cancelling the rest
  // passes the compaction threshold (over 1,024 entries, under 1 in 4 live).
  for (let i = 0; i < 3000; i++) {
    const ms = (i * 7) % 40;
    const deadline = queue.add(ms, () => {
      fired.push(deadline.at);
      if (fired.length === kept.length) resolve();
    });
    if (i % 20 === 0) {
      kept.push(deadline.at);
    } else {
      queue.cancel(deadline);
    }
  }
  assertEquals(queue.pending, 150);
  await promise;
  assertEquals(fired, kept.toSorted((a, b) => a - b));
  assertEquals(queue.pending, 0);
});

Deno.test("DeadlineQueue holds the process open only while a deadline is pending", async () => {
  const output = await runDenoScript(`
    import { DeadlineQueue } from "${MODULE_URL}";
    const queue = new DeadlineQueue();
    const withdrawn = queue.add(600_000, () => console.log("withdrawn fired"));
    queue.add(20, () => console.log("pending fired"));
    queue.cancel(withdrawn);
    const last = queue.add(600_000, () => console.log("last fired"));
    queue.add(30, () => queue.cancel(last));
  `);
  assertEquals(output, "pending fired\n");
});

Deno.test("valueWithin gives the value when it comes in time, undefined when the time is up, and the rejection when it rejects first", async () => {
  assertStrictEquals(await valueWithin(Promise.resolve("v"), 60_000), "v");
  assertStrictEquals(await valueWithin(new Promise(() => {}), 1), undefined);
  await assertRejects(
    () => valueWithin(Promise.reject(new RangeError("no")), 60_000),
    RangeError,
  );
  assertStrictEquals(
    await valueWithin(Promise.resolve(0), Infinity),
    0,
    "Infinity waits for the promise alone",
  );
});

Deno.test("withTimeout resolves at the deadline for a promise that never settles, and rejects with the promise's error", async () => {
  assertStrictEquals(await withTimeout(new Promise(() => {}), 1), undefined);
  await assertRejects(
    () => withTimeout(Promise.reject(new RangeError("no")), 60_000),
    RangeError,
  );
});
