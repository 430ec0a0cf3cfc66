/**
 * What the server tells the operator: events to the `onEvent` sink (a
 * faulty sink cannot break the data path) and the gateway's metrics, with
 * the one way a refused request is counted and logged. Private to
 * `server/`.
 *
 * @module
 */

import type { EventSink, GatewayEvent } from "../observability/events.ts";
import type { GatewayMetrics } from "../observability/gateway_metrics.ts";
import type { HttpRefusal } from "../http/request_head.ts";

/** The gateway's event sink and metrics, shared by its parts. */
export class Reporter {
  /** The gateway's metrics. */
  readonly metrics: GatewayMetrics;
  #sink: EventSink;

  /**
   * @param metrics The gateway's metrics.
   * @param sink The `onEvent` sink.
   */
  constructor(metrics: GatewayMetrics, sink: EventSink) {
    this.metrics = metrics;
    this.#sink = sink;
  }

  /**
   * Hands `event` to the sink; a sink that throws is ignored.
   * @param event The event.
   */
  emit(event: GatewayEvent): void {
    try {
      this.#sink(event);
    } catch {
      // A faulty sink must not break the data path.
    }
  }

  /**
   * Counts and logs a refused request.
   * @param refusal The status and short body the client gets.
   * @param client The client as text.
   * @param path The request path ("" before the head was read).
   * @param detail Operator-only detail.
   */
  refused(
    refusal: HttpRefusal,
    client: string,
    path: string,
    detail: string,
  ): void {
    this.metrics.handshakeRefused(refusal.body, refusal.status);
    this.emit({
      type: "handshake_refused",
      status: refusal.status,
      reason: refusal.body,
      detail,
      client,
      path,
    });
  }
}
