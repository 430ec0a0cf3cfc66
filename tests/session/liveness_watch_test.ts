import assert from "node:assert/strict";
import { LivenessWatch } from "../../src/session/liveness_watch.ts";
import type { SessionTimers } from "../../src/session/relay_options.ts";

const OFF: SessionTimers = {
  pingIntervalMs: 0,
  pingTimeoutMs: 0,
  idleTimeoutMs: 0,
  maxLifetimeMs: 0,
  backendSilenceMs: 0,
  backendHeartbeatMs: 0,
  stallTimeoutMs: 0,
};

Deno.test("LivenessWatch counts bytes a socket took as progress, so a paused session that still writes does not stall", () => {
  const watch = new LivenessWatch({ ...OFF, stallTimeoutMs: 100 }, 0);
  watch.state.isBrowserPaused = true;
  for (let now = 50; now <= 1000; now += 50) {
    assert.equal(watch.judge(now, { toBrowser: 0, toBackend: now }).end, null);
  }
  assert.equal(watch.judge(1099, { toBrowser: 0, toBackend: 1000 }).end, null);
  assert.equal(
    watch.judge(1100, { toBrowser: 0, toBackend: 1000 }).end,
    "stalled",
  );
});

Deno.test("LivenessWatch counts a read stamped by a pump as progress", () => {
  const watch = new LivenessWatch({ ...OFF, stallTimeoutMs: 100 }, 0);
  watch.state.isBrowserPaused = true;
  watch.state.lastFromBackendMs = 90;
  const written = { toBrowser: 0, toBackend: 0 };
  assert.equal(watch.judge(189, written).end, null);
  assert.equal(watch.judge(190, written).end, "stalled");
});

Deno.test("LivenessWatch starts the pong deadline when the ping reached the socket and restarts it while the browser takes bytes", () => {
  const timers = { ...OFF, pingIntervalMs: 100, pingTimeoutMs: 50 };
  const watch = new LivenessWatch(timers, 0);
  assert.equal(
    watch.judge(100, { toBrowser: 0, toBackend: 0 }).isPingDue,
    true,
  );
  watch.pingSent(100, 0);
  // Queued behind data the browser keeps taking: alive.
  assert.equal(watch.judge(140, { toBrowser: 500, toBackend: 0 }).end, null);
  assert.equal(watch.judge(500, { toBrowser: 1000, toBackend: 0 }).end, null);
  watch.pingWritten(500, 1000);
  // The browser keeps taking bytes: alive.
  assert.equal(watch.judge(540, { toBrowser: 2000, toBackend: 0 }).end, null);
  assert.equal(watch.judge(589, { toBrowser: 2000, toBackend: 0 }).end, null);
  assert.equal(
    watch.judge(590, { toBrowser: 2000, toBackend: 0 }).end,
    "ping_timeout",
  );
});

Deno.test("LivenessWatch ignores a ping written after its pong already arrived", () => {
  const timers = { ...OFF, pingIntervalMs: 100, pingTimeoutMs: 50 };
  const watch = new LivenessWatch(timers, 0);
  watch.pingSent(100, 0);
  watch.state.pingSentAtMs = 0; // the pong
  watch.pingWritten(120, 10);
  assert.equal(watch.state.pingWrittenAtMs, 0);
});
