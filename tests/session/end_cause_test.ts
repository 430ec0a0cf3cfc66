import assert from "node:assert/strict";
import {
  backendReadFailed,
  backendWriteFailed,
  browserGone,
  browserReadFailed,
  livenessEnd,
} from "../../src/session/end_cause.ts";
import { FrameTooLargeError } from "../../src/errors.ts";
import type { SessionTimers } from "../../src/session/relay_options.ts";

const TIMERS: SessionTimers = {
  pingIntervalMs: 1,
  pingTimeoutMs: 2,
  idleTimeoutMs: 3,
  maxLifetimeMs: 4,
  backendSilenceMs: 5,
  backendHeartbeatMs: 6,
  stallTimeoutMs: 7,
};

Deno.test("livenessEnd gives each liveness end its close code, reason, initiator and log detail", () => {
  const cases = [
    [
      "lifetime",
      4002,
      "session lifetime exceeded",
      "gateway",
      "session older than 4 ms",
    ],
    ["idle", 4001, "idle timeout", "gateway", "no data either way for 3 ms"],
    [
      "backend_silent",
      4000,
      "backend silent",
      "backend",
      "nothing from the backend for 5 ms",
    ],
    [
      "stalled",
      4003,
      "session stalled",
      "gateway",
      "browser not read and nothing moved for 7 ms",
    ],
    ["ping_timeout", 1006, "browser gone", "browser", "no pong within 2 ms"],
  ] as const;
  for (const [end, code, reason, initiator, detail] of cases) {
    const cause = livenessEnd(end, TIMERS);
    assert.deepEqual(
      [cause.code, cause.reason, cause.initiator, cause.detail],
      [code, reason, initiator, detail],
      end,
    );
  }
  assert.equal(livenessEnd("ping_timeout", TIMERS).isBrowserGone, true);
});

Deno.test("browserReadFailed tells a gone browser from a faulty one", () => {
  const gone = browserReadFailed(new Deno.errors.ConnectionReset("reset"));
  assert.deepEqual([gone.code, gone.isBrowserGone], [1006, true]);
  const faulty = browserReadFailed(new FrameTooLargeError(70000, 65536));
  assert.deepEqual([faulty.code, faulty.isBrowserFaulty], [1009, true]);
  assert.equal(browserGone("x").detail, "x");
});

Deno.test("backend failures end as the backend's, gone when the socket failed", () => {
  const reset = backendReadFailed(new Deno.errors.ConnectionReset("reset"));
  assert.deepEqual([reset.initiator, reset.isBackendGone], ["backend", true]);
  const tooBig = backendReadFailed(new FrameTooLargeError(70000, 65536));
  assert.equal(tooBig.isBackendGone, false);
  const write = backendWriteFailed(new Deno.errors.BrokenPipe("pipe"));
  assert.deepEqual([write.isBackendGone, write.initiator], [true, "backend"]);
});
