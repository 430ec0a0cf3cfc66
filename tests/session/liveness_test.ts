import { assertEquals } from "../_util/assert.ts";
import {
  judgeLiveness,
  type LivenessState,
} from "../../src/session/liveness.ts";
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

function stateAt(
  ms: number,
  extra: Partial<LivenessState> = {},
): LivenessState {
  return {
    openedAtMs: ms,
    lastDataMs: ms,
    lastFromBackendMs: ms,
    lastFromBrowserMs: ms,
    lastToBackendMs: ms,
    pingSentAtMs: 0,
    pingWrittenAtMs: 0,
    browserDrainedAtMs: 0,
    isBrowserPaused: false,
    isBackendPaused: false,
    backendReadSinceMs: ms,
    lastProgressMs: ms,
    ...extra,
  };
}

Deno.test("judgeLiveness with every limit off never ends or sends", () => {
  assertEquals(judgeLiveness(stateAt(1), OFF, 1e12), {
    end: null,
    isPingDue: false,
    isHeartbeatDue: false,
  });
});

Deno.test("judgeLiveness ends an idle session at exactly idleTimeoutMs", async (t) => {
  const timers = { ...OFF, idleTimeoutMs: 100 };
  await t.step("1 ms before the limit the session goes on", () => {
    assertEquals(judgeLiveness(stateAt(1000), timers, 1099).end, null);
  });
  await t.step("at the limit it ends as idle", () => {
    assertEquals(judgeLiveness(stateAt(1000), timers, 1100).end, "idle");
  });
  await t.step("data from the browser resets the idle clock", () => {
    const state = stateAt(1000, { lastDataMs: 1050, lastFromBrowserMs: 1050 });
    assertEquals(judgeLiveness(state, timers, 1100).end, null);
  });
  await t.step("data from the backend resets the idle clock", () => {
    const state = stateAt(1000, { lastDataMs: 1050, lastFromBackendMs: 1050 });
    assertEquals(judgeLiveness(state, timers, 1100).end, null);
  });
});

Deno.test("judgeLiveness ends a session at exactly maxLifetimeMs even while data flows", () => {
  const timers = { ...OFF, maxLifetimeMs: 500 };
  const state = stateAt(0, { lastDataMs: 499 });
  assertEquals(judgeLiveness(state, timers, 499).end, null);
  assertEquals(judgeLiveness(state, timers, 500).end, "lifetime");
});

Deno.test("judgeLiveness checks lifetime before idle when both have passed", () => {
  const timers = { ...OFF, maxLifetimeMs: 100, idleTimeoutMs: 100 };
  assertEquals(judgeLiveness(stateAt(0), timers, 100).end, "lifetime");
});

Deno.test("judgeLiveness ends at exactly backendSilenceMs of nothing from the backend", () => {
  const timers = { ...OFF, backendSilenceMs: 300 };
  const state = stateAt(0, { lastFromBrowserMs: 299, lastDataMs: 299 });
  assertEquals(judgeLiveness(state, timers, 299).end, null);
  assertEquals(judgeLiveness(state, timers, 300).end, "backend_silent");
});

Deno.test("judgeLiveness does not count backend silence while the backend is paused for flow control", () => {
  const timers = { ...OFF, backendSilenceMs: 300 };
  const paused = stateAt(0, { isBackendPaused: true });
  assertEquals(judgeLiveness(paused, timers, 10_000).end, null);
});

Deno.test("judgeLiveness counts backend silence from when reading the backend resumed", () => {
  const timers = { ...OFF, backendSilenceMs: 300 };
  const resumed = stateAt(0, { backendReadSinceMs: 5000 });
  assertEquals(judgeLiveness(resumed, timers, 5299).end, null);
  assertEquals(judgeLiveness(resumed, timers, 5300).end, "backend_silent");
});

