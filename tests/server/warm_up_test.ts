import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import {
  type GatewayOptions,
  resolveOptions,
} from "../../src/config/config.ts";
import { createGateway } from "../../src/server/gateway.ts";
import { warmUp, type WarmUpGateway } from "../../src/server/warm_up.ts";

/** createGateway, remembering the copy's options and whether it closed. */
function recordingStart() {
  const seen: { options?: GatewayOptions; isClosed: boolean } = {
    isClosed: false,
  };
  const start = (options: GatewayOptions): WarmUpGateway => {
    seen.options = options;
    const gateway = createGateway(options);
    return {
      listen: () => gateway.listen(),
      close: async () => {
        await gateway.close();
        seen.isClosed = true;
      },
    };
  };
  return { seen, start };
}

Deno.test("warmUp runs one session per client even when its budget is already spent, and closes its copy", async () => {
  const { seen, start } = recordingStart();
  const config = resolveOptions({
    routes: [{ path: "/", target: "127.0.0.1:9", framing: "u16be" }],
  });
  const report = await warmUp(config, start, { budgetMs: 0, parallel: 3 });
  assertEquals(
    [report.sessions, report.failures, report.skipped],
    [3, 0, undefined],
  );
  assert(report.roundTrips > 0, "messages went through the copy");
  assert(seen.isClosed, "the copy was closed");
});

Deno.test("warmUp's copy carries the routes' framings (at most 4), on loopback, to its own echo backend", async () => {
  const { seen, start } = recordingStart();
  const framings = ["u32be", "u16be", "u8", "u32le", "u64be"];
  const config = resolveOptions({
    routes: framings.map((framing, i) => ({
      path: `/r${i}`,
      target: "192.0.2.1:9",
      framing,
    })),
  });
  const report = await warmUp(config, start, { budgetMs: 0, parallel: 4 });
  assertStrictEquals(report.failures, 0);
  const options = seen.options;
  assert(options !== undefined);
  assertStrictEquals(options.hostname, "127.0.0.1");
  assertStrictEquals(options.console, false);
  const routes = options.routes ?? [];
  assertEquals(
    routes.map((route) => route.framingToBackend),
    framings.slice(0, 4),
  );
  const targets = new Set(routes.map((route) => route.target));
  assertStrictEquals(targets.size, 1, "one echo backend");
  assert(
    [...targets][0]!.startsWith("127.0.0.1:"),
    "never the configured targets",
  );
});
