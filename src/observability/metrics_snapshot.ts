/**
 * The snapshot of a metrics registry: plain JSON-compatible data, so workers
 * can `postMessage` it and the main thread can merge and render it.
 *
 * @module
 */

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
