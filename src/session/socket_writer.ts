/**
 * An ordered, batching write queue in front of one socket, with high- and
 * low-water marks for flow control. Small pieces are copied into one batch
 * buffer and written with one call; large payloads are queued by reference
 * and written without a copy.
 *
 * @module
 */

import { regionOf } from "./_relay_util.ts";

/** The part of a socket the writer needs (`Deno.Conn` fits). */
export interface ByteSink {
  /** Writes some bytes; may write fewer than given. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options for {@linkcode SocketWriter}. */
export interface SocketWriterOptions {
  /**
   * Pending bytes above which the writer reports back-pressure.
   * @default {1048576}
   */
  highWaterBytes?: number;
  /**
   * Pending bytes at or below which a paused reader may resume.
   * @default {highWaterBytes / 4}
   */
  lowWaterBytes?: number;
  /**
   * Payloads of at least this many bytes are queued by reference instead of
   * being copied into the batch buffer.
   * @default {16384}
   */
  copyThresholdBytes?: number;
  /** Called once when a write fails; later writes are dropped. */
  onError?: (error: unknown) => void;
  /**
   * Gets back, through its `release`, the buffer of bytes queued by
   * reference once they are all written and no queued bytes refer to that
   * buffer any more, so the owner may reuse it (a `ReadBuffer` fits).
   */
  releaseTo?: BufferOwner;
}

/** Takes back buffers it lent out; see `SocketWriterOptions.releaseTo`. */
export interface BufferOwner {
  /** Receives a buffer nothing queued refers to any more. */
  release(buffer: ArrayBufferLike): void;
}

interface Waiter {
  lowWater: boolean;
  resolve: () => void;
}

const MIN_BATCH_BYTES = 256;

/**
 * Smallest-size batch buffers of writers that went idle, shared by every
 * writer of the process: an idle session holds no batch of its own, and the
 * next burst of any session takes one back instead of allocating.
 */
const SHARED_BATCHES: Uint8Array[] = [];
/** Enough shared batches for the sessions writing in one turn. */
const MAX_SHARED_BATCHES = 64;

/**
 * The shared, frozen empty list an idle writer's lists start as (idle
 * sessions are many); every push site replaces it with a real array first.
 */
// deno-lint-ignore no-explicit-any
const NONE: any[] = Object.freeze([]) as unknown as any[];
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Ordered write queue for one socket.
 *
 * @example Batch two small writes into one socket write
 * ```ts
 * import { SocketWriter } from "./socket_writer.ts";
 * import assert from "node:assert/strict";
 * const written: number[][] = [];
 * const writer = new SocketWriter({
 *   write: (bytes) => { written.push([...bytes]); return Promise.resolve(bytes.length); },
 * });
 * writer.append(new Uint8Array([1]));
 * writer.append(new Uint8Array([2]));
 * writer.flush();
 * await writer.drained();
 * assert.deepEqual(written, [[1, 2]]);
 * ```
 */
export class SocketWriter {
  #sink: ByteSink;
  #highWater: number;
  #lowWater: number;
  #copyThreshold: number;
  #onError: ((error: unknown) => void) | undefined;
  #releaseTo: BufferOwner | undefined;
  /** Buffers of bytes queued by reference, for releaseTo. */
  #referenced: ArrayBufferLike[] = NONE;

  #segments: Uint8Array[] = NONE;
  #segmentBytes = 0;
  #batch: Uint8Array | null = null;
  #batchStart = 0;
  #batchEnd = 0;
  #retired: Uint8Array[] = NONE;
  /** Retired batches whose bytes are all written, ready for reuse. */
  #spares: Uint8Array[] = NONE;
  /** Enough spares to cycle through the high-water mark without allocating. */
  #maxSpares: number;
  #inFlightBytes = 0;
  #writtenBytes = 0;
  /** Pieces that go ahead of queued ones (control frames), in order. */
  #urgent: Uint8Array[] = NONE;
  #urgentWritten: ((() => void) | undefined)[] = NONE;
  #urgentBytes = 0;
  /** Queued segments that continue a piece begun before them. */
  #continuations: Set<Uint8Array> | undefined;
  /** Called once the chunk being written is written whole. */
  #onChunkWritten: (() => void) | undefined;
  #isWriting = false;
  /** The chunk being written, and the part of it not yet written. */
  #chunk: Uint8Array | undefined;
  #chunkLeft: Uint8Array | undefined;
  #onWrittenBound: ((count: number) => void) | undefined;
  #onWriteFailedBound: ((error: unknown) => void) | undefined;
  #failure: unknown = undefined;
  #hasFailed = false;
  #waiters: Waiter[] = NONE;

