import { assertEquals } from "../_util/assert.ts";
import { startupSummary } from "../../src/cli/startup_summary.ts";

const URLS = {
  gateway: "http://127.0.0.1:8080",
  metrics: "http://127.0.0.1:8080/metrics",
};

Deno.test("startupSummary lists routes with target or token source and framing per direction, origins, set limits and URLs", () => {
  assertEquals(
    startupSummary({
      routes: [
        { path: "/chat", target: "127.0.0.1:9000" },
        { path: "/vnc", tokens: "tokens.txt", framing: "raw" },
        {
          path: "/redis",
          target: "127.0.0.1:6379",
          framingToBackend: "raw",
          framingToBrowser: "lines",
        },
      ],
      allowOrigins: ["http://127.0.0.1:8000"],
      maxSessions: 50,
      idleTimeoutMs: 60000,
    }, URLS),
    [
      "  route /chat -> 127.0.0.1:9000 (framing u32be both ways)",
      '  route /vnc -> tokens from "tokens.txt" (framing raw both ways)',
      "  route /redis -> 127.0.0.1:6379 (framing raw to backend, lines to browser)",
      "  allowed origins: http://127.0.0.1:8000",
      "  limits: maxSessions=50 idleTimeoutMs=60000",
      "  console: http://127.0.0.1:8080/_console",
      "  metrics: http://127.0.0.1:8080/metrics",
    ],
  );
});

Deno.test("startupSummary says same origin only, and leaves out limits, the console and metrics when there are none", () => {
  assertEquals(
    startupSummary(
      { routes: [{ path: "/", target: "127.0.0.1:9" }], console: false },
      { gateway: URLS.gateway, metrics: undefined },
    ),
    [
      "  route / -> 127.0.0.1:9 (framing u32be both ways)",
      "  allowed origins: same origin only (add --allow-origin URL for pages served elsewhere)",
    ],
  );
});

Deno.test("startupSummary leaves out the console on a non-loopback listen address unless it is turned on", () => {
  const routes = [{ path: "/", target: "127.0.0.1:9" }];
  const urls = { gateway: "http://0.0.0.0:8080", metrics: undefined };
  const consoleLine = "  console: http://0.0.0.0:8080/_console";
  assertEquals(
    startupSummary({ hostname: "0.0.0.0", routes }, urls).includes(consoleLine),
    false,
  );
  assertEquals(
    startupSummary({ hostname: "0.0.0.0", routes, console: true }, urls)
      .includes(consoleLine),
    true,
  );
});
