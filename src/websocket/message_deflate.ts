/**
 * permessage-deflate message compression (RFC 7692 section 7.2) for one
 * session: {@linkcode MessageDeflater} compresses outgoing messages and
 * {@linkcode MessageInflater} restores incoming ones under a hard output cap.
 *
 * Built on `node:zlib`. Deno 2.9.6's `CompressionStream("deflate-raw")` does
 * sync-flush each write (it emits `f2 48 cd c9 c9 07 00 00 00 ff ff` for
 * "Hello"), but it has no window, memLevel or level control, and
 * `DecompressionStream` hands out a whole write's output as one chunk (a
 * 16 KiB bomb came back as one 16 MiB chunk), so inflation cannot be capped.
 * With context takeover a persistent zlib stream keeps the LZ77 window
 * between messages (async: write, then flush with `Z_SYNC_FLUSH`; inflate
 * output comes in 16 KiB chunks and stops at the cap); without it each
 * message is one synchronous one-shot call (`maxOutputLength` caps it), so
 * an idle session holds no zlib memory at all.
 *
 * @module
 */

import zlib from "node:zlib";
import { FrameTooLargeError, InvalidMessageError } from "../errors.ts";

/** The empty stored block every sync flush ends with (RFC 7692 section 7.2.1). */
const SYNC_TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
/** Output is produced at most this many bytes at a time while inflating. */
const INFLATE_CHUNK_BYTES = 16384;

/** Options for {@linkcode MessageDeflater}. */
export interface MessageDeflaterOptions {
  /** Start each message with an empty window. @default {false} */
  noContextTakeover?: boolean;
  /**
   * LZ77 window bits, 9-15 (zlib cannot deflate raw data with 8; the
   * negotiation never agrees to 8 for the server). @default {15}
   */
  windowBits?: number;
  /** Deflate level, 0-9. @default {6} */
  level?: number;
  /** zlib memLevel, 1-9: hash table size. @default {8} */
  memLevel?: number;
  /** Messages shorter than this many bytes are not compressed. @default {64} */
  minSize?: number;
}

/** Options for {@linkcode MessageInflater}. */
export interface MessageInflaterOptions {
  /** The peer starts each message with an empty window. @default {false} */
  noContextTakeover?: boolean;
  /** The peer's LZ77 window bits, 8-15. @default {15} */
  windowBits?: number;
  /** Largest inflated message, in bytes. @default {16777216} */
  maxMessageBytes?: number;
}

function windowBitsFor(bits: number): number {
  // zlib refuses an 8-bit window for raw deflate; 9 inflates 8 too.
  return Math.max(9, Math.min(15, bits));
}

/** A plain `Uint8Array` view of a zlib `Buffer`, so callers see one type. */
function plainView(bytes: Uint8Array, length = bytes.length): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, length);
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return plainView(chunks[0]!);
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

interface Pending {
  resolve(value: Uint8Array): void;
  reject(error: unknown): void;
}

/**
 * Compresses the messages of one session. `compress()` returns the payload
 * to send with RSV1 set and the `00 00 ff ff` tail removed, or `null` when
 * the message is below `minSize` and goes out uncompressed (RSV1 clear).
 * Calls must not overlap: await each before the next (the pump does).
 *
 * @example Compress "Hello" as in RFC 7692 section 7.2.3.1
 * ```ts
 * import { MessageDeflater } from "./message_deflate.ts";
 * import assert from "node:assert/strict";
 * const deflater = new MessageDeflater({ minSize: 0 });
 * const out = await deflater.compress(new TextEncoder().encode("Hello"));
 * assert.deepEqual(out, new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
 * deflater.close();
 * ```
 */
export class MessageDeflater {
  #options: zlib.ZlibOptions;
  #minSize: number;
  #stream: zlib.DeflateRaw | null = null;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #pending: Pending | null = null;

