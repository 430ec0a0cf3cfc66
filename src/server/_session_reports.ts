/**
 * What the gateway reports about a session: its traffic folded into the
 * metrics, the `session_close` event made from its summary, and the summary
 * of a session whose backend could not be reached. Private to `server/`.
 *
 * @module
 */

import type { SessionCloseEvent } from "../observability/events.ts";
import type { GatewayMetrics } from "../observability/gateway_metrics.ts";
import { CloseCode } from "../session/close_codes.ts";
import type { SessionSummary } from "../session/relay_options.ts";
import type { RelayStatsDelta } from "../session/relay_stats.ts";
import type { SessionLabels } from "./session_labels.ts";

/**
 * Adds one session's traffic since its last report to `metrics`.
 * @param metrics The gateway metrics.
 * @param route The session's route path.
 * @param delta From `RelaySession.takeStats()`.
 */
export function recordTraffic(
  metrics: GatewayMetrics,
  route: string,
  delta: RelayStatsDelta,
): void {
  if (delta.messagesToBackend > 0) {
    metrics.addTraffic(
      route,
      "to_backend",
      delta.messagesToBackend,
      delta.bytesToBackend,
    );
    metrics.addFrameSizes(
      "to_backend",
      delta.sizesToBackend,
      delta.bytesToBackend,
    );
  }
  if (delta.messagesToBrowser > 0) {
    metrics.addTraffic(
      route,
      "to_browser",
      delta.messagesToBrowser,
      delta.bytesToBrowser,
    );
    metrics.addFrameSizes(
      "to_browser",
      delta.sizesToBrowser,
      delta.bytesToBrowser,
    );
  }
}

/**
 * The `session_close` event of a session.
 * @param labels The session's labels.
 * @param summary How the session ended.
 * @returns The event.
 */
export function sessionCloseEvent(
  labels: SessionLabels,
  summary: SessionSummary,
): SessionCloseEvent {
  return {
    type: "session_close",
    sessionId: labels.id,
    route: labels.route,
    client: labels.client,
    target: labels.target,
    code: summary.code,
    reason: summary.reason,
    detail: `${summary.initiator} ended the session${
      summary.detail === undefined ? "" : `: ${summary.detail}`
    }`,
    bytesToBackend: summary.bytesToBackend,
    bytesToBrowser: summary.bytesToBrowser,
    framesToBackend: summary.messagesToBackend,
    framesToBrowser: summary.messagesToBrowser,
    durationMs: summary.durationMs,
  };
}

/**
 * The summary of a session closed with 1011 at once because its backend
 * could not be reached: nothing was relayed.
 * @param detail Why the connection failed, for the log.
 * @returns The summary.
 */
export function backendUnreachableSummary(detail: string): SessionSummary {
  return {
    code: CloseCode.INTERNAL_ERROR,
    reason: "backend unreachable",
    detail,
    initiator: "backend",
    bytesToBackend: 0,
    bytesToBrowser: 0,
    messagesToBackend: 0,
    messagesToBrowser: 0,
    durationMs: 0,
  };
}
