/**
 * Summation of several metrics snapshots (one per worker) into one, so the
 * main thread can serve the metrics of every worker as one set. Pure.
 *
 * @module
 */

import type {
  HistogramSeriesSnapshot,
  MetricSnapshot,
  MetricsSnapshot,
  ScalarSeriesSnapshot,
} from "./metrics_snapshot.ts";

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
 * import { mergeSnapshots } from "./merge_snapshots.ts";
 * import { MetricsRegistry } from "./metrics_registry.ts";
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
