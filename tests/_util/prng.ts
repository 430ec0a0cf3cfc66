/**
 * A seeded pseudo-random generator for property tests: mulberry32, as in
 * denoland/std `async/_util_test.ts`, plus small helpers. The same seed
 * always gives the same sequence, so a failure can be replayed.
 *
 * @module
 */

/**
 * Returns a mulberry32 generator: each call yields a float in [0, 1).
 *
 * @param seed A 32-bit seed.
 * @returns The generator.
 *
 * @example Usage
 * ```ts
 * import { mulberry32 } from "./prng.ts";
 * import assert from "node:assert/strict";
 * const a = mulberry32(42);
 * const b = mulberry32(42);
 * assert.equal(a(), b());
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Returns the seeds a property test runs with: the one in the `WSGATE_SEED`
 * environment variable (decimal or `0x` hex) when set, else `defaults` plus
 * one fresh random seed.
 *
 * @param defaults The fixed seeds that always run.
 * @returns The seeds to run.
 *
 * @example Usage
 * ```ts
 * import { testSeeds } from "./prng.ts";
 * import assert from "node:assert/strict";
 * assert.ok(testSeeds([1, 2]).length >= 1);
 * ```
 */
export function testSeeds(defaults: readonly number[]): number[] {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get("WSGATE_SEED");
  } catch {
    fromEnv = undefined; // no --allow-env: use the defaults
  }
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    const seed = Number(fromEnv.trim());
    if (!Number.isInteger(seed)) {
      throw new TypeError(
        `Cannot read WSGATE_SEED as it must be an integer: current value is "${fromEnv}"`,
      );
    }
    return [seed >>> 0];
  }
  return [...defaults, crypto.getRandomValues(new Uint32Array(1))[0] as number];
}

/**
 * A seeded generator with helpers for ints, bytes and choices.
 *
 * @example Usage
 * ```ts
 * import { Prng } from "./prng.ts";
 * import assert from "node:assert/strict";
 * const prng = new Prng(7);
 * const n = prng.int(3, 5);
 * assert.ok(n >= 3 && n <= 5);
 * assert.equal(prng.bytes(4).length, 4);
 * ```
 */
export class Prng {
  #next: () => number;

  /**
   * Constructs a new instance.
   * @param seed A 32-bit seed.
   */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /**
   * Returns a float in [0, 1).
   * @returns The next value.
   */
  float(): number {
    return this.#next();
  }

  /**
   * Returns an integer in [min, max], both included.
   * @param min The smallest value.
   * @param max The largest value.
   * @returns The value.
   */
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }

  /**
   * Returns true with probability `p`.
   * @param p The probability, from 0 to 1.
   * @returns The outcome.
   */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /**
   * Returns one element of `items`.
   * @param items A non-empty array.
   * @returns The chosen element.
   */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /**
   * Returns `length` random bytes.
   * @param length How many.
   * @returns The bytes.
   */
  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(this.#next() * 256);
    return bytes;
  }
}
