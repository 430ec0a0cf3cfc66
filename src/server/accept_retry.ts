/**
 * What to do after a failed `accept()`: how long to wait before the next
 * try (5 ms doubling to 1 s, as Go's `http.Server`, reset by a success) and
 * whether to report this failure or count it as suppressed (at most one
 * report per interval). Pure: the caller passes the clock and does the
 * waiting.
 *
 * @module
 */

/** Options for {@linkcode AcceptRetry}. */
export interface AcceptRetryOptions {
  /**
   * The wait after the first failure in a row, in milliseconds.
   * @default {5}
   */
  minDelayMs?: number;
  /**
   * The longest wait between tries, in milliseconds.
   * @default {1000}
   */
  maxDelayMs?: number;
  /**
   * The shortest time between two reported failures, in milliseconds.
   * @default {1000}
   */
  reportIntervalMs?: number;
}

/** The decision for one failed `accept()`. */
export interface AcceptRetryStep {
  /** How long to wait before trying again, in milliseconds. */
  delayMs: number;
  /** Whether to report this failure now. */
  isReported: boolean;
  /** Failures not reported since the last report (when `isReported`). */
  suppressed: number;
}

/**
 * Backoff and report throttling for one accept loop.
 *
 * @example Back off, throttle reports, reset after a success
 * ```ts
 * import { AcceptRetry } from "./accept_retry.ts";
 * import assert from "node:assert/strict";
 * const retry = new AcceptRetry();
 * assert.deepEqual(retry.failed(0), { delayMs: 5, isReported: true, suppressed: 0 });
 * assert.deepEqual(retry.failed(5), { delayMs: 10, isReported: false, suppressed: 0 });
 * assert.deepEqual(retry.failed(1000), { delayMs: 20, isReported: true, suppressed: 1 });
 * retry.succeeded();
 * assert.equal(retry.failed(1001).delayMs, 5);
 * ```
 */
export class AcceptRetry {
  #minDelayMs: number;
  #maxDelayMs: number;
  #reportIntervalMs: number;
  #nextDelayMs: number;
  #lastReportMs: number | undefined;
  #suppressed = 0;

  /**
   * Creates the state of one accept loop.
   * @param options Delays and report interval.
   */
  constructor(options: AcceptRetryOptions = {}) {
    const {
      minDelayMs = 5,
      maxDelayMs = 1000,
      reportIntervalMs = 1000,
    } = options;
    this.#minDelayMs = minDelayMs;
    this.#maxDelayMs = maxDelayMs;
    this.#reportIntervalMs = reportIntervalMs;
    this.#nextDelayMs = minDelayMs;
  }

  /**
   * Records a failed `accept()` at `nowMs`.
   * @param nowMs The current time in milliseconds (any monotonic clock).
   * @returns How long to wait and whether to report it.
   */
  failed(nowMs: number): AcceptRetryStep {
    const delayMs = this.#nextDelayMs;
    this.#nextDelayMs = Math.min(delayMs * 2, this.#maxDelayMs);
    if (
      this.#lastReportMs !== undefined &&
      nowMs - this.#lastReportMs < this.#reportIntervalMs
    ) {
      this.#suppressed++;
      return { delayMs, isReported: false, suppressed: 0 };
    }
    this.#lastReportMs = nowMs;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return { delayMs, isReported: true, suppressed };
  }

  /** Records a successful `accept()`: the next failure waits the least. */
  succeeded(): void {
    this.#nextDelayMs = this.#minDelayMs;
  }
}