  /**
   * Constructs a writer.
   * @param sink The socket to write to.
   * @param options Water marks and copy threshold.
   */
  constructor(sink: ByteSink, options: SocketWriterOptions = {}) {
    const {
      highWaterBytes = 1024 * 1024,
      lowWaterBytes = Math.floor(highWaterBytes / 4),
      copyThresholdBytes = 16384,
      onError,
      releaseTo,
    } = options;
    this.#sink = sink;
    this.#highWater = highWaterBytes;
    this.#lowWater = lowWaterBytes;
    this.#copyThreshold = copyThresholdBytes;
    this.#onError = onError;
    this.#releaseTo = releaseTo;
    this.#maxSpares = Math.max(1, Math.ceil(highWaterBytes / MAX_BATCH_BYTES));
  }

  /** Bytes accepted but not yet written to the socket. */
  get pendingBytes(): number {
    return this.#segmentBytes + (this.#batchEnd - this.#batchStart) +
      this.#inFlightBytes + this.#urgentBytes;
  }

  /** Whether pending bytes exceed the high-water mark. */
  get isAboveHighWater(): boolean {
    return this.pendingBytes > this.#highWater;
  }

  /** Bytes the socket has accepted so far (a sign the peer reads). */
  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  /** Whether a write has failed. */
  get hasFailed(): boolean {
    return this.#hasFailed;
  }

  /** Bytes of memory held by the idle batch buffer. */
  get bufferCapacity(): number {
    return this.#batch?.length ?? 0;
  }

