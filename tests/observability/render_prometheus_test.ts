import assert from "node:assert/strict";
import { MetricsRegistry } from "../../src/observability/metrics_registry.ts";
import { renderPrometheus } from "../../src/observability/render_prometheus.ts";
import { assertWellFormed } from "../_util/prometheus_text.ts";

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
