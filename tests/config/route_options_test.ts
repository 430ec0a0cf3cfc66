import { assertEquals, assertStrictEquals } from "../_util/assert.ts";
import {
  resolveRoute,
  ROUTE_TIMERS,
  routeTimers,
} from "../../src/config/route_options.ts";
import { applyConfigFile } from "../../src/config/config_file.ts";
import type { RouteOptions } from "../../src/config/config.ts";

const ROUTE = { path: "/", target: "127.0.0.1:9" };
const DEFAULTS = { bufferBytes: 65536, timers: {} };

Deno.test("resolveRoute takes every route timer of ROUTE_TIMERS from the route, then the gateway default, then 0", async (t) => {
  for (const { option } of ROUTE_TIMERS) {
    await t.step(option, () => {
      const own = resolveRoute({ ...ROUTE, [option]: 1234 }, "r", [], {
        ...DEFAULTS,
        timers: { [option]: 99 },
      });
      assertStrictEquals(own?.[option], 1234);
      assertStrictEquals(routeTimers(own!)[option], 1234);
      const inherited = resolveRoute(ROUTE, "r", [], {
        ...DEFAULTS,
        timers: { [option]: 99 },
      });
      assertStrictEquals(inherited?.[option], 99);
      const off = resolveRoute(ROUTE, "r", [], DEFAULTS);
      assertStrictEquals(off?.[option], 0);
    });
  }
});

Deno.test("resolveRoute refuses a negative route timer with its path", async (t) => {
  for (const { option } of ROUTE_TIMERS) {
    await t.step(option, () => {
      const problems: string[] = [];
      const route = resolveRoute(
        { ...ROUTE, [option]: -1 },
        "routes[3]",
        problems,
        DEFAULTS,
      );
      assertStrictEquals(route, undefined);
      assertEquals(problems, [
        `routes[3].${option}: must be a number >= 0: current value is -1`,
      ]);
    });
  }
});

Deno.test("applyConfigFile reads every route timer with a file key as a duration", async (t) => {
  for (const { option, fileKey } of ROUTE_TIMERS) {
    if (fileKey === undefined) continue;
    await t.step(fileKey, () => {
      const targets = { options: {}, route: {}, baseDir: "/etc/wsgate" };
      const problems: string[] = [];
      applyConfigFile({ routes: [{ ...ROUTE, [fileKey]: "2s" }] }, {
        settings: [],
        targets,
        problems,
      });
      assertEquals(problems, []);
      const routes = (targets.options as { routes?: RouteOptions[] }).routes;
      assertStrictEquals(routes?.[0]?.[option], 2000);
    });
  }
});
