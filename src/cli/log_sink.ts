/**
 * A buffered line writer for stderr: log lines are gathered for a short
 * while (`batchDelayMs`) and written in one call instead of one write per
 * line or per event-loop turn, so logging costs a few writes a second on a
 * busy gateway (a session that opens and closes logs two lines; at a few
 * thousand sessions a second, a write per turn cost ~8% of the gateway's
 * CPU). `flush()` writes at once.
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

/** Bytes queued at which a write starts without waiting out the delay. */
const WRITE_NOW_BYTES = 64 * 1024;

/** Options of {@linkcode LineWriter}. */
export interface LineWriterOptions {
  /**
   * How long the first line of a batch waits for more before the batch is
   * written, in milliseconds (0: the next event-loop turn).
   * @default {20}
   */
  batchDelayMs?: number;
}

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
  #delayMs: number;
  /** The wait before the next batch, while one is running. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onTimer = (): void => {
    this.#timer = undefined;
    this.#writing ??= this.#drain();
  };

  /**
   * Constructs a writer.
   * @param target Where lines go.
   * @param options The batching delay.
   */
  constructor(target: LineTarget, options: LineWriterOptions = {}) {
    this.#target = target;
    this.#delayMs = options.batchDelayMs ?? 20;
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
    // A running write takes the new line in its next round.
    if (this.#writing !== undefined) return;
    if (this.#pendingBytes >= WRITE_NOW_BYTES) {
      this.#writeNow();
    } else {
      this.#timer ??= setTimeout(this.#onTimer, this.#delayMs);
    }
  }

  /**
   * Writes what is queued now and resolves when every queued line is
   * written.
   * @returns A promise that resolves when idle.
   */
  async flush(): Promise<void> {
    if (this.#lines.length > 0) this.#writeNow();
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Ends the wait for more lines: the batch is written from here. */
  #writeNow(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
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