  /**
   * Encodes one piece straight into the batch: makes room for `maxBytes`,
   * lets `encode` write `item` there and keeps the bytes it reports written
   * (the one place the reserve / offset / commit sequence is spelled out).
   *
   * @example Frame a message with a one-byte length prefix
   * ```ts
   * import { SocketWriter } from "./socket_writer.ts";
   * import assert from "node:assert/strict";
   * const written: number[][] = [];
   * const writer = new SocketWriter({
   *   write: (bytes) => { written.push([...bytes]); return Promise.resolve(bytes.length); },
   * });
   * function prefixed(item: Uint8Array, buffer: Uint8Array, offset: number) {
   *   buffer[offset] = item.length;
   *   buffer.set(item, offset + 1);
   *   return 1 + item.length;
   * }
   * writer.appendEncoded(8, prefixed, new Uint8Array([7, 8]));
   * writer.flush();
   * await writer.drained();
   * assert.deepEqual(written, [[2, 7, 8]]);
   * ```
   *
   * @param maxBytes The most bytes `encode` may write.
   * @param encode Writes `item` into `buffer` at `offset`; returns the
   * bytes written.
   * @param item What to encode.
   */
  appendEncoded<T>(
    maxBytes: number,
    encode: (item: T, buffer: Uint8Array, offset: number) => number,
    item: T,
  ): void {
    if (this.#hasFailed) return;
    const buffer = this.#reserve(maxBytes);
    this.#batchEnd += encode(item, buffer, this.#batchEnd);
  }

  /**
   * Queues a small piece ahead of everything queued but not yet being
   * written (a control frame that must not wait behind data): it goes out
   * after the piece in flight, before the next queued piece that does not
   * continue another (see `append`'s `isContinuation`). Urgent pieces keep
   * their order among themselves.
   *
   * @example A ping overtakes queued data
   * ```ts
   * import { SocketWriter } from "./socket_writer.ts";
   * import assert from "node:assert/strict";
   * const written: number[][] = [];
   * const writer = new SocketWriter({
   *   write: (bytes) => { written.push([...bytes]); return Promise.resolve(bytes.length); },
   * }, { copyThresholdBytes: 2 });
   * writer.append(new Uint8Array([1, 1]));
   * writer.append(new Uint8Array([2, 2]));
   * writer.flush(); // [1, 1] is in flight from here
   * let isPingWritten = false;
   * writer.appendUrgent(new Uint8Array([9]), () => isPingWritten = true);
   * writer.flush();
   * await writer.drained();
   * assert.deepEqual(written, [[1, 1], [9], [2, 2]]);
   * assert.equal(isPingWritten, true);
   * ```
   *
   * @param bytes The piece (copied).
   * @param onWritten Called once the socket has accepted all of it.
   */
  appendUrgent(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.#hasFailed) return;
    if (this.#urgent === NONE) {
      this.#urgent = [];
      this.#urgentWritten = [];
    }
    this.#urgent.push(bytes.slice());
    this.#urgentWritten.push(onWritten);
    this.#urgentBytes += bytes.length;
  }

  /**
   * Queues bytes: copied into the batch when small, kept by reference when
   * at least the copy threshold (the caller must not change them later).
   * @param bytes The bytes to write.
   * @param isContinuation Whether `bytes` continues a piece queued just
   * before (a frame body after its header): nothing urgent goes between.
   * @returns Whether `bytes` was kept by reference.
   */
  append(bytes: Uint8Array, isContinuation = false): boolean {
    if (this.#hasFailed) return false;
    const length = bytes.length;
    if (length >= this.#copyThreshold) {
      this.#sealBatch();
      const segments = this.#segments;
      const last = segments.length > 0 ? segments[segments.length - 1]! : null;
      if (
        last !== null && last.buffer === bytes.buffer &&
        last.byteOffset + last.length === bytes.byteOffset
      ) {
        // Adjacent in one buffer (messages rewritten in place): one write.
        const merged = new Uint8Array(
          bytes.buffer,
          last.byteOffset,
          last.length + length,
        );
        segments[segments.length - 1] = merged;
        if (this.#continuations?.delete(last)) {
          this.#continuations.add(merged);
        }
      } else {
        if (segments === NONE) this.#segments = [bytes];
        else segments.push(bytes);
        if (isContinuation) (this.#continuations ??= new Set()).add(bytes);
      }
      this.#segmentBytes += length;
      if (
        this.#releaseTo !== undefined &&
        !this.#referenced.includes(bytes.buffer)
      ) {
        if (this.#referenced === NONE) this.#referenced = [];
        this.#referenced.push(bytes.buffer);
      }
      return true;
    }
    this.#reserve(length).set(bytes, this.#batchEnd);
    this.#batchEnd += length;
    return false;
  }

  /** Starts writing what is queued, if not already writing. */
  flush(): void {
    if (!this.#isWriting && !this.#hasFailed && this.pendingBytes > 0) {
      this.#isWriting = true;
      this.#writeNext();
    }
  }

  /**
   * Resolves when pending bytes are at or below the low-water mark (or the
   * writer failed).
   * @returns A promise that resolves on drain.
   */
  belowLowWater(): Promise<void> {
    if (this.pendingBytes <= this.#lowWater || this.#hasFailed) {
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#addWaiter({ lowWater: true, resolve })
    );
  }

  /**
   * Resolves when everything queued has been written (or the writer failed).
   * @returns A promise that resolves when idle.
   */
  drained(): Promise<void> {
    if (this.pendingBytes === 0 || this.#hasFailed) return Promise.resolve();
    this.flush();
    return new Promise((resolve) =>
      this.#addWaiter({ lowWater: false, resolve })
    );
  }

  /** Releases the batch buffer when nothing is pending (idle sessions). */
  trim(): void {
    if (this.pendingBytes === 0 && !this.#isWriting) {
      this.#shareBatch();
      this.#batch = null;
      this.#spares = NONE;
      this.#retired = NONE;
    }
  }

  /** Drops everything queued and fails pending waits (the socket is gone). */
  abandon(): void {
    this.#fail(undefined, false);
  }

  /** The batch buffer, with room for `length` bytes at `#batchEnd`. */
  #reserve(length: number): Uint8Array {
    const batch = this.#batch;
    if (batch === null || batch.length - this.#batchEnd < length) {
      return this.#growBatch(length);
    }
    return batch;
  }

  #growBatch(length: number): Uint8Array {
    const old = this.#batch;
    this.#sealBatch();
    if (old !== null) {
      if (!this.#refersTo(old.buffer)) {
        // Nothing references the old buffer any more (its bytes are all
        // written, even if another piece is in flight): restart at its
        // front, or drop it when it is too small.
        this.#batchStart = this.#batchEnd = 0;
        if (old.length >= length) return old;
      } else {
        // The old buffer is still being written: retire it (it becomes a
        // spare once written), and take a spare instead of allocating.
        if (this.#retired === NONE) this.#retired = [];
        this.#retired.push(old);
      }
    }
    const size = Math.max(
      length,
      Math.min(
        MAX_BATCH_BYTES,
        old === null ? MIN_BATCH_BYTES : old.length * 2,
      ),
    );
    const spares = this.#spares;
    const spare = spares.length > 0 ? spares[spares.length - 1]! : null;
    let batch: Uint8Array;
    if (spare !== null && spare.length >= Math.max(length, old?.length ?? 0)) {
      batch = spare;
      spares.pop();
    } else if (size === MIN_BATCH_BYTES && SHARED_BATCHES.length > 0) {
      batch = SHARED_BATCHES.pop()!;
    } else {
      batch = new Uint8Array(size);
    }
    this.#batch = batch;
    this.#batchStart = this.#batchEnd = 0;
    return batch;
  }

  /**
   * Everything is written: a smallest-size batch goes back to the shared
   * ones (nothing refers to it: no chunk is in flight, nothing is queued).
   */
  #shareBatch(): void {
    const batch = this.#batch;
    if (
      batch !== null && batch.length === MIN_BATCH_BYTES &&
      this.#segments.length === 0 && this.#urgent.length === 0
    ) {
      this.#batch = null;
      if (SHARED_BATCHES.length < MAX_SHARED_BATCHES) {
        SHARED_BATCHES.push(batch);
      }
    }
  }

  /** Whether a queued or in-flight piece lies in `buffer`. */
  #refersTo(buffer: ArrayBufferLike): boolean {
    return this.#chunk?.buffer === buffer ||
      this.#segments.some((segment) => segment.buffer === buffer);
  }

  /** After a chunk is written: a retired buffer nothing refers to is spare. */
  #recycle(written: Uint8Array): void {
    const retired = this.#retired;
    for (let i = 0; i < retired.length; i++) {
      const buffer = retired[i]!;
      if (buffer.buffer !== written.buffer) continue;
      if (this.#segments.some((segment) => segment.buffer === buffer.buffer)) {
        return;
      }
      retired.splice(i, 1);
      if (this.#spares.length < this.#maxSpares) {
        if (this.#spares === NONE) this.#spares = [];
        this.#spares.push(buffer);
      }
      return;
    }
  }

  /** After a chunk is written: hands back a caller's buffer nothing uses. */
  #release(written: Uint8Array): void {
    const buffer = written.buffer;
    const referenced = this.#referenced;
    const at = referenced.indexOf(buffer);
    if (
      at < 0 || this.#segments.some((segment) => segment.buffer === buffer)
    ) {
      return;
    }
    referenced.splice(at, 1);
    this.#releaseTo!.release(buffer);
  }

  /** Moves the open batch region into the segment list (keeps order). */
  #sealBatch(): void {
    if (this.#batch !== null && this.#batchEnd > this.#batchStart) {
      if (this.#segments === NONE) this.#segments = [];
      this.#segments.push(
        regionOf(this.#batch, this.#batchStart, this.#batchEnd),
      );
      this.#segmentBytes += this.#batchEnd - this.#batchStart;
      this.#batchStart = this.#batchEnd;
    }
  }

  #nextChunk(): Uint8Array | undefined {
    if (this.#urgent.length > 0) {
      const next = this.#segments[0];
      if (next === undefined || !this.#continuations?.has(next)) {
        const urgent = this.#urgent.shift()!;
        this.#urgentBytes -= urgent.length;
        // In flight from here (counted there): see #writeLeft.
        this.#onChunkWritten = this.#urgentWritten.shift();
        return urgent;
      }
    }
    if (this.#segments.length > 0) {
      const segment = this.#segments.shift()!;
      this.#segmentBytes -= segment.length;
      this.#continuations?.delete(segment);
      return segment;
    }
    if (this.#batch !== null && this.#batchEnd > this.#batchStart) {
      const region = regionOf(this.#batch, this.#batchStart, this.#batchEnd);
      this.#batchStart = this.#batchEnd;
      return region;
    }
    return undefined;
  }

  // The write loop runs on promise callbacks, not an async function: a
  // flush then costs one promise from the sink and no generator, which
  // matters when every small message starts a write.

  /** Writes the next queued chunk, or ends the loop when none is left. */
  #writeNext(): void {
    const next = this.#nextChunk();
    if (next === undefined) {
      this.#isWriting = false;
      if (this.#batchStart === this.#batchEnd) {
        this.#batchStart = this.#batchEnd = 0;
        this.#shareBatch();
      }
      this.#notify();
      return;
    }
    this.#chunk = next;
    this.#chunkLeft = next;
    this.#writeLeft();
  }

