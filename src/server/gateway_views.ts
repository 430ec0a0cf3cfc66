/**
 * The gateway's read-only views over its open sessions: the console's live
 * stats (`/_console/stats`) and the Prometheus text (`/metrics`), both after
 * folding in the traffic the sessions relayed since the last sweep.
 *
 * @module
 */

import type {
  ConsoleSessionStats,
  ConsoleStats,
} from "../http/console_page.ts";
import type { GatewayMetrics } from "../observability/gateway_metrics.ts";
import type { RelayStatsDelta } from "../session/relay_stats.ts";
import { recordTraffic } from "./_session_reports.ts";
import type { SessionLabels } from "./session_labels.ts";

/** What the views read of a session (a `RelaySession` has all of it). */
export interface ViewedSession {
  /** Payload bytes relayed so far, per direction. */
  readonly traffic: { toBackend: number; toBrowser: number };
  /** When the session opened (clock milliseconds). */
  readonly openedAtMs: number;
  /** The traffic since the previous call. */
  takeStats(): RelayStatsDelta;
}

/** Most sessions listed in the console's stats. */
const MAX_LISTED_SESSIONS = 100;

/**
 * Adds every open session's traffic since its last report to `metrics`.
 *
 * @example Nothing open, nothing added
 * ```ts
 * import { foldTraffic } from "./gateway_views.ts";
 * import { GatewayMetrics } from "../observability/gateway_metrics.ts";
 * import assert from "node:assert/strict";
 * const metrics = new GatewayMetrics();
 * foldTraffic([], metrics);
 * assert.equal(metrics.totals().bytesToBackend, 0);
 * ```
 *
 * @param sessions The open sessions with their labels.
 * @param metrics The gateway metrics.
 */
export function foldTraffic(
  sessions: Iterable<[ViewedSession, SessionLabels]>,
  metrics: GatewayMetrics,
): void {
  for (const [session, labels] of sessions) {
    recordTraffic(metrics, labels.route, session.takeStats());
  }
}

/**
 * The Prometheus text of `metrics`, after folding in live traffic.
 *
 * @example A fresh gateway's text
 * ```ts
 * import { renderMetrics } from "./gateway_views.ts";
 * import { GatewayMetrics } from "../observability/gateway_metrics.ts";
 * import assert from "node:assert/strict";
 * assert.match(renderMetrics([], new GatewayMetrics()), /# TYPE wsgate_/);
 * ```
 *
 * @param sessions The open sessions with their labels.
 * @param metrics The gateway metrics.
 * @returns The text.
 */
export function renderMetrics(
  sessions: Iterable<[ViewedSession, SessionLabels]>,
  metrics: GatewayMetrics,
): string {
  foldTraffic(sessions, metrics);
  return metrics.renderPrometheus();
}

/**
 * The console's live view: open sessions (the first 100 listed) and bytes
 * relayed since start (the totals include the open sessions' bytes even
 * before a sweep folded them in).
 *
 * @example An empty gateway
 * ```ts
 * import { consoleStats } from "./gateway_views.ts";
 * import { GatewayMetrics } from "../observability/gateway_metrics.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(consoleStats([], new GatewayMetrics()), {
 *   sessionsOpen: 0,
 *   bytesToBackend: 0,
 *   bytesToBrowser: 0,
 *   sessions: [],
 * });
 * ```
 *
 * @param sessions The open sessions with their labels.
 * @param metrics The gateway metrics.
 * @returns The stats.
 */
export function consoleStats(
  sessions: Iterable<[ViewedSession, SessionLabels]>,
  metrics: GatewayMetrics,
): ConsoleStats {
  let sessionsOpen = 0;
  let bytesToBackend = 0;
  let bytesToBrowser = 0;
  const listed: ConsoleSessionStats[] = [];
  for (const [session, labels] of sessions) {
    sessionsOpen++;
    const traffic = session.traffic;
    bytesToBackend += traffic.toBackend;
    bytesToBrowser += traffic.toBrowser;
    if (listed.length < MAX_LISTED_SESSIONS) {
      listed.push({
        id: labels.id,
        route: labels.route,
        client: labels.client,
        openedAtMs: session.openedAtMs,
        bytesToBackend: traffic.toBackend,
        bytesToBrowser: traffic.toBrowser,
      });
    }
  }
  const totals = metrics.totals();
  return {
    sessionsOpen,
    bytesToBackend: Math.max(totals.bytesToBackend, bytesToBackend),
    bytesToBrowser: Math.max(totals.bytesToBrowser, bytesToBrowser),
    sessions: listed,
  };
}
