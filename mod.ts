/**
 * wsgate: a WebSocket to TCP gateway for legacy services. A browser opens a
 * WebSocket to wsgate; wsgate opens one TCP connection to the configured
 * backend and relays both ways, turning each WebSocket message into one
 * length-prefixed TCP frame and each complete TCP frame into one message.
 *
 * Run it as a proxy:
 *
 * ```sh
 * deno run --allow-net mod.ts --listen 127.0.0.1:8080 --target 127.0.0.1:9000 --framing u32be
 * ```
 *
 * or use it as a library:
 *
 * @example Start a gateway on a free port and stop it
 * ```ts
 * import { createGateway } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const gateway = createGateway({
 *   port: 0,
 *   routes: [{ path: "/", target: "127.0.0.1:9000", framing: "u32be" }],
 * });
 * const addr = await gateway.listen();
 * assert.ok(addr.port > 0);
 * await gateway.close();
 * ```
 *
 * @module
 */

// The gateway
export { createGateway, type Gateway } from "./src/server/gateway.ts";
export type {
  AuthPluginOptions,
  BackendTarget,
  BackendTlsOptions,
  CompressionOptions,
  DynamicTargetOptions,
  GatewayOptions,
  RouteOptions,
  TokenApiOptions,
} from "./src/config/config.ts";

// Framing codecs
export type {
  FrameDecoder,
  FrameDecoderOptions,
  FrameEncoder,
  MessageSink,
} from "./src/framing/codec.ts";
export {
  createFrameDecoder,
  createFrameEncoder,
} from "./src/framing/create_codec.ts";
export {
  formatFramingSpec,
  type FramingSpec,
  type FramingSpecBase,
  FramingSpecError,
  type LengthFramingSpec,
  type LengthWidth,
  type LinesFramingSpec,
  maxMessageBytes,
  parseFramingSpec,
  type RawFramingSpec,
  type VarintFramingSpec,
} from "./src/framing/spec.ts";

// Close codes
export { CloseCode, type CloseDecision } from "./src/session/close_codes.ts";

// Errors
export {
  BackendConnectError,
  ConfigError,
  FrameTooLargeError,
  InvalidMessageError,
  MalformedFrameError,
  TruncatedFrameError,
  WebSocketProtocolError,
  type WsgateErrorOptions,
} from "./src/errors.ts";
export { TicketError, type TicketErrorReason } from "./src/security/ticket.ts";

// Tickets (for app servers that mint them)
export {
  importTicketKey,
  signTicket,
  type TicketClaims,
  verifyTicket,
  type VerifyTicketOptions,
} from "./src/security/ticket.ts";
export {
  ReplayCache,
  type ReplayCacheOptions,
  type ReplayCacheResult,
} from "./src/security/replay_cache.ts";

// Events and metrics
export type {
  BackendErrorEvent,
  EventSink,
  GatewayErrorEvent,
  GatewayEvent,
  GatewayWarningEvent,
  HandshakeRefusedEvent,
  ListeningEvent,
  SessionCloseEvent,
  SessionOpenEvent,
  ShuttingDownEvent,
  TrafficDirection,
  TrafficEvent,
} from "./src/observability/events.ts";
export {
  formatEvent,
  type FormatEventOptions,
  type LogFormat,
  type LogLevel,
} from "./src/observability/log.ts";
export {
  Counter,
  Gauge,
  Histogram,
  type HistogramOptions,
  type MetricOptions,
  MetricsRegistry,
} from "./src/observability/metrics_registry.ts";
export {
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
  type LabelValues,
} from "./src/observability/metric_series.ts";
export type {
  HistogramMetricSnapshot,
  HistogramSeriesSnapshot,
  MetricSnapshot,
  MetricsSnapshot,
  ScalarMetricSnapshot,
  ScalarSeriesSnapshot,
} from "./src/observability/metrics_snapshot.ts";
export {
  GatewayMetrics,
  type GatewayTotals,
} from "./src/observability/gateway_metrics.ts";

// Browser client (also served by the gateway at /wsgate-client.js)
export {
  DEFAULT_NO_RETRY_CODES,
  QueueFullError,
  WsgateClient,
  type WsgateClientEventMap,
  type WsgateClientOptions,
  type WsgateClientState,
  WsgateCloseEvent,
  WsgateReconnectEvent,
} from "./src/client/wsgate_client.js";

if (import.meta.main) {
  const { runCli } = await import("./src/cli/main.ts");
  Deno.exit(await runCli(Deno.args));
}