  /**
   * Constructs a new instance; a persistent stream is made on first use
   * when the context is kept.
   * @param options Context, window, level and size threshold.
   */
  constructor(options: MessageDeflaterOptions = {}) {
    const {
      noContextTakeover = false,
      windowBits = 15,
      level = 6,
      memLevel = 8,
      minSize = 64,
    } = options;
    this.#options = {
      windowBits: windowBitsFor(windowBits),
      level,
      memLevel,
      finishFlush: Z_SYNC_FLUSH,
    };
    this.#minSize = minSize;
    if (!noContextTakeover) this.#stream = this.#openStream();
  }

  /**
   * Compresses one whole message.
   * @param payload The message bytes.
   * @returns The compressed payload, or `null` to send it uncompressed.
   */
  compress(payload: Uint8Array): Promise<Uint8Array | null> {
    if (payload.length < this.#minSize) return Promise.resolve(null);
    const stream = this.#stream;
    if (stream === null) {
      const out = zlib.deflateRawSync(payload, this.#options);
      return Promise.resolve(stripTail(out));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    this.#pending = { resolve, reject };
    stream.write(payload);
    stream.flush(Z_SYNC_FLUSH, this.#onFlushed);
    return promise;
  }

  /** Frees the zlib state; idempotent. A pending `compress()` rejects. */
  close(): void {
    this.#stream?.close();
    this.#stream = null;
    this.#settle(
      new Error("Cannot compress message as the deflater is closed"),
    );
  }

  #openStream(): zlib.DeflateRaw {
    const stream = zlib.createDeflateRaw(this.#options);
    stream.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    });
    stream.on("error", (error: unknown) => this.#settle(error));
    return stream;
  }

  #onFlushed = (error?: unknown): void => this.#settle(error ?? null);

  #settle(error: unknown): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    const out = concat(this.#chunks, this.#length);
    this.#chunks = [];
    this.#length = 0;
    if (error !== null) pending.reject(error);
    else pending.resolve(stripTail(out));
  }
}

function stripTail(out: Uint8Array): Uint8Array {
  // A sync flush always ends with the empty stored block; RFC 7692 section
  // 7.2.1 says to remove it.
  return plainView(out, out.length - SYNC_TAIL.length);
}

/**
 * Inflates the compressed messages of one session. Output stops as soon as
 * it passes `maxMessageBytes`: `decompress()` then rejects with
 * `FrameTooLargeError` (close 1009) without inflating the rest; a corrupt
 * stream rejects with `InvalidMessageError` (close 1007). After a rejection
 * the inflater is unusable: close the session. Calls must not overlap.
 *
 * @example Inflate "Hello" twice with context takeover (RFC 7692 section 7.2.3.2)
 * ```ts
 * import { MessageInflater } from "./message_deflate.ts";
 * import assert from "node:assert/strict";
 * const inflater = new MessageInflater();
 * const text = new TextDecoder();
 * const first = await inflater.decompress(new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
 * const second = await inflater.decompress(new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]));
 * assert.equal(text.decode(first) + text.decode(second), "HelloHello");
 * inflater.close();
 * ```
 */
export class MessageInflater {
  #options: zlib.ZlibOptions;
  #maxMessageBytes: number;
  #stream: zlib.InflateRaw | null = null;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #pending: Pending | null = null;
  #failure: unknown = null;
  #isOverflowing = false;
  #isStreamEnded = false;

