/**
 * {@linkcode GatewayMetrics}, wsgate's own metric set on a
 * {@linkcode MetricsRegistry}, and {@linkcode gatewayTotals}, its per-route
 * metrics summed over all routes from a (possibly merged) snapshot.
 *
 * @module
 */

import type { TrafficDirection } from "./events.ts";
import type {
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
} from "./metric_series.ts";
import {
  type Counter,
  type Gauge,
  MetricsRegistry,
} from "./metrics_registry.ts";
import type { MetricsSnapshot } from "./metrics_snapshot.ts";

/** Default buckets of `wsgate_backend_connect_seconds`, in seconds. */
export const BACKEND_CONNECT_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
);

/** Default buckets of `wsgate_frame_bytes`, in bytes. */
export const FRAME_BYTES_BUCKETS: readonly number[] = Object.freeze(
  [16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304],
);

/** Options of {@linkcode GatewayMetrics}. */
export interface GatewayMetricsOptions {
  /**
   * Buckets of `wsgate_backend_connect_seconds`, in seconds.
   * @default {BACKEND_CONNECT_BUCKETS_SECONDS}
   */
  backendConnectBucketsSeconds?: readonly number[];
  /**
   * Buckets of `wsgate_frame_bytes`, in bytes.
   * @default {FRAME_BYTES_BUCKETS}
   */
  frameBytesBuckets?: readonly number[];
}

/** Totals over all routes, from {@linkcode gatewayTotals}. */
export interface GatewayTotals {
  /** Sessions open now. */
  sessionsOpen: number;
  /** Sessions opened since start. */
  sessionsTotal: number;
  /** Payload bytes relayed from browsers to backends. */
  bytesToBackend: number;
  /** Payload bytes relayed from backends to browsers. */
  bytesToBrowser: number;
  /** Messages relayed from browsers to backends. */
  framesToBackend: number;
  /** Messages relayed from backends to browsers. */
  framesToBrowser: number;
}

interface RouteSeries {
  open: GaugeSeries;
  total: CounterSeries;
  bytesToBackend: CounterSeries;
  bytesToBrowser: CounterSeries;
  framesToBackend: CounterSeries;
  framesToBrowser: CounterSeries;
}

/**
 * wsgate's metric set on its own {@linkcode MetricsRegistry}:
 * `wsgate_sessions_open{route}`, `wsgate_sessions_total{route}`,
 * `wsgate_handshake_refusals_total{reason,status}`,
 * `wsgate_closes_total{code}`, `wsgate_bytes_total{route,direction}`,
 * `wsgate_frames_total{route,direction}` (direction is `to_backend` or
 * `to_browser`), `wsgate_backend_connect_seconds` (histogram),
 * `wsgate_frame_bytes{direction}` (histogram), `wsgate_buffered_bytes`,
 * and for permessage-deflate `wsgate_compression_sessions_total{context}`
 * (context is `takeover` or `none`),
 * `wsgate_compression_budget_fallbacks_total` and
 * `wsgate_compression_memory_bytes`.
 *
 * Per-route series are looked up once per route and cached, so
 * {@linkcode GatewayMetrics.addTraffic} costs one map lookup and two
 * additions; call it once per read with that read's counts.
 *
 * @example A session's life
 * ```ts
 * import { GatewayMetrics } from "./gateway_metrics.ts";
 * import assert from "node:assert/strict";
 * const metrics = new GatewayMetrics();
 * metrics.sessionOpened("/vnc");
 * metrics.addTraffic("/vnc", "to_browser", 3, 1200);
 * metrics.sessionClosed("/vnc", 1000);
 * assert.equal(metrics.totals().bytesToBrowser, 1200);
 * assert.equal(metrics.totals().sessionsOpen, 0);
 * assert.match(metrics.renderPrometheus(), /^wsgate_closes_total\{code="1000"\} 1$/m);
 * ```
 */
