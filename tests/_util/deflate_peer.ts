/**
 * The browser's half of permessage-deflate for raw-client tests, written
 * straight on `node:zlib` (independent of src/websocket/message_deflate.ts):
 * compresses messages the way a client does (sync flush, tail removed) and
 * inflates the server's, with or without context takeover and with a given
 * window.
 *
 * @module
 */

import zlib from "node:zlib";
import { concat } from "./backends.ts";

const TAIL = [0x00, 0x00, 0xff, 0xff];
const SYNC = zlib.constants.Z_SYNC_FLUSH;

/** Options of {@linkcode DeflatePeer}. */
export interface DeflatePeerOptions {
  /** The client keeps its compression context between messages. @default {true} */
  clientContextTakeover?: boolean;
  /** The server keeps its compression context between messages. @default {true} */
  serverContextTakeover?: boolean;
  /** The client's LZ77 window bits (9-15). @default {15} */
  clientWindowBits?: number;
  /** The server's LZ77 window bits (9-15) the inflater accepts. @default {15} */
  serverWindowBits?: number;
}

type Stream = zlib.DeflateRaw | zlib.InflateRaw;

/** Writes `input` into `stream`, sync-flushes and returns what came out. */
function pass(stream: Stream, input: Uint8Array): Promise<Uint8Array> {
  // zlib may report one failure more than once; only the first one counts.
  if (stream.listenerCount("error") === 0) stream.on("error", () => {});
  const chunks: Uint8Array[] = [];
  const onData = (chunk: Uint8Array) => chunks.push(chunk);
  stream.on("data", onData);
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.write(input);
    stream.flush(SYNC, () => {
      stream.off("data", onData);
      stream.off("error", reject);
      resolve(concat(chunks));
    });
  });
}

/**
 * One client's compression state.
 *
 * @example Round trip through a server that compresses the same way
 * ```ts
 * import { DeflatePeer } from "./deflate_peer.ts";
 * import assert from "node:assert/strict";
 * await using peer = new DeflatePeer();
 * const bytes = new TextEncoder().encode("Hello");
 * const payload = await peer.compress(bytes);
 * assert.deepEqual(payload, new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
 * assert.deepEqual(await peer.inflate(payload), bytes);
 * ```
 */
export class DeflatePeer implements AsyncDisposable {
  #options: Required<DeflatePeerOptions>;
  #deflater: zlib.DeflateRaw | undefined;
  #inflater: zlib.InflateRaw | undefined;

  /** @param options The agreed parameters, seen from the client. */
  constructor(options: DeflatePeerOptions = {}) {
    const {
      clientContextTakeover = true,
      serverContextTakeover = true,
      clientWindowBits = 15,
      serverWindowBits = 15,
    } = options;
    this.#options = {
      clientContextTakeover,
      serverContextTakeover,
      clientWindowBits,
      serverWindowBits,
    };
  }

  /**
   * Compresses one message as a client sends it (RSV1 payload).
   * @param message The message bytes.
   * @returns The payload without the `00 00 ff ff` tail.
   */
  async compress(message: Uint8Array): Promise<Uint8Array> {
    const stream = this.#deflater ??= zlib.createDeflateRaw({
      windowBits: this.#options.clientWindowBits,
    });
    const out = await pass(stream, message);
    if (!this.#options.clientContextTakeover) {
      stream.close();
      this.#deflater = undefined;
    }
    return out.subarray(0, out.length - TAIL.length);
  }

  /**
   * Inflates one compressed message from the server.
   * @param payload The RSV1 message payload (fragments joined).
   * @returns The message bytes.
   */
  async inflate(payload: Uint8Array): Promise<Uint8Array> {
    const stream = this.#inflater ??= zlib.createInflateRaw({
      windowBits: this.#options.serverWindowBits,
    });
    const out = await pass(stream, new Uint8Array([...payload, ...TAIL]));
    if (!this.#options.serverContextTakeover) {
      stream.close();
      this.#inflater = undefined;
    }
    return out;
  }

  /** Frees the zlib streams. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = undefined;
    this.#inflater = undefined;
    return Promise.resolve();
  }
}
