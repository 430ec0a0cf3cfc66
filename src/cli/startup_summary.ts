/**
 * The settings block printed under the listening line (as websockify does):
 * each route with its target or token source and its framing per direction,
 * the origins allowed, the limits set explicitly, and the console and
 * metrics URLs. Pure: options in, lines out. `--quiet` skips it.
 *
 * @module
 */

import type { GatewayOptions, RouteOptions } from "../config/config.ts";
import { isLoopbackHostname } from "../security/ip_address.ts";

/** The framing a route uses when it names none. */
const DEFAULT_FRAMING = "u32be";

/** Options fields that are limits or timeouts, printed when set. */
const LIMIT_KEYS = [
  "maxSessions",
  "maxSessionsPerIp",
  "maxControlFramesPerSecond",
  "memoryBudgetBytes",
  "bufferBytes",
  "maxHeadBytes",
  "pingIntervalMs",
  "pingTimeoutMs",
  "connectTimeoutMs",
  "handshakeTimeoutMs",
  "idleTimeoutMs",
  "maxLifetimeMs",
  "closeTimeoutMs",
  "stallTimeoutMs",
  "drainTimeoutMs",
] as const satisfies readonly (keyof GatewayOptions)[];

/** Where the gateway answers, for the URLs in the block. */
export interface SummaryUrls {
  /** `http://HOST:PORT` (or `https://`) of the gateway port. */
  gateway: string;
  /** The `/metrics` URL, or `undefined` when not served. */
  metrics: string | undefined;
}

/**
 * The settings block, one line each, indented by two spaces.
 *
 * @example
 * ```ts
 * import { startupSummary } from "./startup_summary.ts";
 * import assert from "node:assert/strict";
 * const lines = startupSummary(
 *   { routes: [{ path: "/chat", target: "127.0.0.1:9000" }], maxSessions: 50 },
 *   { gateway: "http://127.0.0.1:8080", metrics: "http://127.0.0.1:8080/metrics" },
 * );
 * assert.equal(lines[0], "  route /chat -> 127.0.0.1:9000 (framing u32be both ways)");
 * assert.ok(lines.includes("  limits: maxSessions=50"));
 * ```
 *
 * @param options The gateway options of the run.
 * @param urls The gateway and metrics URLs.
 * @returns The lines.
 */
export function startupSummary(
  options: GatewayOptions,
  urls: SummaryUrls,
): string[] {
  const lines = (options.routes ?? []).map((route) =>
    `  route ${route.path} -> ${targetOf(route)} (${framingOf(route)})`
  );
  const origins = options.allowOrigins;
  lines.push(
    `  allowed origins: ${
      origins === undefined || origins.length === 0
        ? "same origin only (add --allow-origin URL for pages served elsewhere)"
        : origins === "*"
        ? "any (*)"
        : origins.join(", ")
    }`,
  );
  const limits = LIMIT_KEYS
    .filter((key) => options[key] !== undefined)
    .map((key) => `${key}=${options[key]}`);
  if (limits.length > 0) lines.push(`  limits: ${limits.join(" ")}`);
  if (options.console ?? isLoopbackHostname(options.hostname ?? "127.0.0.1")) {
    lines.push(`  console: ${urls.gateway}/_console`);
  }
  if (urls.metrics !== undefined) lines.push(`  metrics: ${urls.metrics}`);
  return lines;
}

function targetOf(route: RouteOptions): string {
  const sources: string[] = [];
  if (route.target !== undefined) sources.push(route.target);
  if (route.tokens !== undefined) {
    sources.push(`tokens from ${JSON.stringify(route.tokens)}`);
  }
  if (route.dynamic !== undefined) sources.push("?host=&port= (dynamic)");
  return sources.length === 0 ? "(no target)" : sources.join(" or ");
}

function framingOf(route: RouteOptions): string {
  const both = route.framing ?? DEFAULT_FRAMING;
  const toBackend = route.framingToBackend ?? both;
  const toBrowser = route.framingToBrowser ?? both;
  return toBackend === toBrowser
    ? `framing ${toBackend} both ways`
    : `framing ${toBackend} to backend, ${toBrowser} to browser`;
}
