/**
 * A small metrics registry (labelled counters and gauges, fixed-bucket
 * histograms), its rendering in the Prometheus text exposition format, the
 * summation of several registries' snapshots (one per worker), and
 * {@linkcode GatewayMetrics}, wsgate's own metric set.
 *
 * Hot path: look a series up once with `labels()` and keep it; `inc()`,
 * `set()` and `observe()` on a series are plain arithmetic. Snapshots are
 * plain JSON-compatible data, so workers can `postMessage` them.
 *
 * @module
 */

import type { TrafficDirection } from "./events.ts";

/** The `Content-Type` of {@linkcode renderPrometheus}'s output. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** Label names mapped to label values. */
export type LabelValues = Readonly<Record<string, string>>;

/** One series of a counter or gauge in a snapshot. */
export interface ScalarSeriesSnapshot {
  /** The series' labels. */
  labels: Record<string, string>;
  /** The current value. */
  value: number;
}

/** One series of a histogram in a snapshot. */
export interface HistogramSeriesSnapshot {
  /** The series' labels. */
  labels: Record<string, string>;
  /**
   * Observations per bucket, not cumulative: `counts[i]` counts values in
   * `(buckets[i-1], buckets[i]]`; the last entry is the `+Inf` bucket.
   */
  counts: number[];
  /** The sum of all observed values. */
  sum: number;
  /** The number of observations. */
  count: number;
}

/** A counter or gauge in a snapshot. */
export interface ScalarMetricSnapshot {
  /** The metric type. */
  type: "counter" | "gauge";
  /** The metric name. */
  name: string;
  /** The help text. */
  help: string;
  /** Every series seen so far, in first-use order. */
  series: ScalarSeriesSnapshot[];
}

/** A histogram in a snapshot. */
export interface HistogramMetricSnapshot {
  /** The metric type. */
  type: "histogram";
  /** The metric name. */
  name: string;
  /** The help text. */
  help: string;
  /** Upper bounds of the finite buckets, ascending. */
  buckets: number[];
  /** Every series seen so far, in first-use order. */
  series: HistogramSeriesSnapshot[];
}

/** One metric in a snapshot. */
export type MetricSnapshot = ScalarMetricSnapshot | HistogramMetricSnapshot;

/** Every metric of a registry at one moment, in registration order. */
export type MetricsSnapshot = MetricSnapshot[];

/** Options of {@linkcode MetricsRegistry.counter} and {@linkcode MetricsRegistry.gauge}. */
export interface MetricOptions {
  /**
   * The label names every series must set.
   * @default {[]}
   */
  labelNames?: readonly string[];
}

/** Options of {@linkcode MetricsRegistry.histogram}. */
export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the finite buckets, strictly ascending; `+Inf` is implicit. */
  buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Finds or creates the series of one metric, keyed by label values. */
class SeriesTable<S> {
  readonly labelNames: readonly string[];
  readonly entries = new Map<string, { labels: LabelValues; series: S }>();
  #create: () => S;

  constructor(
    name: string,
    labelNames: readonly string[],
    create: () => S,
    reserved: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) {
      throw new TypeError(
        `Cannot register metric as its name must match ${METRIC_NAME}: current value is "${name}"`,
      );
    }
    for (const label of labelNames) {
      if (
        !LABEL_NAME.test(label) || label.startsWith("__") ||
        reserved.includes(label)
      ) {
        throw new TypeError(
          `Cannot register metric "${name}" as label name "${label}" is invalid or reserved`,
        );
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new TypeError(
        `Cannot register metric "${name}" as its label names repeat`,
      );
    }
    this.labelNames = Object.freeze([...labelNames]);
    this.#create = create;
    if (labelNames.length === 0) this.get({});
  }

