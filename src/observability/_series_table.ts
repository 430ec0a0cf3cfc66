/**
 * The series lookup shared by the metrics in `metrics_registry.ts`: checks
 * metric and label names once, then finds or creates a series by its label
 * values. Private to `observability/`.
 *
 * @module
 */

import type {
  CounterSeries,
  GaugeSeries,
  LabelValues,
} from "./metric_series.ts";
import type {
  ScalarMetricSnapshot,
  ScalarSeriesSnapshot,
} from "./metrics_snapshot.ts";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Finds or creates the series of one metric, keyed by label values. */
export class SeriesTable<S> {
  /** The label names every series sets, frozen. */
  readonly labelNames: readonly string[];
  /** Every series by key, in first-use order. */
  readonly entries = new Map<string, { labels: LabelValues; series: S }>();
  #create: () => S;

  /**
   * Checks the names; creates the unlabelled series at once when there are
   * no label names.
   * @param name The metric name.
   * @param labelNames The label names.
   * @param create Creates an empty series.
   * @param reserved Label names this metric type keeps for itself.
   */
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

  /**
   * Returns the series for these label values, creating it at first use.
   * @param values A value for every label name, and nothing else.
   * @returns The series.
   */
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

/**
 * Copies the series of a counter or gauge into a snapshot.
 * @param type The metric type.
 * @param name The metric name.
 * @param help The help text.
 * @param table The metric's series.
 * @returns The snapshot.
 */
export function scalarSnapshot(
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
