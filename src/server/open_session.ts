/**
 * Opening a relay session once the upgrade succeeded: the `session_open`
 * event, the optional recording and traffic log, the relay itself, its
 * place in the {@linkcode SessionTable}, and what happens when it ends
 * (slot given back, traffic and close counted, `session_close` reported
 * once the recording is on disk).
 *
 * @module
 */

import type { ResolvedGatewayConfig, ResolvedRoute } from "../config/config.ts";
import type { TrafficDirection } from "../observability/events.ts";
import { CloseCode } from "../session/close_codes.ts";
import { RelaySession } from "../session/relay.ts";
import { relaySettings } from "./_relay_settings.ts";
import type { Reporter } from "./_reporter.ts";
import { recordTraffic, sessionCloseEvent } from "./_session_reports.ts";
import type { SessionLabels } from "./session_labels.ts";
import { SessionRecorder } from "./session_recorder.ts";
import { type SessionTable, SHUTDOWN_REASON } from "./session_table.ts";
import type { Admission } from "../security/admission.ts";
import type {
  CompressionNegotiator,
  NegotiatedCompression,
} from "./_compression_negotiator.ts";

/** Options of {@linkcode openSession}. */
export interface OpenSessionOptions {
  /** The session's labels. */
  labels: SessionLabels;
  /** The route the session runs on. */
  route: ResolvedRoute;
  /** The configuration generation the session starts under. */
  config: ResolvedGatewayConfig;
  /** The upgraded browser connection (the 101 is written). */
  browser: Deno.Conn;
  /** The connected backend. */
  backend: Deno.Conn;
  /** Bytes that followed the request head, if any. */
  leftover: Uint8Array | undefined;
  /** The session's slot and ticket id (from `table.admit`). */
  admission: Admission;
  /** The table the session joins; it gives the slot back at the end. */
  table: SessionTable<RelaySession>;
  /** Where events and metrics go. */
  reporter: Reporter;
  /**
   * permessage-deflate, when negotiated, and the negotiator that gets its
   * memory back when the session ends.
   * @default {undefined}
   */
  compression?: {
    negotiated: NegotiatedCompression;
    negotiator: CompressionNegotiator;
  };
}

/**
 * Starts the relay between `browser` and `backend` and adds it to the table.
 * A session opened while the drain began is closed with 1001 at once.
 * @param options The session's sockets, labels, route and reporting.
 * @returns The running session.
 */
export function openSession(options: OpenSessionOptions): RelaySession {
  const { labels, route, config, table, reporter, admission, compression } =
    options;
  reporter.metrics.sessionOpened(labels.route);
  reporter.emit({
    type: "session_open",
    sessionId: labels.id,
    route: labels.route,
    client: labels.client,
    target: labels.target,
  });
  const recorder = route.recordDir === undefined
    ? undefined
    : new SessionRecorder(route.recordDir, {
      sessionId: labels.id,
      route: labels.route,
      client: labels.client,
      target: labels.target,
      startedAtMs: Date.now(),
    }, (error) =>
      reporter.emit({
        type: "error",
        message: "session recording failed",
        detail: String(error),
        sessionId: labels.id,
      }));
  const trafficCap = config.logTrafficBytes;
  const onTraffic = recorder === undefined && trafficCap === 0
    ? undefined
    : (direction: TrafficDirection, message: Uint8Array) => {
      recorder?.record(direction, message);
      if (trafficCap > 0) {
        reporter.emit({
          type: "traffic",
          sessionId: labels.id,
          direction,
          bytes: message.slice(0, trafficCap),
          size: message.length,
        });
      }
    };
  const session: RelaySession = new RelaySession(
    options.browser,
    options.backend,
    {
      id: labels.id,
      ...relaySettings(route, config, options.leftover),
      ...(onTraffic === undefined ? {} : { onTraffic }),
      ...(compression === undefined
        ? {}
        : { compression: compression.negotiated.compression }),
      onClose: (summary) => {
        compression?.negotiator.release(compression.negotiated);
        // The process-wide counts: a reload since the start shares them.
        table.remove(session);
        recordTraffic(reporter.metrics, labels.route, session.takeStats());
        reporter.metrics.sessionClosed(labels.route, summary.code);
        const report = () => reporter.emit(sessionCloseEvent(labels, summary));
        // The close is reported once the recording is complete on disk.
        if (recorder === undefined) report();
        else recorder.close().finally(report);
      },
    },
  );
  table.add(session, labels, admission);
  session.start();
  // A session that finished its upgrade while the drain began.
  if (table.isDraining) session.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON);
  return session;
}