  /**
   * Constructs a new instance.
   * @param options Context, window and output cap.
   */
  constructor(options: MessageInflaterOptions = {}) {
    const {
      noContextTakeover = false,
      windowBits = 15,
      maxMessageBytes = 16 * 1024 * 1024,
    } = options;
    this.#maxMessageBytes = maxMessageBytes;
    this.#options = {
      windowBits: windowBitsFor(windowBits),
      finishFlush: Z_SYNC_FLUSH,
      chunkSize: INFLATE_CHUNK_BYTES,
      // The one-shot path throws once output would pass this: it grows its
      // buffer chunk by chunk, so a bomb never allocates beyond the cap.
      maxOutputLength: Math.max(1, maxMessageBytes),
    };
    if (!noContextTakeover) this.#stream = this.#openStream();
  }

  /**
   * Inflates one whole message (its fragments' payloads joined).
   * @param payload The compressed payload without the `00 00 ff ff` tail.
   * @returns The message bytes.
   */
  decompress(payload: Uint8Array): Promise<Uint8Array> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const stream = this.#stream;
    if (stream === null) {
      try {
        return Promise.resolve(plainView(zlib.inflateRawSync(
          concat([payload, SYNC_TAIL], payload.length + SYNC_TAIL.length),
          this.#options,
        )));
      } catch (error: unknown) {
        this.#failure = this.#classify(error);
        return Promise.reject(this.#failure);
      }
    }
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
    this.#pending = { resolve, reject };
    stream.write(payload);
    stream.write(SYNC_TAIL);
    stream.flush(Z_SYNC_FLUSH, this.#onFlushed);
    return promise;
  }

  /** Frees the zlib state; idempotent. A pending `decompress()` rejects. */
  close(): void {
    this.#stream?.close();
    this.#stream = null;
    if (this.#pending !== null) {
      this.#fail(
        new Error("Cannot inflate message as the inflater is closed"),
      );
    }
  }

  #openStream(): zlib.InflateRaw {
    const stream = zlib.createInflateRaw(this.#options);
    // A block with BFINAL set ends the deflate stream (RFC 7692 section
    // 7.2.3.4 allows it); zlib then drops every later byte without a word,
    // so the message after it would come out empty. The stream is replaced
    // once the current message settles: the next one starts a new context.
    stream.on("end", () => {
      if (this.#stream === stream) this.#isStreamEnded = true;
    });
    stream.on("data", (chunk: Uint8Array) => {
      // Counted even past the cap, so the error's size shows how far zlib
      // actually went (one chunk past the cap when stopped in time).
      this.#length += chunk.length;
      if (this.#isOverflowing || this.#failure !== null) return;
      if (this.#length > this.#maxMessageBytes) {
        // Stop here: destroying the stream ends the inflate loop before the
        // next output chunk, so the rest of a bomb is never expanded. The
        // promise settles once zlib has stopped (flush callback or close).
        this.#isOverflowing = true;
        this.#chunks = [];
        stream.destroy();
        return;
      }
      this.#chunks.push(chunk);
    });
    // Events of a stream replaced after BFINAL belong to no message.
    stream.on("error", (error: unknown) => {
      if (this.#stream === stream) this.#onFlushed(error);
    });
    stream.on("close", () => {
      if (this.#stream === stream) this.#onFlushed();
    });
    return stream;
  }

  #onFlushed = (error?: unknown): void => {
    if (this.#isOverflowing) {
      this.#fail(
        new FrameTooLargeError(
          this.#length,
          this.#maxMessageBytes,
          `Cannot inflate message as its length must be <= ${this.#maxMessageBytes}: current value is at least ${this.#length}`,
        ),
      );
      return;
    }
    // zlib hands a corrupt stream's error to the pending callbacks before it
    // emits "error".
    if (error !== undefined && error !== null) {
      this.#fail(this.#classify(error));
      return;
    }
    const pending = this.#pending;
    if (pending === null || this.#failure !== null) return;
    this.#pending = null;
    const out = concat(this.#chunks, this.#length);
    this.#chunks = [];
    this.#length = 0;
    if (this.#isStreamEnded) {
      this.#isStreamEnded = false;
      const ended = this.#stream;
      this.#stream = this.#openStream();
      ended?.close();
    }
    pending.resolve(out);
  };

  #fail(error: unknown): void {
    if (this.#failure === null) this.#failure = error;
    this.#chunks = [];
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(this.#failure);
  }

  #classify(error: unknown): Error {
    if (error instanceof RangeError) {
      return new FrameTooLargeError(
        this.#maxMessageBytes + 1,
        this.#maxMessageBytes,
        `Cannot inflate message as its length must be <= ${this.#maxMessageBytes}`,
      );
    }
    return new InvalidMessageError(
      `Cannot inflate message as its compressed data is corrupt: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
