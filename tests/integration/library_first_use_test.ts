/**
 * A library user's first steps with `createGateway` from `mod.ts`: what the
 * CLI shows a new user must hold for embedders too (issue 18).
 */

import { assert } from "../_util/assert.ts";
import { createGateway } from "../../mod.ts";

// Regression (issue 18): route series started at zero only under the CLI,
// which called GatewayMetrics.addRoutes itself; an embedded gateway showed a
// route only after its first session, so rate() had no first sample.
Deno.test("createGateway shows every route's counters at zero before the first session, and a reloaded route's too", async () => {
  await using gateway = createGateway({
    hostname: "127.0.0.1",
    port: 0,
    routes: [
      { path: "/a", target: "127.0.0.1:9" },
      { path: "/b", target: "127.0.0.1:9" },
    ],
  });
  await gateway.listen();
  const before = gateway.renderMetrics();
  for (const route of ["/a", "/b"]) {
    assert(
      before.includes(`wsgate_sessions_total{route="${route}"} 0\n`),
      before,
    );
  }
  await gateway.reload({
    hostname: "127.0.0.1",
    port: 0,
    routes: [{ path: "/c", target: "127.0.0.1:9" }],
  });
  const after = gateway.renderMetrics();
  assert(after.includes(`wsgate_sessions_total{route="/c"} 0\n`), after);
});
