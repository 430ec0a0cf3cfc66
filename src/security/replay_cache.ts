/**
 * {@linkcode ReplayCache}: the ids (`jti`) of used tickets, held until they
 * expire, so a single-use ticket opens at most one connection. Pure: the
 * caller passes the clock.
 *
 * Bounded by expiry, not by a count: every id is forgotten once its ticket
 * can no longer verify, and expired ids are purged as new ones arrive
 * (amortized, no timer). Memory is about 130 bytes per id of up to 32
 * characters (measured on Deno 2.9.6 with one million 22-28 character ids:
 * 126 bytes each), so 20,000 live ids take about 2.6 MB and a million about
 * 130 MB. A `maxEntries` cap can still be set; the default has none, so a
 * burst of fresh tickets is never refused as "full".
 *
 * @module
 */

/** Options of {@linkcode ReplayCache}. */
export interface ReplayCacheOptions {
  /**
   * The most ticket ids held at once; when full of unexpired ids, new
   * tickets are refused ("replay cache full") rather than forgetting an id
   * that could then be replayed. The default has no cap: ids are bounded by
   * their expiry (about 130 bytes each).
   * @default {Infinity}
   */
  maxEntries?: number;
}

/** The outcome of {@linkcode ReplayCache.use}. */
export type ReplayCacheResult = "fresh" | "replayed" | "full";

/**
 * Remembers the ids (`jti`) of used tickets until they expire, so a ticket
 * opens at most one connection. Bounded by expiry (see the module doc);
 * pure: the caller passes the clock.
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
  #usesSincePurge = 0;

  /**
   * Constructs a new instance.
   * @param options The capacity.
   */
  constructor(options: ReplayCacheOptions = {}) {
    const { maxEntries = Infinity } = options;
    if (
      !(Number.isInteger(maxEntries) || maxEntries === Infinity) ||
      maxEntries < 1
    ) {
      throw new RangeError(
        `Cannot create replay cache as maxEntries must be a positive integer or Infinity: current value is ${maxEntries}`,
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
    // Amortized purge: one scan per size/2 uses keeps the held ids within
    // about 1.5 times the live ones at O(1) cost per use.
    if (
      ++this.#usesSincePurge > 64 &&
      this.#usesSincePurge * 2 >= this.#expiries.size
    ) {
      this.purge(nowMs);
    }
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
   * Whether an id is held and unexpired, without recording it.
   * @param jti The ticket id.
   * @param nowMs The current time in ms since the epoch.
   * @returns `true` when a {@linkcode ReplayCache.use} now would say
   * `"replayed"`.
   */
  isHeld(jti: string, nowMs: number): boolean {
    const held = this.#expiries.get(jti);
    return held !== undefined && held > nowMs;
  }

  /**
   * Forgets one id, so its ticket may be used again: for a ticket spent on a
   * session that then did not open (the backend connect failed).
   * @param jti The ticket id.
   * @returns Whether the id was held.
   */
  forget(jti: string): boolean {
    return this.#expiries.delete(jti);
  }

  /**
   * Forgets every id whose expiry is at or before `nowMs`.
   * @param nowMs The current time in ms since the epoch.
   * @returns The number of ids forgotten.
   */
  purge(nowMs: number): number {
    // Nothing can have expired before the earliest expiry: skip the scan.
    this.#usesSincePurge = 0;
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
