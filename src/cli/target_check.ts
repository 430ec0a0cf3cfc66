/**
 * The reachability check of each fixed target at start: one connection per
 * distinct target, closed at once, and a warning line for each that cannot
 * be reached. It never fails the start (a backend may come up later) and
 * runs after the listener is open, each connection bounded by the connect
 * timeout.
 *
 * @module
 */

import type { ResolvedGatewayConfig } from "../config/config.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { connectBackend, formatTarget } from "../server/backend_connect.ts";
import type { BackendTarget } from "../config/config.ts";

/** A fixed target and the routes that relay to it. */
export interface FixedTarget {
  /** Where the routes connect. */
  target: BackendTarget;
  /** The target as `host:port` or `unix:/path`. */
  label: string;
  /** The paths of the routes that use it. */
  routes: string[];
}

/**
 * The distinct fixed targets of a configuration, each with its routes (token
 * and dynamic routes have no target to check before a client names one).
 *
 * @example Two routes on one backend are one check
 * ```ts
 * import { fixedTargets } from "./target_check.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const config = resolveOptions({
 *   routes: [
 *     { path: "/a", target: "127.0.0.1:9000" },
 *     { path: "/b", target: "127.0.0.1:9000" },
 *   ],
 * });
 * const [only, ...others] = fixedTargets(config);
 * assert.deepEqual(others, []);
 * assert.equal(only!.label, "127.0.0.1:9000");
 * assert.deepEqual(only!.routes, ["/a", "/b"]);
 * ```
 *
 * @param config The resolved configuration.
 * @returns The targets, in route order.
 */
export function fixedTargets(config: ResolvedGatewayConfig): FixedTarget[] {
  const byLabel = new Map<string, FixedTarget>();
  for (const route of config.routes.values()) {
    if (route.target === undefined) continue;
    const label = formatTarget(route.target);
    const known = byLabel.get(label);
    if (known === undefined) {
      byLabel.set(label, { target: route.target, label, routes: [route.path] });
    } else {
      known.routes.push(route.path);
    }
  }
  return [...byLabel.values()];
}

/**
 * Connects once to each fixed target (closing at once, nothing sent) and
 * returns one line per target that could not be reached within
 * `config.connectTimeoutMs`.
 *
 * @example An unreachable target
 * ```ts
 * import { unreachableTargets } from "./target_check.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = closed.addr.port;
 * closed.close();
 * const lines = await unreachableTargets(resolveOptions({
 *   routes: [{ path: "/chat", target: `127.0.0.1:${port}` }],
 * }));
 * assert.equal(lines.length, 1);
 * assert.ok(lines[0]!.startsWith(`route /chat -> 127.0.0.1:${port}: `));
 * ```
 *
 * @param config The resolved configuration.
 * @returns The warning lines; empty when every target answered.
 */
export async function unreachableTargets(
  config: ResolvedGatewayConfig,
): Promise<string[]> {
  const results = await Promise.all(
    fixedTargets(config).map(async (fixed) => {
      try {
        closeQuietly(
          await connectBackend(fixed.target, config.connectTimeoutMs),
        );
        return undefined;
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error
          ? error.cause.message
          : String(error);
        return `route ${fixed.routes.join(", ")} -> ${fixed.label}: ` +
          `not reachable now (${cause}); wsgate keeps running and its ` +
          `sessions close with 1011 until the backend answers`;
      }
    }),
  );
  return results.filter((line) => line !== undefined);
}
