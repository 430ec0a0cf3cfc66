import { assertEquals } from "../_util/assert.ts";
import { ServerLifetime } from "../../src/cli/server_lifetime.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";

const SESSION = { sessionId: "s1", route: "/", client: "c", target: "t" };
const OPEN: GatewayEvent = { type: "session_open", ...SESSION };
const CLOSE: GatewayEvent = {
  type: "session_close",
  ...SESSION,
  code: 1000,
  reason: "",
  detail: "",
  bytesToBackend: 0,
  bytesToBrowser: 0,
  framesToBackend: 0,
  framesToBrowser: 0,
  durationMs: 1,
};

Deno.test("ServerLifetime with no option never ends the server", () => {
  const lifetime = new ServerLifetime(0);
  assertEquals(lifetime.isActive, false);
  lifetime.observe(OPEN, 1);
  assertEquals(lifetime.observe(CLOSE, 2), { kind: "run" });
  assertEquals(lifetime.check(1e9), { kind: "run" });
});

Deno.test("ServerLifetime --run-once exits when the first session ends, not before", () => {
  const lifetime = new ServerLifetime(0, { isRunOnce: true });
  assertEquals(lifetime.check(60_000), { kind: "run" });
  assertEquals(lifetime.observe(OPEN, 10), { kind: "run" });
  assertEquals(lifetime.observe(CLOSE, 20).kind, "exit");
});

Deno.test("ServerLifetime --idle-timeout counts from the last session end, and never while one is open", () => {
  const lifetime = new ServerLifetime(0, { idleTimeoutMs: 1000 });
  assertEquals(lifetime.check(999), { kind: "run" });
  lifetime.observe(OPEN, 500);
  assertEquals(lifetime.check(5000), { kind: "run" });
  lifetime.observe(CLOSE, 6000);
  assertEquals(lifetime.check(6999), { kind: "run" });
  assertEquals(lifetime.check(7000), {
    kind: "exit",
    cause: "--idle-timeout 1",
  });
});

Deno.test("ServerLifetime --idle-timeout exits when no client ever came", () => {
  const lifetime = new ServerLifetime(100, { idleTimeoutMs: 2000 });
  assertEquals(lifetime.check(2099).kind, "run");
  assertEquals(lifetime.check(2100).kind, "exit");
});

Deno.test("ServerLifetime --timeout exits at once when nothing is open", () => {
  const lifetime = new ServerLifetime(0, { timeoutMs: 3000 });
  assertEquals(lifetime.check(2999), { kind: "run" });
  assertEquals(lifetime.check(3000), { kind: "exit", cause: "--timeout 3" });
});

Deno.test("ServerLifetime --timeout stops accepting once, then exits when the open sessions end", () => {
  const lifetime = new ServerLifetime(0, { timeoutMs: 3000 });
  lifetime.observe(OPEN, 100);
  assertEquals(lifetime.check(3000), {
    kind: "stop-accepting",
    cause: "--timeout 3",
  });
  assertEquals(lifetime.check(4000), { kind: "run" });
  assertEquals(lifetime.observe(CLOSE, 5000), {
    kind: "exit",
    cause: "--timeout 3",
  });
});