export class GatewayMetrics {
  /** The registry holding the metrics; add your own metrics to it freely. */
  readonly registry: MetricsRegistry = new MetricsRegistry();
  readonly #routes = new Map<string, RouteSeries>();
  readonly #sessionsOpen: Gauge;
  readonly #sessionsTotal: Counter;
  readonly #refusals: Counter;
  readonly #closes: Counter;
  readonly #bytes: Counter;
  readonly #frames: Counter;
  readonly #connectSeconds: HistogramSeries;
  readonly #frameBytesToBackend: HistogramSeries;
  readonly #frameBytesToBrowser: HistogramSeries;
  readonly #buffered: GaugeSeries;
  readonly #compressedWithContext: CounterSeries;
  readonly #compressedWithoutContext: CounterSeries;
  readonly #compressionFallbacks: CounterSeries;
  readonly #compressionMemory: GaugeSeries;

  /**
   * Constructs a new instance with every metric registered.
   * @param options Histogram buckets.
   */
  constructor(options: GatewayMetricsOptions = {}) {
    const {
      backendConnectBucketsSeconds = BACKEND_CONNECT_BUCKETS_SECONDS,
      frameBytesBuckets = FRAME_BYTES_BUCKETS,
    } = options;
    const r = this.registry;
    const route = { labelNames: ["route"] };
    const routeDirection = { labelNames: ["route", "direction"] };
    this.#sessionsOpen = r.gauge(
      "wsgate_sessions_open",
      "Sessions open now.",
      route,
    );
    this.#sessionsTotal = r.counter(
      "wsgate_sessions_total",
      "Sessions opened since start.",
      route,
    );
    this.#refusals = r.counter(
      "wsgate_handshake_refusals_total",
      "Upgrade requests refused with an HTTP status.",
      { labelNames: ["reason", "status"] },
    );
    this.#closes = r.counter(
      "wsgate_closes_total",
      "Sessions closed, by WebSocket close code.",
      { labelNames: ["code"] },
    );
    this.#bytes = r.counter(
      "wsgate_bytes_total",
      "Payload bytes relayed.",
      routeDirection,
    );
    this.#frames = r.counter(
      "wsgate_frames_total",
      "Messages relayed.",
      routeDirection,
    );
    this.#connectSeconds = r.histogram(
      "wsgate_backend_connect_seconds",
      "Time to connect to the backend.",
      { buckets: backendConnectBucketsSeconds },
    ).labels();
    const frameBytes = r.histogram(
      "wsgate_frame_bytes",
      "Size of relayed messages.",
      { buckets: frameBytesBuckets, labelNames: ["direction"] },
    );
    this.#frameBytesToBackend = frameBytes.labels({ direction: "to_backend" });
    this.#frameBytesToBrowser = frameBytes.labels({ direction: "to_browser" });
    this.#buffered = r.gauge(
      "wsgate_buffered_bytes",
      "Bytes held in gateway buffers now.",
    ).labels();
    const compressed = r.counter(
      "wsgate_compression_sessions_total",
      "Sessions that negotiated permessage-deflate, by whether the contexts are kept between messages.",
      { labelNames: ["context"] },
    );
    this.#compressedWithContext = compressed.labels({ context: "takeover" });
    this.#compressedWithoutContext = compressed.labels({ context: "none" });
    this.#compressionFallbacks = r.counter(
      "wsgate_compression_budget_fallbacks_total",
      "Sessions negotiated without context takeover because compressionMemory was spent.",
    ).labels();
    this.#compressionMemory = r.gauge(
      "wsgate_compression_memory_bytes",
      "zlib memory reserved now by sessions that keep their compression context.",
    ).labels();
  }

  /**
   * Creates the per-route series of `routes` at zero (sessions open and
   * total, bytes and messages both ways), so a scrape shows every route from
   * the start and `rate()` has a first sample. Routes already known keep
   * their values.
   *
   * @example Series before the first session
   * ```ts
   * import { GatewayMetrics } from "./gateway_metrics.ts";
   * import assert from "node:assert/strict";
   * const metrics = new GatewayMetrics();
   * metrics.addRoutes(["/vnc"]);
   * const text = metrics.renderPrometheus();
   * assert.match(text, /^wsgate_sessions_total\{route="\/vnc"\} 0$/m);
   * assert.match(text, /^wsgate_bytes_total\{route="\/vnc",direction="to_browser"\} 0$/m);
   * ```
   *
   * @param routes The route paths.
   */
  addRoutes(routes: Iterable<string>): void {
    for (const route of routes) this.#route(route);
  }

  /**
   * Counts a session that opened on `route`.
   * @param route The route.
   */
  sessionOpened(route: string): void {
    const series = this.#route(route);
    series.open.inc();
    series.total.inc();
  }

  /**
   * Counts a session of `route` that closed with `code`.
   * @param route The route.
   * @param code The WebSocket close code.
   */
  sessionClosed(route: string, code: number): void {
    this.#route(route).open.dec();
    this.#closes.labels({ code: closeCodeLabel(code) }).inc();
  }

  /**
   * Counts an upgrade request refused before upgrading.
   * @param reason The short fixed reason, for example `origin not allowed`.
   * @param status The HTTP status sent.
   */
  handshakeRefused(reason: string, status: number): void {
    this.#refusals.labels({ reason, status: String(status) }).inc();
  }

  /**
   * Adds relayed traffic in one go, for example once per read.
   * @param route The route.
   * @param direction Which way the bytes went.
   * @param frames How many messages.
   * @param bytes How many payload bytes.
   */
  addTraffic(
    route: string,
    direction: TrafficDirection,
    frames: number,
    bytes: number,
  ): void {
    const series = this.#route(route);
    if (direction === "to_backend") {
      series.framesToBackend.inc(frames);
      series.bytesToBackend.inc(bytes);
    } else {
      series.framesToBrowser.inc(frames);
      series.bytesToBrowser.inc(bytes);
    }
  }

  /**
   * Records how long a backend connect took.
   * @param durationMs The duration in milliseconds (stored in seconds).
   */
  observeBackendConnectMs(durationMs: number): void {
    this.#connectSeconds.observe(durationMs / 1000);
  }

  /**
   * Records the size of one relayed message.
   * @param direction Which way it went.
   * @param bytes Its payload size.
   */
  observeFrameBytes(direction: TrafficDirection, bytes: number): void {
    (direction === "to_backend"
      ? this.#frameBytesToBackend
      : this.#frameBytesToBrowser).observe(bytes);
  }
  /**
   * Adds message sizes counted per bucket by a relay (buckets as
   * {@linkcode FRAME_BYTES_BUCKETS}, then +Inf) with their byte sum.
   * @param direction Which way the messages went.
   * @param counts Counts per bucket.
   * @param sumBytes The bytes of those messages.
   */
  addFrameSizes(
    direction: TrafficDirection,
    counts: readonly number[],
    sumBytes: number,
  ): void {
    const series = direction === "to_backend"
      ? this.#frameBytesToBackend
      : this.#frameBytesToBrowser;
    series.observeBucketCounts(counts, sumBytes);
  }

  /**
   * Adjusts the bytes held in buffers (negative when they drain).
   * @param delta The change in bytes.
   */
  addBufferedBytes(delta: number): void {
    this.#buffered.inc(delta);
  }

  /**
   * Counts a session that negotiated permessage-deflate.
   * @param isContextKept Whether either side keeps its context between messages.
   * @param isBudgetFallback Whether it went without context takeover
   *   because the memory budget was spent.
   */
  compressionNegotiated(
    isContextKept: boolean,
    isBudgetFallback: boolean,
  ): void {
    (isContextKept
      ? this.#compressedWithContext
      : this.#compressedWithoutContext).inc();
    if (isBudgetFallback) this.#compressionFallbacks.inc();
  }

  /**
   * Sets the compression memory reserved now.
   * @param bytes The reserved bytes.
   */
  setCompressionMemoryBytes(bytes: number): void {
    this.#compressionMemory.set(bytes);
  }

  /**
   * Copies the state of every metric.
   * @returns The snapshot.
   */
  snapshot(): MetricsSnapshot {
    return this.registry.snapshot();
  }

  /**
   * Renders every metric in the Prometheus text format.
   * @returns The exposition text.
   */
  renderPrometheus(): string {
    return this.registry.renderPrometheus();
  }

  /**
   * Sums the per-route metrics over all routes.
   * @returns The totals.
   */
  totals(): GatewayTotals {
    const totals = emptyTotals();
    for (const series of this.#routes.values()) {
      totals.sessionsOpen += series.open.value;
      totals.sessionsTotal += series.total.value;
      totals.bytesToBackend += series.bytesToBackend.value;
      totals.bytesToBrowser += series.bytesToBrowser.value;
      totals.framesToBackend += series.framesToBackend.value;
      totals.framesToBrowser += series.framesToBrowser.value;
    }
    return totals;
  }

  #route(route: string): RouteSeries {
    let series = this.#routes.get(route);
    if (series === undefined) {
      series = {
        open: this.#sessionsOpen.labels({ route }),
        total: this.#sessionsTotal.labels({ route }),
        bytesToBackend: this.#bytes.labels({ route, direction: "to_backend" }),
        bytesToBrowser: this.#bytes.labels({ route, direction: "to_browser" }),
        framesToBackend: this.#frames.labels({
          route,
          direction: "to_backend",
        }),
        framesToBrowser: this.#frames.labels({
          route,
          direction: "to_browser",
        }),
      };
      this.#routes.set(route, series);
    }
    return series;
  }
}

