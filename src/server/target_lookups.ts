/**
 * A process-wide bound on DNS lookups of dynamic target names. A lookup
 * (`getaddrinfo` on the runtime's thread pool) cannot be cancelled: after
 * its 504 it runs on until the resolver gives up. Without a bound, clients
 * naming slow domains could pile up lookups without end and starve every
 * other user of the thread pool (file reads, other lookups).
 *
 * @module
 */

/** The default most lookups in flight in one process. */
export const DEFAULT_MAX_TARGET_LOOKUPS = 64;

/**
 * Counts the lookups in flight, including those whose handshake already got
 * its 504, and admits a new one only below the bound.
 *
 * @example Usage
 * ```ts
 * import { TargetLookups } from "./target_lookups.ts";
 * import assert from "node:assert/strict";
 * const lookups = new TargetLookups(1);
 * const answers: (() => void)[] = [];
 * const first = lookups.track(() => new Promise<void>((resolve) => answers.push(resolve)));
 * assert.ok(first !== undefined);
 * assert.equal(lookups.track(() => Promise.resolve()), undefined);
 * answers[0]!();
 * await first;
 * assert.equal(lookups.inFlight, 0);
 * ```
 */
export class TargetLookups {
  #inFlight = 0;
  /** The most lookups in flight at once. */
  readonly max: number;

  /**
   * @param max The most lookups in flight at once.
   * @default {64}
   */
  constructor(max: number = DEFAULT_MAX_TARGET_LOOKUPS) {
    this.max = max;
  }

  /** How many lookups are running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Starts `start()` when below the bound and counts it until it settles.
   *
   * @param start Starts the lookup.
   * @returns The lookup, or `undefined` when the bound is reached (nothing
   * was started).
   */
  track<T>(start: () => Promise<T>): Promise<T> | undefined {
    if (this.#inFlight >= this.max) return undefined;
    this.#inFlight++;
    const lookup = start();
    const done = () => {
      this.#inFlight--;
    };
    lookup.then(done, done);
    return lookup;
  }
}

/** The process's one bound, shared by every configuration generation. */
export const targetLookups: TargetLookups = new TargetLookups();