  get(values: LabelValues): S {
    const names = this.labelNames;
    const ordered = names.map((label) => values[label]);
    if (
      Object.keys(values).length !== names.length ||
      ordered.some((value) => typeof value !== "string")
    ) {
      throw new TypeError(
        `Cannot select series as labels must be exactly [${
          names.join(", ")
        }]: ` +
          `current labels are [${Object.keys(values).join(", ")}]`,
      );
    }
    const key = names.length === 1 ? ordered[0]! : JSON.stringify(ordered);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      for (const [i, label] of names.entries()) labels[label] = ordered[i]!;
      entry = { labels: Object.freeze(labels), series: this.#create() };
      this.entries.set(key, entry);
    }
    return entry.series;
  }
}

/** One labelled series of a {@linkcode Counter}: a value that only goes up. */
export class CounterSeries {
  #value = 0;
  /**
   * Adds to the value.
   * @param amount How much to add; must be >= 0.
   */
  inc(amount = 1): void {
    if (!(amount >= 0)) {
      throw new RangeError(
        `Cannot increment counter as the amount must be >= 0: current value is ${amount}`,
      );
    }
    this.#value += amount;
  }
  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/** One labelled series of a {@linkcode Gauge}: a value that goes up and down. */
export class GaugeSeries {
  #value = 0;
  /**
   * Replaces the value.
   * @param value The new value.
   */
  set(value: number): void {
    this.#value = value;
  }
  /**
   * Adds to the value (a negative amount subtracts).
   * @param amount How much to add.
   */
  inc(amount = 1): void {
    this.#value += amount;
  }
  /**
   * Subtracts from the value.
   * @param amount How much to subtract.
   */
  dec(amount = 1): void {
    this.#value -= amount;
  }
  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/** One labelled series of a {@linkcode Histogram}. */
export class HistogramSeries {
  readonly #buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  /**
   * Constructs a new instance.
   * @param buckets Upper bounds of the finite buckets, ascending.
   */
  constructor(buckets: readonly number[]) {
    this.#buckets = buckets;
    this.#counts = new Array<number>(buckets.length + 1).fill(0);
  }
  /**
   * Adds pre-bucketed observations (counts per bucket, same bucket layout,
   * the last entry for +Inf) and their sum.
   * @param counts Observations per bucket.
   * @param sum The sum of the observed values.
   */
  observeBucketCounts(counts: readonly number[], sum: number): void {
    let total = 0;
    for (let i = 0; i < counts.length && i < this.#counts.length; i++) {
      this.#counts[i]! += counts[i]!;
      total += counts[i]!;
    }
    this.#sum += sum;
    this.#count += total;
  }

