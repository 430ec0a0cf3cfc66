import assert from "node:assert/strict";
import {
  GatewayMetrics,
  gatewayTotals,
  mergeSnapshots,
  MetricsRegistry,
  renderPrometheus,
} from "../../src/observability/metrics.ts";

const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/;

function assertWellFormed(text: string): void {
  assert.ok(text.endsWith("\n"));
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    assert.match(line, SAMPLE_LINE);
  }
}

Deno.test("Counter renders labelled series with escaped label values and help", () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter(
    "odd_total",
    'Help with \\ and\nnewline "quoted".',
    {
      labelNames: ["path"],
    },
  );
  counter.labels({ path: 'a"b\\c\nd' }).inc(2);
  counter.inc(1, { path: "/plain" });
  const text = registry.renderPrometheus();
  assert.equal(
    text,
    '# HELP odd_total Help with \\\\ and\\nnewline "quoted".\n' +
      "# TYPE odd_total counter\n" +
      'odd_total{path="a\\"b\\\\c\\nd"} 2\n' +
      'odd_total{path="/plain"} 1\n',
  );
  assertWellFormed(text);
});

Deno.test("Counter rejects a negative or NaN increment", () => {
  const counter = new MetricsRegistry().counter("c_total", "C.");
  assert.throws(() => counter.inc(-1), RangeError);
  assert.throws(() => counter.inc(Number.NaN), RangeError);
  assert.equal(counter.labels().value, 0);
});

Deno.test("Counter labels() rejects missing, extra and non-string labels", async (t) => {
  const counter = new MetricsRegistry().counter("c_total", "C.", {
    labelNames: ["a", "b"],
  });
  const cases: [string, Record<string, unknown>][] = [
    ["missing", { a: "1" }],
    ["extra", { a: "1", b: "2", c: "3" }],
    ["wrong name", { a: "1", c: "3" }],
    ["number value", { a: "1", b: 2 }],
  ];
  for (const [name, labels] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => counter.labels(labels as Record<string, string>),
        TypeError,
      );
    });
  }
  assert.equal(
    counter.labels({ b: "2", a: "1" }),
    counter.labels({ a: "1", b: "2" }),
  );
});

Deno.test("MetricsRegistry rejects bad names, reserved labels and duplicates", async (t) => {
  const registry = new MetricsRegistry();
  registry.counter("taken_total", "T.");
  const cases: [string, () => unknown][] = [
    ["duplicate name", () => registry.gauge("taken_total", "T.")],
    ["name with dash", () => registry.counter("bad-name", "B.")],
    ["name starting with digit", () => registry.counter("1abc", "B.")],
    [
      "label with dash",
      () => registry.counter("x", "X.", { labelNames: ["a-b"] }),
    ],
    [
      "label starting with __",
      () => registry.counter("y", "Y.", { labelNames: ["__y"] }),
    ],
    [
      "repeated label",
      () => registry.counter("z", "Z.", { labelNames: ["a", "a"] }),
    ],
    [
      "le on a histogram",
      () => registry.histogram("h", "H.", { buckets: [1], labelNames: ["le"] }),
    ],
  ];
  for (const [name, register] of cases) {
    await t.step(name, () => assert.throws(register, TypeError));
  }
});

Deno.test("Histogram counts a value equal to a bound in that bucket and renders cumulatively", () => {
  const registry = new MetricsRegistry();
  const histogram = registry.histogram("latency_seconds", "L.", {
    buckets: [0.1, 1],
    labelNames: ["route"],
  });
  const series = histogram.labels({ route: "/a" });
  for (const value of [0.05, 0.1, 0.5, 1, 7]) series.observe(value);
  assert.deepEqual(series.counts, [2, 2, 1]);
  const text = registry.renderPrometheus();
  assert.equal(
    text,
    "# HELP latency_seconds L.\n# TYPE latency_seconds histogram\n" +
      'latency_seconds_bucket{route="/a",le="0.1"} 2\n' +
      'latency_seconds_bucket{route="/a",le="1"} 4\n' +
      'latency_seconds_bucket{route="/a",le="+Inf"} 5\n' +
      'latency_seconds_sum{route="/a"} 8.65\n' +
      'latency_seconds_count{route="/a"} 5\n',
  );
  assertWellFormed(text);
});

