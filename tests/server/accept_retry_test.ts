import { assertEquals } from "../_util/assert.ts";
import { AcceptRetry } from "../../src/server/accept_retry.ts";

Deno.test("AcceptRetry doubles the delay from 5 ms up to 1 s", () => {
  const retry = new AcceptRetry();
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) delays.push(retry.failed(i).delayMs);
  assertEquals(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
});

Deno.test("AcceptRetry starts again at 5 ms after a success", () => {
  const retry = new AcceptRetry();
  retry.failed(0);
  retry.failed(1);
  retry.succeeded();
  assertEquals(retry.failed(2).delayMs, 5);
});

Deno.test("AcceptRetry reports at most once per interval with the suppressed count", () => {
  const retry = new AcceptRetry({ reportIntervalMs: 1000 });
  const reported: [number, number][] = [];
  for (let nowMs = 0; nowMs < 2500; nowMs += 100) {
    const step = retry.failed(nowMs);
    if (step.isReported) reported.push([nowMs, step.suppressed]);
  }
  assertEquals(reported, [[0, 0], [1000, 9], [2000, 9]]);
});
