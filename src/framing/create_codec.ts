/**
 * Builds the {@linkcode FrameDecoder} and {@linkcode FrameEncoder} for a
 * {@linkcode FramingSpec}.
 *
 * @module
 */

import type {
  FrameDecoder,
  FrameDecoderOptions,
  FrameEncoder,
} from "./codec.ts";
import { LengthPrefixDecoder, LengthPrefixEncoder } from "./length_prefix.ts";
import { LinesDecoder, LinesEncoder } from "./lines.ts";
import { RawDecoder, RawEncoder } from "./raw.ts";
import type { FramingSpec } from "./spec.ts";
import { VarintDecoder, VarintEncoder } from "./varint.ts";

/**
 * Creates a decoder (TCP bytes to messages) for `spec`. Each decoder holds
 * the state of one stream.
 *
 * @param spec The framing, usually from `parseFramingSpec`.
 * @param options Scratch-buffer reuse for messages that span chunks.
 * @returns A new decoder.
 * @throws {FramingSpecError} When `spec` was built in code with a field out
 * of range.
 *
 * @example Usage
 * ```ts
 * import { createFrameDecoder } from "./create_codec.ts";
 * import { parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const decoder = createFrameDecoder(parseFramingSpec("u16be"));
 * const messages: Uint8Array[] = [];
 * decoder.push(new Uint8Array([0, 1, 42, 0]), (m) => messages.push(m));
 * assert.deepEqual(messages, [new Uint8Array([42])]);
 * assert.equal(decoder.pendingBytes, 1);
 * ```
 */
export function createFrameDecoder(
  spec: FramingSpec,
  options: FrameDecoderOptions = {},
): FrameDecoder {
  switch (spec.kind) {
    case "raw":
      return new RawDecoder(spec);
    case "lines":
      return new LinesDecoder(spec);
    case "varint":
      return new VarintDecoder(spec);
    case "length":
      return new LengthPrefixDecoder(spec, options);
  }
}

/**
 * Creates an encoder (messages to TCP bytes) for `spec`. Encoders hold no
 * per-stream state and may be shared.
 *
 * @param spec The framing, usually from `parseFramingSpec`.
 * @returns A new encoder.
 * @throws {FramingSpecError} When `spec` was built in code with a field out
 * of range.
 *
 * @example Usage
 * ```ts
 * import { createFrameEncoder } from "./create_codec.ts";
 * import { parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const encoder = createFrameEncoder(parseFramingSpec("u16be"));
 * assert.deepEqual(encoder.encode(new Uint8Array([42])), new Uint8Array([0, 1, 42]));
 * ```
 */
export function createFrameEncoder(spec: FramingSpec): FrameEncoder {
  switch (spec.kind) {
    case "raw":
      return new RawEncoder(spec);
    case "lines":
      return new LinesEncoder(spec);
    case "varint":
      return new VarintEncoder(spec);
    case "length":
      return new LengthPrefixEncoder(spec);
  }
}
