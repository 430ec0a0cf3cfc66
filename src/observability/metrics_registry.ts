/**
 * A small metrics registry: labelled counters and gauges and fixed-bucket
 * histograms ({@linkcode Counter}, {@linkcode Gauge}, {@linkcode Histogram}),
 * held by name in a {@linkcode MetricsRegistry} that snapshots or renders
 * them together.
 *
 * Hot path: look a series up once with `labels()` and keep it; `inc()`,
 * `set()` and `observe()` on a series are plain arithmetic.
 *
 * @module
 */

import { scalarSnapshot, SeriesTable } from "./_series_table.ts";
import {
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
  type LabelValues,
} from "./metric_series.ts";
import type {
  HistogramMetricSnapshot,
  HistogramSeriesSnapshot,
  MetricsSnapshot,
  ScalarMetricSnapshot,
} from "./metrics_snapshot.ts";
import { renderPrometheus } from "./render_prometheus.ts";

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

/**
 * A counter: one {@linkcode CounterSeries} per combination of label values.
 * Create it with {@linkcode MetricsRegistry.counter}.
 *
 * @example Counting per label value
 * ```ts
 * import { MetricsRegistry } from "./metrics_registry.ts";
 * import assert from "node:assert/strict";
 * const registry = new MetricsRegistry();
 * const hits = registry.counter("hits_total", "Hits.", { labelNames: ["path"] });
 * hits.inc(2, { path: "/a" });
 * assert.equal(hits.labels({ path: "/a" }).value, 2);
 * assert.deepEqual(hits.snapshot().series, [{ labels: { path: "/a" }, value: 2 }]);
 * ```
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
 *
 * @example An unlabelled gauge
 * ```ts
 * import { MetricsRegistry } from "./metrics_registry.ts";
 * import assert from "node:assert/strict";
 * const queued = new MetricsRegistry().gauge("queued", "Queued jobs.");
 * queued.labels().set(4);
 * assert.equal(queued.snapshot().series[0]?.value, 4);
 * ```
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
 *
 * @example Observing durations
 * ```ts
 * import { MetricsRegistry } from "./metrics_registry.ts";
 * import assert from "node:assert/strict";
 * const registry = new MetricsRegistry();
 * const latency = registry.histogram("latency_seconds", "Latency.", {
 *   buckets: [0.1, 1],
 * });
 * latency.observe(0.05);
 * latency.observe(5);
 * assert.deepEqual(latency.labels().counts, [1, 0, 1]);
 * ```
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
 * import { MetricsRegistry } from "./metrics_registry.ts";
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
