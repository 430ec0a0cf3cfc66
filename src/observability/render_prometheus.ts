/**
 * Rendering of a metrics snapshot in the Prometheus text exposition format
 * (version 0.0.4), the body of a `/metrics` response. Pure.
 *
 * @module
 */

import type { MetricsSnapshot } from "./metrics_snapshot.ts";

/** The `Content-Type` of {@linkcode renderPrometheus}'s output. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

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
 * import { MetricsRegistry } from "./metrics_registry.ts";
 * import { renderPrometheus } from "./render_prometheus.ts";
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
