/**
 * The live series of a metric: {@linkcode CounterSeries},
 * {@linkcode GaugeSeries} and {@linkcode HistogramSeries}. A metric in
 * `metrics_registry.ts` holds one series per combination of label values.
 *
 * Hot path: look a series up once with `labels()` and keep it; `inc()`,
 * `set()` and `observe()` on a series are plain arithmetic.
 *
 * @module
 */

/** Label names mapped to label values. */
export type LabelValues = Readonly<Record<string, string>>;

/**
 * One labelled series of a {@linkcode Counter}: a value that only goes up.
 *
 * @example Counting
 * ```ts
 * import { CounterSeries } from "./metric_series.ts";
 * import assert from "node:assert/strict";
 * const series = new CounterSeries();
 * series.inc();
 * series.inc(2);
 * assert.equal(series.value, 3);
 * assert.throws(() => series.inc(-1), RangeError);
 * ```
 */
export class CounterSeries {
  #value = 0;
  /**
   * Adds to the value.
   * @param amount How much to add; must be >= 0.
   */
  inc(amount = 1): void {
    if (!(amount >= 0)) {
      throw new RangeError(
        `Cannot increment counter as the amount must be >= 0: current value is ${amount}`,
      );
    }
    this.#value += amount;
  }
  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/**
 * One labelled series of a {@linkcode Gauge}: a value that goes up and down.
 *
 * @example Setting and adjusting
 * ```ts
 * import { GaugeSeries } from "./metric_series.ts";
 * import assert from "node:assert/strict";
 * const series = new GaugeSeries();
 * series.set(10);
 * series.dec(3);
 * assert.equal(series.value, 7);
 * ```
 */
export class GaugeSeries {
  #value = 0;
  /**
   * Replaces the value.
   * @param value The new value.
   */
  set(value: number): void {
    this.#value = value;
  }
  /**
   * Adds to the value (a negative amount subtracts).
   * @param amount How much to add.
   */
  inc(amount = 1): void {
    this.#value += amount;
  }
  /**
   * Subtracts from the value.
   * @param amount How much to subtract.
   */
  dec(amount = 1): void {
    this.#value -= amount;
  }
  /** The current value. */
  get value(): number {
    return this.#value;
  }
}

/**
 * One labelled series of a {@linkcode Histogram}.
 *
 * @example Observing
 * ```ts
 * import { HistogramSeries } from "./metric_series.ts";
 * import assert from "node:assert/strict";
 * const series = new HistogramSeries([1, 10]);
 * series.observe(0.5);
 * series.observe(10);
 * series.observe(99);
 * assert.deepEqual(series.counts, [1, 1, 1]);
 * assert.equal(series.sum, 109.5);
 * ```
 */
export class HistogramSeries {
  readonly #buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  /**
   * Constructs a new instance.
   * @param buckets Upper bounds of the finite buckets, ascending.
   */
  constructor(buckets: readonly number[]) {
    this.#buckets = buckets;
    this.#counts = new Array<number>(buckets.length + 1).fill(0);
  }
  /**
   * Adds pre-bucketed observations (counts per bucket, same bucket layout,
   * the last entry for +Inf) and their sum.
   * @param counts Observations per bucket.
   * @param sum The sum of the observed values.
   */
  observeBucketCounts(counts: readonly number[], sum: number): void {
    let total = 0;
    for (let i = 0; i < counts.length && i < this.#counts.length; i++) {
      this.#counts[i]! += counts[i]!;
      total += counts[i]!;
    }
    this.#sum += sum;
    this.#count += total;
  }

  /**
   * Records one observation.
   * @param value The observed value.
   */
  observe(value: number): void {
    const buckets = this.#buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }
  /** The number of observations. */
  get count(): number {
    return this.#count;
  }
  /** The sum of observed values. */
  get sum(): number {
    return this.#sum;
  }
  /** Non-cumulative counts per bucket; the last is `+Inf`. */
  get counts(): number[] {
    return [...this.#counts];
  }
}
