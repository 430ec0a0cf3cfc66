import assert from "node:assert/strict";
import {
  GatewayMetrics,
  gatewayTotals,
} from "../../src/observability/gateway_metrics.ts";
import { mergeSnapshots } from "../../src/observability/merge_snapshots.ts";
import { MetricsRegistry } from "../../src/observability/metrics_registry.ts";
import { renderPrometheus } from "../../src/observability/render_prometheus.ts";
import { assertWellFormed } from "../_util/prometheus_text.ts";

Deno.test("mergeSnapshots sums counters, gauges and histograms across workers", () => {
  const workers = [
    new GatewayMetrics(),
    new GatewayMetrics(),
    new GatewayMetrics(),
  ];
  for (const [i, metrics] of workers.entries()) {
    metrics.sessionOpened("/a");
    metrics.addTraffic("/a", "to_backend", 1, 100 * (i + 1));
    metrics.observeFrameBytes("to_backend", 100 * (i + 1));
    metrics.addBufferedBytes(10);
  }
  workers[2]!.sessionOpened("/b");
  workers[2]!.sessionClosed("/a", 1000);
  // Snapshots cross worker boundaries as structured clones.
  const snapshots = workers.map((metrics) =>
    structuredClone(metrics.snapshot())
  );
  const before = JSON.stringify(snapshots);
  const merged = mergeSnapshots(snapshots);
  assert.equal(JSON.stringify(snapshots), before);
  const text = renderPrometheus(merged);
  assertWellFormed(text);
  assert.match(text, /^wsgate_sessions_open\{route="\/a"\} 2$/m);
  assert.match(text, /^wsgate_sessions_open\{route="\/b"\} 1$/m);
  assert.match(text, /^wsgate_sessions_total\{route="\/a"\} 3$/m);
  assert.match(
    text,
    /^wsgate_bytes_total\{route="\/a",direction="to_backend"\} 600$/m,
  );
  assert.match(
    text,
    /^wsgate_frame_bytes_bucket\{direction="to_backend",le="256"\} 2$/m,
  );
  assert.match(text, /^wsgate_frame_bytes_count\{direction="to_backend"\} 3$/m);
  assert.match(text, /^wsgate_frame_bytes_sum\{direction="to_backend"\} 600$/m);
  assert.match(text, /^wsgate_buffered_bytes 30$/m);
  assert.deepEqual(gatewayTotals(merged), {
    sessionsOpen: 3,
    sessionsTotal: 4,
    bytesToBackend: 600,
    bytesToBrowser: 0,
    framesToBackend: 3,
    framesToBrowser: 0,
  });
});

Deno.test("mergeSnapshots matches series whatever the label order", () => {
  const merged = mergeSnapshots([
    [{
      type: "counter",
      name: "c",
      help: "C.",
      series: [{ labels: { a: "1", b: "2" }, value: 1 }],
    }],
    [{
      type: "counter",
      name: "c",
      help: "C.",
      series: [{ labels: { b: "2", a: "1" }, value: 2 }],
    }],
  ]);
  assert.deepEqual(merged[0]?.series, [{
    labels: { a: "1", b: "2" },
    value: 3,
  }]);
});

Deno.test("mergeSnapshots rejects a type clash and different histogram buckets", () => {
  const counter = new MetricsRegistry();
  counter.counter("m", "M.");
  const gauge = new MetricsRegistry();
  gauge.gauge("m", "M.");
  assert.throws(
    () => mergeSnapshots([counter.snapshot(), gauge.snapshot()]),
    TypeError,
  );
  const a = new MetricsRegistry();
  a.histogram("h", "H.", { buckets: [1, 2] });
  const b = new MetricsRegistry();
  b.histogram("h", "H.", { buckets: [1, 3] });
  assert.throws(() => mergeSnapshots([a.snapshot(), b.snapshot()]), TypeError);
});
