/**
 * The process's open-file limit and the session limit it can carry. A
 * session holds two sockets (browser and backend), and handshakes, plain
 * HTTP responses and static files take more; with the library default of
 * 10,000 sessions a limit of 8,192 descriptors runs out long before the
 * session cap, and `accept()` starts failing with EMFILE. The CLI therefore
 * derives its default `maxSessions` from the limit it finds.
 *
 * @module
 */

import type { GatewayOptions } from "../config/config.ts";

/** Descriptors kept aside for the runtime, listeners, logs and files. */
const RESERVED_DESCRIPTORS = 64;
/** Descriptors counted per session: two sockets plus headroom. */
const DESCRIPTORS_PER_SESSION = 3;
/** The library's default session limit, the most the derivation gives. */
const DEFAULT_MAX_SESSIONS = 10000;

/**
 * Reads the soft "Max open files" limit out of `/proc/self/limits` text.
 *
 * @example Usage
 * ```ts
 * import { parseOpenFileLimit } from "./descriptor_limit.ts";
 * import assert from "node:assert/strict";
 * const text = "Limit  Soft Limit  Hard Limit  Units\n" +
 *   "Max open files            8192                 524288               files\n";
 * assert.equal(parseOpenFileLimit(text), 8192);
 * assert.equal(parseOpenFileLimit("Max open files  unlimited  unlimited  files"), undefined);
 * ```
 *
 * @param limitsText The file's text.
 * @returns The soft limit, or `undefined` when absent or unlimited.
 */
export function parseOpenFileLimit(limitsText: string): number | undefined {
  const line = limitsText.split("\n").find((each) =>
    each.startsWith("Max open files")
  );
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
}

/**
 * The soft open-file limit of this process on Linux, or `undefined` when it
 * cannot be read without asking (no read permission for
 * `/proc/self/limits`, another OS).
 *
 * @example Usage
 * ```ts
 * import { readOpenFileLimit } from "./descriptor_limit.ts";
 * import assert from "node:assert/strict";
 * const limit = readOpenFileLimit();
 * assert.ok(limit === undefined || limit > 0);
 * ```
 *
 * @returns The limit, or `undefined`.
 */
export function readOpenFileLimit(): number | undefined {
  const path = "/proc/self/limits";
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    return undefined;
  }
  try {
    return parseOpenFileLimit(Deno.readTextFileSync(path));
  } catch {
    return undefined;
  }
}

/**
 * The session limit `openFiles` descriptors carry, shared by `workers`
 * workers (one process, one descriptor table): three descriptors per
 * session after a reserve, at most the library default of 10,000.
 *
 * @example Usage
 * ```ts
 * import { sessionLimitFor } from "./descriptor_limit.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sessionLimitFor(8192, 1), 2709);
 * assert.equal(sessionLimitFor(8192, 2), 1354);
 * assert.equal(sessionLimitFor(1048576, 1), 10000);
 * assert.equal(sessionLimitFor(10, 1), 1);
 * ```
 *
 * @param openFiles The soft open-file limit.
 * @param workers How many gateways share it.
 * @returns The session limit for each of them, at least 1.
 */
export function sessionLimitFor(openFiles: number, workers: number): number {
  const perProcess = Math.floor(
    (openFiles - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_SESSION,
  );
  return Math.max(
    1,
    Math.min(DEFAULT_MAX_SESSIONS, Math.floor(perProcess / workers)),
  );
}

/**
 * `options` with `maxSessions` defaulted to `cap` when it is not set, and
 * the warning to print when a configured one is above `cap`.
 *
 * @example Usage
 * ```ts
 * import { applySessionCap } from "./descriptor_limit.ts";
 * import assert from "node:assert/strict";
 * assert.equal(applySessionCap({}, 2709).options.maxSessions, 2709);
 * const over = applySessionCap({ maxSessions: 5000 }, 2709);
 * assert.equal(over.options.maxSessions, 5000);
 * assert.match(over.warning!, /ulimit -n/);
 * assert.equal(applySessionCap({}, undefined).options.maxSessions, undefined);
 * ```
 *
 * @param options The gateway options.
 * @param cap The session limit the descriptors carry (`undefined`: unknown).
 * @returns The options to run with, and a warning or `undefined`.
 */
export function applySessionCap(
  options: GatewayOptions,
  cap: number | undefined,
): { options: GatewayOptions; warning: string | undefined } {
  if (cap === undefined) return { options, warning: undefined };
  if (options.maxSessions === undefined) {
    return { options: { ...options, maxSessions: cap }, warning: undefined };
  }
  if (options.maxSessions <= cap) return { options, warning: undefined };
  return {
    options,
    warning:
      `maxSessions ${options.maxSessions} is above the ${cap} sessions ` +
      `the open-file limit carries (about ${DESCRIPTORS_PER_SESSION} ` +
      `descriptors each): raise it with ulimit -n or lower --max-sessions`,
  };
}