  /**
   * Records one observation.
   * @param value The observed value.
   */
  observe(value: number): void {
    const buckets = this.#buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }
  /** The number of observations. */
  get count(): number {
    return this.#count;
  }
  /** The sum of observed values. */
  get sum(): number {
    return this.#sum;
  }
  /** Non-cumulative counts per bucket; the last is `+Inf`. */
  get counts(): number[] {
    return [...this.#counts];
  }
}

/**
 * A counter: one {@linkcode CounterSeries} per combination of label values.
 * Create it with {@linkcode MetricsRegistry.counter}.
 */
export class Counter {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  readonly #table: SeriesTable<CounterSeries>;
  /**
   * Constructs a new instance; prefer {@linkcode MetricsRegistry.counter}.
   * @param name The metric name.
   * @param help The help text.
   * @param options The label names.
   */
  constructor(name: string, help: string, options: MetricOptions = {}) {
    this.name = name;
    this.help = help;
    this.#table = new SeriesTable(
      name,
      options.labelNames ?? [],
      () => new CounterSeries(),
      [],
    );
  }
  /**
   * Returns the series for these label values, creating it at first use.
   * @param values A value for every label name, and nothing else.
   * @returns The series; keep it to skip the lookup next time.
   */
  labels(values: LabelValues = {}): CounterSeries {
    return this.#table.get(values);
  }
  /**
   * Adds to the series selected by `values` (the unlabelled one by default).
   * @param amount How much to add; must be >= 0.
   * @param values The label values.
   */
  inc(amount = 1, values: LabelValues = {}): void {
    this.#table.get(values).inc(amount);
  }
  /**
   * Copies the current state.
   * @returns The snapshot.
   */
  snapshot(): ScalarMetricSnapshot {
    return scalarSnapshot("counter", this.name, this.help, this.#table);
  }
}

/**
 * A gauge: one {@linkcode GaugeSeries} per combination of label values.
 * Create it with {@linkcode MetricsRegistry.gauge}.
 */
export class Gauge {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  readonly #table: SeriesTable<GaugeSeries>;
  /**
   * Constructs a new instance; prefer {@linkcode MetricsRegistry.gauge}.
   * @param name The metric name.
   * @param help The help text.
   * @param options The label names.
   */
  constructor(name: string, help: string, options: MetricOptions = {}) {
    this.name = name;
    this.help = help;
    this.#table = new SeriesTable(
      name,
      options.labelNames ?? [],
      () => new GaugeSeries(),
      [],
    );
  }
  /**
   * Returns the series for these label values, creating it at first use.
   * @param values A value for every label name, and nothing else.
   * @returns The series.
   */
  labels(values: LabelValues = {}): GaugeSeries {
    return this.#table.get(values);
  }
  /**
   * Copies the current state.
   * @returns The snapshot.
   */
  snapshot(): ScalarMetricSnapshot {
    return scalarSnapshot("gauge", this.name, this.help, this.#table);
  }
}

/**
 * A histogram with fixed buckets: one {@linkcode HistogramSeries} per
 * combination of label values. Create it with
 * {@linkcode MetricsRegistry.histogram}.
 */
export class Histogram {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** Upper bounds of the finite buckets, ascending. */
  readonly buckets: readonly number[];
  readonly #table: SeriesTable<HistogramSeries>;
  /**
   * Constructs a new instance; prefer {@linkcode MetricsRegistry.histogram}.
   * @param name The metric name.
   * @param help The help text.
   * @param options The buckets and label names.
   */
  constructor(name: string, help: string, options: HistogramOptions) {
    const buckets = [...options.buckets];
    for (const [i, bound] of buckets.entries()) {
      if (!Number.isFinite(bound) || (i > 0 && bound <= buckets[i - 1]!)) {
        throw new RangeError(
          `Cannot register histogram "${name}" as its buckets must be finite and strictly ascending: current value is [${buckets}]`,
        );
      }
    }
    this.name = name;
    this.help = help;
    this.buckets = Object.freeze(buckets);
    this.#table = new SeriesTable(
      name,
      options.labelNames ?? [],
      () => new HistogramSeries(this.buckets),
      ["le"],
    );
  }
  /**
   * Returns the series for these label values, creating it at first use.
   * @param values A value for every label name, and nothing else.
   * @returns The series.
   */
  labels(values: LabelValues = {}): HistogramSeries {
    return this.#table.get(values);
  }
  /**
   * Records one observation in the series selected by `values`.
   * @param value The observed value.
   * @param values The label values.
   */
  observe(value: number, values: LabelValues = {}): void {
    this.#table.get(values).observe(value);
  }
  /**
   * Copies the current state.
   * @returns The snapshot.
   */
  snapshot(): HistogramMetricSnapshot {
    const series: HistogramSeriesSnapshot[] = [];
    for (const entry of this.#table.entries.values()) {
      series.push({
        labels: { ...entry.labels },
        counts: entry.series.counts,
        sum: entry.series.sum,
        count: entry.series.count,
      });
    }
    return {
      type: "histogram",
      name: this.name,
      help: this.help,
      buckets: [...this.buckets],
      series,
    };
  }
}

/**
 * Holds metrics by name and snapshots or renders them together.
 *
 * @example Counting and rendering
 * ```ts
 * import { MetricsRegistry } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const registry = new MetricsRegistry();
 * const requests = registry.counter("requests_total", "Requests.", { labelNames: ["path"] });
 * requests.labels({ path: "/a" }).inc(2);
 * assert.equal(
 *   registry.renderPrometheus(),
 *   '# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{path="/a"} 2\n',
 * );
 * ```
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();
  /**
   * Registers a counter.
   * @param name The metric name; must be unused.
   * @param help The help text.
   * @param options The label names.
   * @returns The counter.
   */
  counter(name: string, help: string, options: MetricOptions = {}): Counter {
    return this.#add(new Counter(name, help, options));
  }
  /**
   * Registers a gauge.
   * @param name The metric name; must be unused.
   * @param help The help text.
   * @param options The label names.
   * @returns The gauge.
   */
  gauge(name: string, help: string, options: MetricOptions = {}): Gauge {
    return this.#add(new Gauge(name, help, options));
  }
  /**
   * Registers a histogram.
   * @param name The metric name; must be unused.
   * @param help The help text.
   * @param options The buckets and label names.
   * @returns The histogram.
   */
  histogram(name: string, help: string, options: HistogramOptions): Histogram {
    return this.#add(new Histogram(name, help, options));
  }
  /**
   * Copies the state of every metric, in registration order.
   * @returns The snapshot (plain data).
   */
  snapshot(): MetricsSnapshot {
    return [...this.#metrics.values()].map((metric) => metric.snapshot());
  }
  /**
   * Renders every metric in the Prometheus text format.
   * @returns The exposition text.
   */
  renderPrometheus(): string {
    return renderPrometheus(this.snapshot());
  }
  #add<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TypeError(
        `Cannot register metric "${metric.name}" as the name is already registered`,
      );
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}

/**
 * Renders a snapshot in the Prometheus text exposition format (version
 * 0.0.4): `# HELP` and `# TYPE` per metric, then one line per series;
 * histograms as cumulative `_bucket{le="..."}` lines, `_sum` and `_count`.
 * Help text and label values are escaped.
 *
 * @param snapshot The metrics to render.
 * @returns The text, ending with a newline (empty for no metrics).
 *
 * @example A histogram
 * ```ts
 * import { MetricsRegistry, renderPrometheus } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const registry = new MetricsRegistry();
 * registry.histogram("size_bytes", "Sizes.", { buckets: [10] }).observe(3);
 * assert.equal(
 *   renderPrometheus(registry.snapshot()),
 *   "# HELP size_bytes Sizes.\n# TYPE size_bytes histogram\n" +
 *     'size_bytes_bucket{le="10"} 1\nsize_bytes_bucket{le="+Inf"} 1\n' +
 *     "size_bytes_sum 3\nsize_bytes_count 1\n",
 * );
 * ```
 */
export function renderPrometheus(snapshot: MetricsSnapshot): string {
  let text = "";
  for (const metric of snapshot) {
    text += `# HELP ${metric.name} ${escapeHelp(metric.help)}\n`;
    text += `# TYPE ${metric.name} ${metric.type}\n`;
    if (metric.type !== "histogram") {
      for (const series of metric.series) {
        text += `${metric.name}${renderLabels(series.labels)} ${
          formatNumber(series.value)
        }\n`;
      }
      continue;
    }
    for (const series of metric.series) {
      let cumulative = 0;
      for (const [i, count] of series.counts.entries()) {
        cumulative += count;
        const bound = metric.buckets[i];
        const le = bound === undefined ? "+Inf" : formatNumber(bound);
        text += `${metric.name}_bucket${
          renderLabels(series.labels, le)
        } ${cumulative}\n`;
      }
      const labels = renderLabels(series.labels);
      text += `${metric.name}_sum${labels} ${formatNumber(series.sum)}\n`;
      text += `${metric.name}_count${labels} ${series.count}\n`;
    }
  }
  return text;
}

/**
 * Sums several snapshots (one per worker) into one: counters, gauges and
 * histogram buckets with the same name and labels are added. Metric order
 * and help text follow the first snapshot that has the metric. Gauges are
 * summed too, which suits per-worker quantities such as open sessions.
 *
 * Throws `TypeError` when one name has two types, or two histograms of one
 * name have different buckets.
 *
 * @param snapshots The snapshots to add up.
 * @returns A new snapshot; the inputs are not modified.
 *
 * @example Two workers
 * ```ts
 * import { mergeSnapshots, MetricsRegistry } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const workers = [new MetricsRegistry(), new MetricsRegistry()];
 * for (const [i, registry] of workers.entries()) {
 *   registry.counter("hits_total", "Hits.").inc(i + 1);
 * }
 * const merged = mergeSnapshots(workers.map((registry) => registry.snapshot()));
 * assert.deepEqual(merged[0], {
 *   type: "counter", name: "hits_total", help: "Hits.",
 *   series: [{ labels: {}, value: 3 }],
 * });
 * ```
 */
export function mergeSnapshots(
  snapshots: readonly MetricsSnapshot[],
): MetricsSnapshot {
  const merged = new Map<string, MetricSnapshot>();
  const seriesByMetric = new Map<
    string,
    Map<string, ScalarSeriesSnapshot | HistogramSeriesSnapshot>
  >();
  for (const snapshot of snapshots) {
    for (const metric of snapshot) {
      let target = merged.get(metric.name);
      if (target === undefined) {
        target = metric.type === "histogram"
          ? { ...metric, buckets: [...metric.buckets], series: [] }
          : { ...metric, series: [] };
        merged.set(metric.name, target);
        seriesByMetric.set(metric.name, new Map());
      } else if (target.type !== metric.type) {
        throw new TypeError(
          `Cannot merge metric "${metric.name}" as its type must be "${target.type}": current value is "${metric.type}"`,
        );
      } else if (
        target.type === "histogram" && metric.type === "histogram" &&
        target.buckets.join() !== metric.buckets.join()
      ) {
        throw new TypeError(
          `Cannot merge histogram "${metric.name}" as its buckets must be [${target.buckets}]: current value is [${metric.buckets}]`,
        );
      }
      const table = seriesByMetric.get(metric.name)!;
      addSeries(target, metric, table);
    }
  }
  return [...merged.values()];
}

function addSeries(
  target: MetricSnapshot,
  source: MetricSnapshot,
  table: Map<string, ScalarSeriesSnapshot | HistogramSeriesSnapshot>,
): void {
  for (const series of source.series) {
    const key = JSON.stringify(
      Object.entries(series.labels).sort(([a], [b]) => a < b ? -1 : 1),
    );
    const existing = table.get(key);
    if ("value" in series) {
      if (existing === undefined) {
        const copy = { labels: { ...series.labels }, value: series.value };
        table.set(key, copy);
        (target.series as ScalarSeriesSnapshot[]).push(copy);
      } else if ("value" in existing) {
        existing.value += series.value;
      }
      continue;
    }
    if (existing === undefined) {
      const copy = {
        labels: { ...series.labels },
        counts: [...series.counts],
        sum: series.sum,
        count: series.count,
      };
      table.set(key, copy);
      (target.series as HistogramSeriesSnapshot[]).push(copy);
    } else if ("counts" in existing) {
      for (const [i, count] of series.counts.entries()) {
        existing.counts[i] = (existing.counts[i] ?? 0) + count;
      }
      existing.sum += series.sum;
      existing.count += series.count;
    }
  }
}

function scalarSnapshot(
  type: "counter" | "gauge",
  name: string,
  help: string,
  table: SeriesTable<CounterSeries | GaugeSeries>,
): ScalarMetricSnapshot {
  const series: ScalarSeriesSnapshot[] = [];
  for (const entry of table.entries.values()) {
    series.push({ labels: { ...entry.labels }, value: entry.series.value });
  }
  return { type, name, help, series };
}

function renderLabels(labels: Record<string, string>, le?: string): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
    "\n",
    "\\n",
  );
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

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
 * `wsgate_frame_bytes{direction}` (histogram) and `wsgate_buffered_bytes`.
 *
 * Per-route series are looked up once per route and cached, so
 * {@linkcode GatewayMetrics.addTraffic} costs one map lookup and two
 * additions; call it once per read with that read's counts.
 *
 * @example A session's life
 * ```ts
 * import { GatewayMetrics } from "./metrics.ts";
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
    this.#closes.labels({ code: String(code) }).inc();
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
 * import { GatewayMetrics, gatewayTotals, mergeSnapshots } from "./metrics.ts";
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
