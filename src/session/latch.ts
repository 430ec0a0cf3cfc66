/**
 * A one-shot latch: set once, awaited by anyone. Unlike
 * `Promise.withResolvers()`, it allocates the promise only when somebody
 * waits, which keeps idle sessions small.
 *
 * @module
 */

/**
 * A value that is set once and can be awaited.
 *
 * @example
 * ```ts
 * import { Latch } from "./latch.ts";
 * import assert from "node:assert/strict";
 * const latch = new Latch<number>();
 * const waiting = latch.wait();
 * latch.set(7);
 * latch.set(8); // ignored: a latch is set once
 * assert.equal(await waiting, 7);
 * assert.equal(latch.isSet, true);
 * ```
 */
export class Latch<T = void> {
  #isSet = false;
  #value: T | undefined;
  #resolvers: PromiseWithResolvers<T> | undefined;

  /** Whether the latch has been set. */
  get isSet(): boolean {
    return this.#isSet;
  }

  /**
   * Sets the value and wakes every waiter; later calls are ignored.
   * @param value The value.
   */
  set(value: T): void {
    if (this.#isSet) return;
    this.#isSet = true;
    this.#value = value;
    this.#resolvers?.resolve(value);
  }

  /**
   * Resolves with the value once set.
   * @returns The value.
   */
  wait(): Promise<T> {
    if (this.#isSet) return Promise.resolve(this.#value as T);
    this.#resolvers ??= Promise.withResolvers<T>();
    return this.#resolvers.promise;
  }
}
