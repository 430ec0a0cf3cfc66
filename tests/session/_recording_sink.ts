/**
 * A byte sink for output tests: records every write call (by reference and
 * as a copy) and completes it at once, or holds it while `isHolding`.
 *
 * @module
 */

import type { ByteSink } from "../../src/session/socket_writer.ts";

/** Records writes; completes them at once unless holding. */
export class RecordingSink implements ByteSink {
  /** The arrays the writer passed, by reference. */
  references: Uint8Array[] = [];
  /** Copies of what was written, in order. */
  copies: Uint8Array[] = [];
  /** While true, write calls wait for {@linkcode RecordingSink.release}. */
  isHolding = false;
  #held: (() => void)[] = [];

  write(bytes: Uint8Array): Promise<number> {
    this.references.push(bytes);
    this.copies.push(bytes.slice());
    if (!this.isHolding) return Promise.resolve(bytes.length);
    return new Promise((resolve) =>
      this.#held.push(() => resolve(bytes.length))
    );
  }

  /** Completes the held writes and stops holding. */
  release(): void {
    this.isHolding = false;
    const held = this.#held;
    this.#held = [];
    for (const complete of held) complete();
  }

  /** Everything written so far, as one array. */
  get bytes(): Uint8Array {
    const total = this.copies.reduce((sum, part) => sum + part.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of this.copies) {
      all.set(part, at);
      at += part.length;
    }
    return all;
  }
}