Deno.test("Histogram rejects unsorted, repeated or infinite buckets", async (t) => {
  const cases: [string, number[]][] = [
    ["descending", [2, 1]],
    ["repeated", [1, 1]],
    ["infinite", [1, Number.POSITIVE_INFINITY]],
    ["NaN", [Number.NaN]],
  ];
  for (const [name, buckets] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => new MetricsRegistry().histogram("h", "H.", { buckets }),
        RangeError,
      );
    });
  }
});

Deno.test("Gauge sets, increments and decrements", () => {
  const gauge = new MetricsRegistry().gauge("g", "G.");
  const series = gauge.labels();
  series.set(10);
  series.inc(5);
  series.dec(3);
  series.dec();
  assert.equal(series.value, 11);
});

Deno.test("renderPrometheus shows 0 for unused unlabelled metrics and no sample for unused labelled ones", () => {
  const registry = new MetricsRegistry();
  registry.counter("plain_total", "P.");
  registry.gauge("labelled", "L.", { labelNames: ["x"] });
  assert.equal(
    registry.renderPrometheus(),
    "# HELP plain_total P.\n# TYPE plain_total counter\nplain_total 0\n" +
      "# HELP labelled L.\n# TYPE labelled gauge\n",
  );
  assert.equal(renderPrometheus([]), "");
});

Deno.test("renderPrometheus formats NaN and infinities", () => {
  const registry = new MetricsRegistry();
  const gauge = registry.gauge("g", "G.", { labelNames: ["k"] });
  gauge.labels({ k: "nan" }).set(Number.NaN);
  gauge.labels({ k: "inf" }).set(Number.POSITIVE_INFINITY);
  gauge.labels({ k: "minf" }).set(Number.NEGATIVE_INFINITY);
  const text = registry.renderPrometheus();
  assert.match(text, /^g\{k="nan"\} NaN$/m);
  assert.match(text, /^g\{k="inf"\} \+Inf$/m);
  assert.match(text, /^g\{k="minf"\} -Inf$/m);
  assertWellFormed(text);
});

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

Deno.test("GatewayMetrics renders the whole wsgate metric set", () => {
  const metrics = new GatewayMetrics({
    backendConnectBucketsSeconds: [0.01, 0.1],
  });
  metrics.sessionOpened("/vnc");
  metrics.sessionOpened("/vnc");
  metrics.sessionClosed("/vnc", 1011);
  metrics.handshakeRefused("origin not allowed", 403);
  metrics.handshakeRefused("origin not allowed", 403);
  metrics.addTraffic("/vnc", "to_backend", 2, 30);
  metrics.addTraffic("/vnc", "to_backend", 1, 5);
  metrics.addTraffic("/vnc", "to_browser", 4, 4000);
  metrics.observeBackendConnectMs(50);
  metrics.observeFrameBytes("to_browser", 1000);
  metrics.addBufferedBytes(4096);
  metrics.addBufferedBytes(-1024);
  const text = metrics.renderPrometheus();
  assertWellFormed(text);
  for (
    const line of [
      "# TYPE wsgate_sessions_open gauge",
      'wsgate_sessions_open{route="/vnc"} 1',
      "# TYPE wsgate_sessions_total counter",
      'wsgate_sessions_total{route="/vnc"} 2',
      'wsgate_handshake_refusals_total{reason="origin not allowed",status="403"} 2',
      'wsgate_closes_total{code="1011"} 1',
      'wsgate_bytes_total{route="/vnc",direction="to_backend"} 35',
      'wsgate_bytes_total{route="/vnc",direction="to_browser"} 4000',
      'wsgate_frames_total{route="/vnc",direction="to_backend"} 3',
      'wsgate_frames_total{route="/vnc",direction="to_browser"} 4',
      "# TYPE wsgate_backend_connect_seconds histogram",
      'wsgate_backend_connect_seconds_bucket{le="0.01"} 0',
      'wsgate_backend_connect_seconds_bucket{le="0.1"} 1',
      "wsgate_backend_connect_seconds_sum 0.05",
      'wsgate_frame_bytes_bucket{direction="to_browser",le="1024"} 1',
      "wsgate_buffered_bytes 3072",
    ]
  ) {
    assert.ok(
      text.split("\n").includes(line),
      `missing line: ${line}\n${text}`,
    );
  }
  assert.deepEqual(metrics.totals(), {
    sessionsOpen: 1,
    sessionsTotal: 2,
    bytesToBackend: 35,
    bytesToBrowser: 4000,
    framesToBackend: 3,
    framesToBrowser: 4,
  });
  assert.deepEqual(gatewayTotals(metrics.snapshot()), metrics.totals());
});
