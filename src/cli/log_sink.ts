/**
 * A buffered line writer for stderr: log lines are gathered and written in
 * one call per event-loop turn instead of one synchronous write per line,
 * so logging does not cost a syscall per event on busy gateways.
 *
 * @module
 */

/** Where the lines go (`Deno.stderr` fits). */
export interface LineTarget {
  /** Writes some bytes; may write fewer than given. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Most bytes held before new lines are dropped (and counted). */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/**
 * Buffers lines and writes them in batches, in order.
 *
 * @example
 * ```ts
 * import { LineWriter } from "./log_sink.ts";
 * import assert from "node:assert/strict";
 * const chunks: string[] = [];
 * const writer = new LineWriter({
 *   write: (bytes) => { chunks.push(new TextDecoder().decode(bytes)); return Promise.resolve(bytes.length); },
 * });
 * writer.writeLine("a");
 * writer.writeLine("b");
 * await writer.flush();
 * assert.deepEqual(chunks, ["a\nb\n"]);
 * ```
 */
export class LineWriter {
  #target: LineTarget;
  #lines: string[] = [];
  #pendingBytes = 0;
  #dropped = 0;
  #writing: Promise<void> | undefined;

  /**
   * Constructs a writer.
   * @param target Where lines go.
   */
  constructor(target: LineTarget) {
    this.#target = target;
  }

  /**
   * Queues one line (a newline is added).
   * @param line The line.
   */
  writeLine(line: string): void {
    if (this.#pendingBytes > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
    this.#lines.push(line);
    this.#pendingBytes += line.length + 1;
    this.#writing ??= this.#drain();
  }

  /**
   * Resolves when every queued line is written.
   * @returns A promise that resolves when idle.
   */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      // Wait a turn so lines of the same burst share one write.
      await new Promise((resolve) => setTimeout(resolve, 0));
      while (this.#lines.length > 0) {
        let text = this.#lines.join("\n") + "\n";
        if (this.#dropped > 0) {
          text +=
            `wsgate: ${this.#dropped} log lines dropped (stderr too slow)\n`;
          this.#dropped = 0;
        }
        this.#lines = [];
        this.#pendingBytes = 0;
        let rest = new TextEncoder().encode(text);
        while (rest.length > 0) {
          rest = rest.subarray(await this.#target.write(rest));
        }
      }
    } catch {
      // stderr is gone; nothing else can report it.
      this.#lines = [];
    } finally {
      this.#writing = undefined;
    }
  }
}
