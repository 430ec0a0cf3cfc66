/**
 * The per-session budget of control frames (pings and pongs) a browser may
 * send: a token bucket refilled at a fixed rate, pure over timestamps.
 * Beyond it the relay closes the session with 1008: answering a ping flood
 * would keep the gateway busy for as long as the client likes.
 *
 * @module
 */

/**
 * A token bucket: `ratePerSecond` frames per second on average, bursts up
 * to twice that.
 *
 * @example A burst, then the steady rate
 * ```ts
 * import { ControlFrameBudget } from "./control_budget.ts";
 * import assert from "node:assert/strict";
 * const budget = new ControlFrameBudget(2, 0);
 * // A burst of twice the rate...
 * for (let i = 0; i < 4; i++) assert.equal(budget.take(0), true);
 * assert.equal(budget.take(0), false);
 * // ...then one frame per 500 ms.
 * assert.equal(budget.take(500), true);
 * assert.equal(budget.take(500), false);
 * ```
 */
export class ControlFrameBudget {
  #ratePerMs: number;
  #burst: number;
  #tokens: number;
  #lastMs: number;

  /**
   * Constructs a full bucket.
   * @param ratePerSecond Frames per second on average, > 0.
   * @param nowMs The current clock value in milliseconds.
   */
  constructor(ratePerSecond: number, nowMs: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = 2 * ratePerSecond;
    this.#tokens = this.#burst;
    this.#lastMs = nowMs;
  }

  /**
   * Spends one frame of the budget.
   * @param nowMs The current clock value in milliseconds.
   * @returns Whether the frame was within the budget.
   */
  take(nowMs: number): boolean {
    if (nowMs > this.#lastMs) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (nowMs - this.#lastMs) * this.#ratePerMs,
      );
      this.#lastMs = nowMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
