/**
 * What the two session outputs (`BrowserOutput`, `BackendOutput`) build
 * the same way: a batching
 * {@linkcode SocketWriter} that copies small pieces and gives the opposite
 * pump's read buffers back once written, and the {@linkcode ReadFloor} that
 * tracks which part of that pump's current read is lent out.
 *
 * @module
 */

import type { ReadBuffer } from "./read_buffer.ts";
import { ReadFloor } from "./read_floor.ts";
import { type ByteSink, SocketWriter } from "./socket_writer.ts";

/**
 * Messages below this size are copied into the write batch (so a codec may
 * hand them over in a reused scratch buffer); larger ones go by reference.
 */
export const COPY_THRESHOLD_BYTES = 128 * 1024;

/** Options shared by both session outputs. */
export interface OutputWriterOptions {
  /**
   * Pending bytes above which the output reports back-pressure.
   * @default {1048576}
   */
  highWaterBytes?: number;
  /**
   * The opposite pump's read buffer: large messages that lie in it are
   * framed in place (their header written over the bytes just before
   * them) and its buffers come back once written. None: every message is
   * framed by copy or by reference.
   * @default {undefined}
   */
  source?: ReadBuffer;
  /**
   * Called once when a write fails; later output is dropped.
   * @default {undefined}
   */
  onError?: (error: unknown) => void;
}

/** The writer of one output and the floor of its source's reads. */
export interface OutputWriter {
  /** The write queue: batching, flow control, draining. */
  writer: SocketWriter;
  /** Tracks the source's current read; undefined without a source. */
  floor: ReadFloor | undefined;
}

/**
 * Builds the writer and read floor of one session output.
 *
 * @example A writer that gives the source's buffers back
 * ```ts
 * import { createOutputWriter } from "./output_writer.ts";
 * import { ReadBuffer } from "./read_buffer.ts";
 * import assert from "node:assert/strict";
 * const sent: number[] = [];
 * const { writer, floor } = createOutputWriter({
 *   write: (bytes) => { sent.push(...bytes); return Promise.resolve(bytes.length); },
 * }, { source: new ReadBuffer() });
 * assert.notEqual(floor, undefined);
 * writer.append(new Uint8Array([1, 2]));
 * writer.flush();
 * await writer.drained();
 * assert.deepEqual(sent, [1, 2]);
 * ```
 *
 * @param socket Where the output writes.
 * @param options Water mark, source and errors.
 * @returns The writer and the floor.
 */
export function createOutputWriter(
  socket: ByteSink,
  options: OutputWriterOptions = {},
): OutputWriter {
  const { highWaterBytes = 1024 * 1024, source, onError } = options;
  const writer = new SocketWriter(socket, {
    highWaterBytes,
    copyThresholdBytes: COPY_THRESHOLD_BYTES,
    ...(source === undefined ? {} : { releaseTo: source }),
    ...(onError === undefined ? {} : { onError }),
  });
  const floor = source === undefined ? undefined : new ReadFloor(source);
  return { writer, floor };
}