  /** Writes what is left of the current chunk. */
  #writeLeft(): void {
    const left = this.#chunkLeft!;
    this.#inFlightBytes = left.length;
    let written: Promise<number>;
    try {
      written = this.#sink.write(left);
    } catch (error) {
      this.#onWriteFailed(error);
      return;
    }
    written.then(
      this.#onWrittenBound ??= (count) => this.#onWritten(count),
      this.#onWriteFailedBound ??= (error) => this.#onWriteFailed(error),
    );
  }

  #onWritten(count: number): void {
    if (this.#hasFailed) {
      // Abandoned while this write was in flight: the loop ends here.
      this.#isWriting = false;
      this.#chunk = this.#chunkLeft = undefined;
      return;
    }
    const left = this.#chunkLeft!;
    this.#writtenBytes += count;
    if (count < left.length) {
      this.#chunkLeft = regionOf(left, count, left.length);
      this.#writeLeft();
      // A partial write may already bring the writer below its low-water
      // mark: wake a paused reader now, not after the whole piece.
      this.#notify();
      return;
    }
    const chunk = this.#chunk!;
    this.#chunk = this.#chunkLeft = undefined;
    this.#inFlightBytes = 0;
    const onChunkWritten = this.#onChunkWritten;
    if (onChunkWritten !== undefined) {
      this.#onChunkWritten = undefined;
      onChunkWritten();
    }
    if (this.#retired.length > 0) this.#recycle(chunk);
    if (this.#releaseTo !== undefined) this.#release(chunk);
    this.#notify();
    this.#writeNext();
  }

  #onWriteFailed(error: unknown): void {
    this.#isWriting = false;
    this.#chunk = this.#chunkLeft = undefined;
    this.#fail(error, true);
  }

  #addWaiter(waiter: Waiter): void {
    if (this.#waiters === NONE) this.#waiters = [];
    this.#waiters.push(waiter);
  }

  #notify(): void {
    if (this.#waiters.length === 0) return;
    const pending = this.pendingBytes;
    const remaining: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (pending === 0 || (waiter.lowWater && pending <= this.#lowWater)) {
        waiter.resolve();
      } else {
        remaining.push(waiter);
      }
    }
    this.#waiters = remaining;
  }

  #fail(error: unknown, report: boolean): void {
    if (this.#hasFailed) return;
    this.#hasFailed = true;
    this.#failure = error;
    this.#segments = NONE;
    this.#segmentBytes = 0;
    this.#batchStart = this.#batchEnd = 0;
    this.#inFlightBytes = 0;
    this.#retired = NONE;
    this.#spares = NONE;
    this.#referenced = NONE;
    this.#urgent = NONE;
    this.#urgentWritten = NONE;
    this.#urgentBytes = 0;
    this.#continuations = undefined;
    this.#onChunkWritten = undefined;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = NONE;
    if (report) this.#onError?.(error);
  }

  /** The error that made a write fail, if any. */
  get failure(): unknown {
    return this.#failure;
  }
}
