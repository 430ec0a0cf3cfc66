import assert from "node:assert/strict";
import { HistogramSeries } from "../../src/observability/metric_series.ts";
import { MetricsRegistry } from "../../src/observability/metrics_registry.ts";

Deno.test("Gauge sets, increments and decrements", () => {
  const gauge = new MetricsRegistry().gauge("g", "G.");
  const series = gauge.labels();
  series.set(10);
  series.inc(5);
  series.dec(3);
  series.dec();
  assert.equal(series.value, 11);
});

Deno.test("HistogramSeries observeBucketCounts adds pre-bucketed counts and their sum", () => {
  const series = new HistogramSeries([10, 100]);
  series.observe(5);
  series.observeBucketCounts([1, 2, 3], 1234);
  assert.deepEqual(series.counts, [2, 2, 3]);
  assert.equal(series.count, 7);
  assert.equal(series.sum, 1239);
  // Counts beyond the bucket layout are ignored, in the totals too.
  series.observeBucketCounts([0, 0, 0, 9], 0);
  assert.equal(series.count, 7);
});
