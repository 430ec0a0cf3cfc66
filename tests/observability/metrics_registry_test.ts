import assert from "node:assert/strict";
import { MetricsRegistry } from "../../src/observability/metrics_registry.ts";
import { assertWellFormed } from "../_util/prometheus_text.ts";

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
