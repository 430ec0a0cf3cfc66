/**
 * {@linkcode ReplayCache}: the ids (`jti`) of used tickets, held until they
 * expire, so a single-use ticket opens at most one connection. Pure: the
 * caller passes the clock.
 *
 * @module
 */

/** Options of {@linkcode ReplayCache}. */
export interface ReplayCacheOptions {
  /**
   * The most ticket ids held at once; when full of unexpired ids, new
   * tickets are refused ("replay cache full") rather than forgetting an id
   * that could then be replayed.
   * @default {10000}
   */
  maxEntries?: number;
}

/** The outcome of {@linkcode ReplayCache.use}. */
export type ReplayCacheResult = "fresh" | "replayed" | "full";

/**
 * Remembers the ids (`jti`) of used tickets until they expire, so a ticket
 * opens at most one connection. Bounded in size; pure: the caller passes the
 * clock.
 *
 * @example Usage
 * ```ts
 * import { ReplayCache } from "./replay_cache.ts";
 * import assert from "node:assert/strict";
 * const cache = new ReplayCache({ maxEntries: 2 });
 * assert.equal(cache.use("a", 2000, 1000), "fresh");
 * assert.equal(cache.use("a", 2000, 1500), "replayed");
 * assert.equal(cache.use("b", 2000, 1500), "fresh");
 * assert.equal(cache.use("c", 2000, 1500), "full");
 * assert.equal(cache.use("c", 3000, 2000), "fresh"); // "a" and "b" expired
 * ```
 */
export class ReplayCache {
  #maxEntries: number;
  #expiries = new Map<string, number>();
  #earliestMs = Infinity;

  /**
   * Constructs a new instance.
   * @param options The capacity.
   */
  constructor(options: ReplayCacheOptions = {}) {
    const { maxEntries = 10000 } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(
        `Cannot create replay cache as maxEntries must be a positive integer: current value is ${maxEntries}`,
      );
    }
    this.#maxEntries = maxEntries;
  }

  /** The number of ids held, expired ones included until purged. */
  get size(): number {
    return this.#expiries.size;
  }

  /**
   * Records a ticket id, unless it is already held and unexpired.
   * @param jti The ticket id.
   * @param expiresAtMs When the id may be forgotten: the last instant the
   * ticket verifies (its `exp` plus the clock skew), in ms since the epoch.
   * @param nowMs The current time in ms since the epoch.
   * @returns `"fresh"` when recorded now, `"replayed"` when already held,
   * `"full"` when the cache holds `maxEntries` unexpired ids.
   */
  use(jti: string, expiresAtMs: number, nowMs: number): ReplayCacheResult {
    const held = this.#expiries.get(jti);
    if (held !== undefined && held > nowMs) return "replayed";
    if (held === undefined && this.#expiries.size >= this.#maxEntries) {
      this.purge(nowMs);
      if (this.#expiries.size >= this.#maxEntries) return "full";
    }
    this.#expiries.set(jti, expiresAtMs);
    if (expiresAtMs < this.#earliestMs) this.#earliestMs = expiresAtMs;
    return "fresh";
  }

  /**
   * Forgets every id whose expiry is at or before `nowMs`.
   * @param nowMs The current time in ms since the epoch.
   * @returns The number of ids forgotten.
   */
  purge(nowMs: number): number {
    // Nothing can have expired before the earliest expiry: skip the scan.
    if (nowMs < this.#earliestMs) return 0;
    let removed = 0;
    let earliest = Infinity;
    for (const [jti, expiresAtMs] of this.#expiries) {
      if (expiresAtMs <= nowMs) {
        this.#expiries.delete(jti);
        removed++;
      } else if (expiresAtMs < earliest) {
        earliest = expiresAtMs;
      }
    }
    this.#earliestMs = earliest;
    return removed;
  }
}
