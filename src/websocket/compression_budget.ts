/**
 * The process-wide memory budget for permessage-deflate: sessions reserve
 * their zlib memory when compression is negotiated and release it on close;
 * once the budget is spent, new sessions go without context takeover.
 * Pure accounting: the sizes are zlib's documented state sizes.
 *
 * @module
 */

/** Options for {@linkcode CompressionBudget}. */
export interface CompressionBudgetOptions {
  /** Bytes of zlib state the process may hold for kept contexts. @default {67108864} */
  limitBytes?: number;
}

/**
 * Bytes a session holds between messages with context takeover: deflate
 * state `2^(windowBits+2) + 2^(memLevel+9)` plus inflate window
 * `2^windowBits`, plus zlib's fixed state and the 16 KiB output buffers
 * (zlib.h "Memory Footprint", rounded up).
 *
 * @example
 * ```ts
 * import { contextMemoryBytes } from "./compression_budget.ts";
 * import assert from "node:assert/strict";
 * assert.equal(contextMemoryBytes({ serverWindowBits: 15, clientWindowBits: 15, memLevel: 8 }), 340992);
 * ```
 *
 * @param sizes The server (deflate) and client (inflate) window bits and memLevel.
 * @returns The estimate in bytes.
 */
export function contextMemoryBytes(
  sizes: {
    serverWindowBits: number;
    clientWindowBits: number;
    memLevel: number;
  },
): number {
  const deflate = (1 << (sizes.serverWindowBits + 2)) +
    (1 << (sizes.memLevel + 9));
  const inflate = 1 << sizes.clientWindowBits;
  // ~6 KiB deflate_state + ~7 KiB inflate_state, 2 x 16 KiB output chunks.
  const fixed = 6144 + 7168 + 2 * 16384;
  return deflate + inflate + fixed;
}

/**
 * Counts reserved compression memory against a limit. `tryReserve` is called
 * at negotiation (before the 101 is sent), `release` when the session ends.
 *
 * @example Fall back when the budget is spent
 * ```ts
 * import { CompressionBudget } from "./compression_budget.ts";
 * import assert from "node:assert/strict";
 * const budget = new CompressionBudget({ limitBytes: 1000 });
 * assert.equal(budget.tryReserve(600), true);
 * assert.equal(budget.tryReserve(600), false);
 * budget.release(600);
 * assert.equal(budget.reservedBytes, 0);
 * ```
 */
export class CompressionBudget {
  #limitBytes: number;
  #reservedBytes = 0;
  #refusals = 0;

  /**
   * Constructs a new instance.
   * @param options The limit.
   */
  constructor(options: CompressionBudgetOptions = {}) {
    const { limitBytes = 64 * 1024 * 1024 } = options;
    this.#limitBytes = checkedLimit(limitBytes);
  }

  /** Bytes reserved by live sessions. */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** The limit in bytes. */
  get limitBytes(): number {
    return this.#limitBytes;
  }

  /**
   * Changes the limit (a reload); reservations already made stay, and new
   * ones are refused until the reserved total falls below the new limit.
   * @param limitBytes The new limit in bytes, >= 0.
   */
  setLimit(limitBytes: number): void {
    this.#limitBytes = checkedLimit(limitBytes);
  }

  /** Reservations refused so far (a counter for `/metrics`). */
  get refusals(): number {
    return this.#refusals;
  }

  /**
   * Reserves `bytes` if they fit.
   * @param bytes The session's estimate.
   * @returns Whether it was reserved; if not, negotiate without context.
   */
  tryReserve(bytes: number): boolean {
    if (this.#reservedBytes + bytes > this.#limitBytes) {
      this.#refusals++;
      return false;
    }
    this.#reservedBytes += bytes;
    return true;
  }

  /**
   * Returns a reservation; call once per successful `tryReserve`.
   * @param bytes The amount reserved.
   */
  release(bytes: number): void {
    this.#reservedBytes = Math.max(0, this.#reservedBytes - bytes);
  }
}

function checkedLimit(limitBytes: number): number {
  if (!(limitBytes >= 0)) {
    throw new RangeError(
      `Cannot set compression budget as limitBytes must be >= 0: current value is ${limitBytes}`,
    );
  }
  return limitBytes;
}