/**
 * Sums wsgate's per-route metrics in a snapshot (for example a
 * {@linkcode mergeSnapshots} result over workers) into totals.
 *
 * @param snapshot A snapshot holding the {@linkcode GatewayMetrics} set.
 * @returns The totals; metrics that are missing count as 0.
 *
 * @example Totals of merged workers
 * ```ts
 * import { GatewayMetrics, gatewayTotals } from "./gateway_metrics.ts";
 * import { mergeSnapshots } from "./merge_snapshots.ts";
 * import assert from "node:assert/strict";
 * const a = new GatewayMetrics();
 * const b = new GatewayMetrics();
 * a.sessionOpened("/x");
 * b.sessionOpened("/y");
 * b.addTraffic("/y", "to_backend", 1, 10);
 * const totals = gatewayTotals(mergeSnapshots([a.snapshot(), b.snapshot()]));
 * assert.equal(totals.sessionsOpen, 2);
 * assert.equal(totals.bytesToBackend, 10);
 * ```
 */
export function gatewayTotals(snapshot: MetricsSnapshot): GatewayTotals {
  const totals = emptyTotals();
  for (const metric of snapshot) {
    if (metric.type === "histogram") continue;
    for (const series of metric.series) {
      const toBackend = series.labels.direction === "to_backend";
      switch (metric.name) {
        case "wsgate_sessions_open":
          totals.sessionsOpen += series.value;
          break;
        case "wsgate_sessions_total":
          totals.sessionsTotal += series.value;
          break;
        case "wsgate_bytes_total":
          if (toBackend) totals.bytesToBackend += series.value;
          else totals.bytesToBrowser += series.value;
          break;
        case "wsgate_frames_total":
          if (toBackend) totals.framesToBackend += series.value;
          else totals.framesToBrowser += series.value;
          break;
      }
    }
  }
  return totals;
}

function emptyTotals(): GatewayTotals {
  return {
    sessionsOpen: 0,
    sessionsTotal: 0,
    bytesToBackend: 0,
    bytesToBrowser: 0,
    framesToBackend: 0,
    framesToBrowser: 0,
  };
}

/**
 * The `code` label of `wsgate_closes_total`: browsers choose their own close
 * codes, so only the registered codes (1000-1015) and wsgate's own (4000-4003)
 * get a series each; the rest are counted as `3xxx`, `4xxx` or `other`, which
 * keeps the series count fixed whatever clients send.
 */
function closeCodeLabel(code: number): string {
  if ((code >= 1000 && code <= 1015) || (code >= 4000 && code <= 4003)) {
    return String(code);
  }
  if (code >= 3000 && code <= 3999) return "3xxx";
  if (code >= 4000 && code <= 4999) return "4xxx";
  return "other";
}