Deno.test("judgeLiveness ends a session stalled at exactly stallTimeoutMs while the browser is paused", async (t) => {
  const timers = { ...OFF, stallTimeoutMs: 200 };
  await t.step("paused, nothing moved: goes on 1 ms before, ends at it", () => {
    const state = stateAt(0, { isBrowserPaused: true });
    assertEquals(judgeLiveness(state, timers, 199).end, null);
    assertEquals(judgeLiveness(state, timers, 200).end, "stalled");
  });
  await t.step("paused but bytes still moving: goes on", () => {
    const state = stateAt(0, { isBrowserPaused: true, lastProgressMs: 150 });
    assertEquals(judgeLiveness(state, timers, 200).end, null);
  });
  await t.step("not paused: a quiet session is no stall", () => {
    assertEquals(judgeLiveness(stateAt(0), timers, 10_000).end, null);
  });
});

Deno.test("judgeLiveness asks for a ping at exactly pingIntervalMs of browser silence", () => {
  const timers = { ...OFF, pingIntervalMs: 200, pingTimeoutMs: 50 };
  assertEquals(judgeLiveness(stateAt(0), timers, 199).isPingDue, false);
  assertEquals(judgeLiveness(stateAt(0), timers, 200), {
    end: null,
    isPingDue: true,
    isHeartbeatDue: false,
  });
});

Deno.test("judgeLiveness ends at exactly pingTimeoutMs after an unanswered ping", async (t) => {
  const timers = { ...OFF, pingIntervalMs: 200, pingTimeoutMs: 50 };
  await t.step("before the timeout no second ping is asked for", () => {
    assertEquals(
      judgeLiveness(
        stateAt(0, { pingSentAtMs: 200, pingWrittenAtMs: 200 }),
        timers,
        249,
      ),
      { end: null, isPingDue: false, isHeartbeatDue: false },
    );
  });
  await t.step("at the timeout the browser is gone", () => {
    assertEquals(
      judgeLiveness(
        stateAt(0, { pingSentAtMs: 200, pingWrittenAtMs: 200 }),
        timers,
        250,
      ).end,
      "ping_timeout",
    );
  });
  await t.step("a paused browser is not blamed for a missing pong", () => {
    const state = stateAt(0, {
      pingSentAtMs: 200,
      pingWrittenAtMs: 200,
      isBrowserPaused: true,
    });
    assertEquals(judgeLiveness(state, timers, 10_000).end, null);
  });
  await t.step(
    "a ping still waiting behind data times out unless the browser takes bytes",
    () => {
      const state = stateAt(0, { pingSentAtMs: 200 });
      assertEquals(judgeLiveness(state, timers, 250).end, "ping_timeout");
      const draining = stateAt(0, {
        pingSentAtMs: 200,
        browserDrainedAtMs: 240,
      });
      assertEquals(judgeLiveness(draining, timers, 289).end, null);
    },
  );
  await t.step(
    "the deadline counts from when the ping reached the socket",
    () => {
      const state = stateAt(0, { pingSentAtMs: 200, pingWrittenAtMs: 900 });
      assertEquals(judgeLiveness(state, timers, 949).end, null);
      assertEquals(judgeLiveness(state, timers, 950).end, "ping_timeout");
    },
  );
  await t.step(
    "a browser still taking bytes after the ping restarts the deadline",
    () => {
      const state = stateAt(0, {
        pingSentAtMs: 200,
        pingWrittenAtMs: 200,
        browserDrainedAtMs: 5000,
      });
      assertEquals(judgeLiveness(state, timers, 5049).end, null);
      assertEquals(judgeLiveness(state, timers, 5050).end, "ping_timeout");
    },
  );
});

Deno.test("judgeLiveness asks for an app heartbeat at exactly backendHeartbeatMs since the last write to the backend", () => {
  const timers = { ...OFF, backendHeartbeatMs: 1000 };
  const state = stateAt(0, { lastToBackendMs: 500 });
  assertEquals(judgeLiveness(state, timers, 1499).isHeartbeatDue, false);
  assertEquals(judgeLiveness(state, timers, 1500), {
    end: null,
    isPingDue: false,
    isHeartbeatDue: true,
  });
});
