/**
 * Property tests of the framing codecs: random specs, random frames built by
 * hand as the wire lays them out, random chunkings. Each step is named after
 * its seed; set WSGATE_SEED to replay one.
 */

import assert from "node:assert/strict";
import { assertBytesEqual } from "../_util/assert.ts";
import {
  FrameTooLargeError,
  MalformedFrameError,
  TruncatedFrameError,
} from "../../src/errors.ts";
import type { FrameDecoder } from "../../src/framing/codec.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../../src/framing/create_codec.ts";
import {
  formatFramingSpec,
  type FramingSpec,
  type LengthFramingSpec,
  maxMessageBytes,
  parseFramingSpec,
} from "../../src/framing/spec.ts";
import { Prng, testSeeds } from "../_util/prng.ts";

const SEEDS = testSeeds([1, 0xc0ffee, 20240601]);
const SPECS_PER_SEED = 150;
const FRAMES_PER_SPEC = 24;
const CHUNKINGS_PER_STREAM = 4;
const GARBAGE_STREAMS_PER_SEED = 300;

/** Runs `body` and names the seed in any failure so it can be replayed. */
async function withSeed(
  t: Deno.TestContext,
  body: (prng: Prng, seed: number) => void,
): Promise<void> {
  for (const seed of SEEDS) {
    await t.step(`seed=${seed}`, () => {
      try {
        body(new Prng(seed), seed);
      } catch (error) {
        throw new Error(
          `Property failed with seed ${seed}: replay with WSGATE_SEED=${seed}`,
          { cause: error },
        );
      }
    });
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A random spec, built as text so the parser is exercised too. */
function randomSpec(prng: Prng): FramingSpec {
  const options: string[] = [];
  const kind = prng.pick(["lines", "varint", "length", "length", "length"]);
  let base: string;
  let smallest = 0;
  if (kind === "lines") {
    base = "lines";
    if (prng.chance(0.5)) options.push("crlf");
  } else if (kind === "varint") {
    base = "varint";
  } else {
    const width = prng.pick([1, 2, 3, 4, 8]);
    base = `u${width * 8}${width === 1 ? "" : prng.pick(["be", "le"])}`;
    const offset = prng.chance(0.35) ? prng.int(1, 9) : 0;
    const whole = prng.chance(0.4);
    const adjust = prng.chance(0.5) ? prng.int(-(offset + width + 3), 12) : 0;
    if (offset !== 0) options.push(`offset=${offset}`);
    if (adjust !== 0) options.push(`adjust=${adjust}`);
    if (whole) options.push("whole");
    smallest = (whole ? offset + width : offset) + Math.max(0, adjust);
  }
  if (prng.chance(0.5)) {
    options.push(`max=${prng.int(smallest + 1, smallest + 400)}`);
  }
  if (prng.chance(0.2)) options.push("text");
  // Option order does not matter.
  for (let i = options.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [options[i], options[j]] = [options[j]!, options[i]!];
  }
  const spec = parseFramingSpec([base, ...options].join(","));
  assert.deepEqual(parseFramingSpec(formatFramingSpec(spec)), spec);
  return spec;
}

/** A random length in [low, high], mostly small, sometimes exactly high. */
function randomSize(prng: Prng, low: number, high: number): number {
  const roll = prng.float();
  if (roll < 0.08 && high - low <= 5000) return high;
  if (roll < 0.16) return low;
  if (roll < 0.26) return prng.int(low, Math.min(high, low + 3000));
  return prng.int(low, Math.min(high, low + 40));
}

/** Bytes with many `\r` and `\n` so delimiters get exercised. */
function lineBytes(prng: Prng, size: number, crlf: boolean): Uint8Array {
  const line = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const roll = prng.float();
    line[i] = roll < 0.15 ? 0x0d : roll < 0.3 ? 0x0a : prng.int(0, 255);
    // A message never contains its delimiter.
    if (!crlf && line[i] === 0x0a) line[i] = 0x78;
    if (crlf && line[i] === 0x0a && i > 0 && line[i - 1] === 0x0d) {
      line[i] = 0x78;
    }
  }
  return line;
}

function writeUint(
  target: Uint8Array,
  at: number,
  value: number,
  width: number,
  littleEndian: boolean,
): void {
  let rest = value;
  for (let i = 0; i < width; i++) {
    const byte = rest % 256;
    rest = Math.floor(rest / 256);
    target[littleEndian ? at + i : at + width - 1 - i] = byte;
  }
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** One frame as the wire lays it out, and the message it carries. */
interface Sample {
  frame: Uint8Array;
  message: Uint8Array;
}

/** Builds a random valid frame by hand, independently of the encoder. */
function randomSample(prng: Prng, spec: FramingSpec): Sample {
  const max = maxMessageBytes(spec);
  switch (spec.kind) {
    case "lines": {
      const message = lineBytes(prng, randomSize(prng, 0, max), spec.crlf);
      const frame = concat([
        message,
        spec.crlf ? new Uint8Array([13, 10]) : new Uint8Array([10]),
      ]);
      return { frame, message };
    }
    case "varint": {
      const message = prng.bytes(randomSize(prng, 0, max));
      return {
        frame: concat([new Uint8Array(varintBytes(message.length)), message]),
        message,
      };
    }
    case "raw":
      throw new Error("raw has no frames");
    case "length":
      return randomLengthSample(prng, spec, max);
  }
}

function randomLengthSample(
  prng: Prng,
  spec: LengthFramingSpec,
  max: number,
): Sample {
  const { width, littleEndian, offset, adjust, whole } = spec;
  const header = offset + width;
  const kept = whole ? header : offset;
  const messageSize = randomSize(prng, kept + Math.max(0, adjust), max);
  const rest = messageSize - kept;
  const frame = prng.bytes(header + rest);
  writeUint(frame, offset, rest - adjust, width, littleEndian);
  const message = whole
    ? frame
    : concat([frame.subarray(0, offset), frame.subarray(header)]);
  return { frame, message };
}

/** Cuts `stream` into chunks: one, all 1-byte, or at random points. */
function randomChunking(
  prng: Prng,
  stream: Uint8Array,
  mode: number,
): Uint8Array[] {
  if (mode === 0) return [stream.slice()];
  if (mode === 1 && stream.length <= 4000) {
    return [...stream].map((b) => new Uint8Array([b]));
  }
  const chunks: Uint8Array[] = [];
  let at = 0;
  const typical = prng.pick([2, 7, 64, 1500]);
  for (let i = 0; at < stream.length && i <= stream.length; i++) {
    const size = prng.chance(0.1) ? 0 : prng.int(1, typical);
    chunks.push(stream.slice(at, at + size));
    at += size;
  }
  if (at < stream.length) chunks.push(stream.slice(at));
  return chunks;
}

interface DecodeResult {
  messages: Uint8Array[];
  error: unknown;
  pendingBytes: number;
}

function decodeChunks(
  decoder: FrameDecoder,
  chunks: Uint8Array[],
): DecodeResult {
  const messages: Uint8Array[] = [];
  try {
    for (const chunk of chunks) {
      decoder.push(chunk, (m) => messages.push(m.slice()));
    }
  } catch (error) {
    return { messages, error, pendingBytes: decoder.pendingBytes };
  }
  return { messages, error: undefined, pendingBytes: decoder.pendingBytes };
}

Deno.test("FrameDecoder yields the exact messages of hand-built frames for every chunking", async (t) => {
  await withSeed(t, (prng) => {
    for (let s = 0; s < SPECS_PER_SEED; s++) {
      const spec = randomSpec(prng);
      const name = formatFramingSpec(spec);
      const encoder = createFrameEncoder(spec);
      const samples: Sample[] = [];
      const count = prng.int(0, FRAMES_PER_SPEC);
      for (let i = 0; i < count; i++) samples.push(randomSample(prng, spec));
      const stream = concat(samples.map((s) => s.frame));
      const expected = samples.map((s) => s.message);
      for (const { frame, message } of samples) {
        // encode(decode(f)) == f, byte for byte.
        assert.deepEqual(encoder.encode(message), frame, name);
        assert.equal(encoder.frameLength(message), frame.length, name);
      }
      for (let mode = 0; mode < CHUNKINGS_PER_STREAM; mode++) {
        const decoder = createFrameDecoder(spec);
        const result = decodeChunks(
          decoder,
          randomChunking(prng, stream, mode),
        );
        assert.equal(result.error, undefined, name);
        assert.deepEqual(
          result.messages,
          expected,
          `${name}, chunking ${mode}`,
        );
        assert.equal(result.pendingBytes, 0, name);
        decoder.finish();
      }
    }
  });
});

Deno.test("FrameDecoder.finish reports the bytes of a stream cut inside a frame", async (t) => {
  await withSeed(t, (prng) => {
    for (let s = 0; s < SPECS_PER_SEED; s++) {
      const spec = randomSpec(prng);
      const name = formatFramingSpec(spec);
      const samples: Sample[] = [];
      for (let i = prng.int(1, 6); i > 0; i--) {
        samples.push(randomSample(prng, spec));
      }
      const stream = concat(samples.map((s) => s.frame));
      const last = samples[samples.length - 1]!;
      if (last.frame.length < 2) continue; // a 1-byte frame cannot be cut
      const lastStart = stream.length - last.frame.length;
      const cutAt = prng.int(lastStart + 1, stream.length - 1);
      const decoder = createFrameDecoder(spec);
      const result = decodeChunks(
        decoder,
        randomChunking(prng, stream.subarray(0, cutAt), prng.int(0, 2)),
      );
      assert.equal(result.error, undefined, name);
      assert.deepEqual(
        result.messages,
        samples.slice(0, -1).map((s) => s.message),
        name,
      );
      assert.equal(result.pendingBytes, cutAt - lastStart, name);
      assert.throws(
        () => decoder.finish(),
        (error) =>
          error instanceof TruncatedFrameError &&
          error.pendingBytes === cutAt - lastStart,
        name,
      );
    }
  });
});

Deno.test("FrameDecoder treats garbage the same for every chunking and never loses bytes", async (t) => {
  await withSeed(t, (prng) => {
    for (let s = 0; s < GARBAGE_STREAMS_PER_SEED; s++) {
      const spec = randomSpec(prng);
      const name = formatFramingSpec(spec);
      const encoder = createFrameEncoder(spec);
      const parts: Uint8Array[] = [];
      for (let i = prng.int(1, 8); i > 0; i--) {
        parts.push(
          prng.chance(0.5)
            ? randomSample(prng, spec).frame
            : prng.bytes(prng.int(1, 12)),
        );
      }
      const stream = concat(parts);
      let reference: DecodeResult | undefined;
      for (let mode = 0; mode < CHUNKINGS_PER_STREAM; mode++) {
        const result = decodeChunks(
          createFrameDecoder(spec),
          randomChunking(prng, stream, mode),
        );
        if (result.error !== undefined) {
          assert.ok(
            result.error instanceof MalformedFrameError ||
              result.error instanceof FrameTooLargeError,
            `${name}: ${result.error}`,
          );
        } else {
          // What was decoded re-encodes to exactly the bytes consumed.
          const consumed = stream.subarray(
            0,
            stream.length - result.pendingBytes,
          );
          assert.deepEqual(
            concat(result.messages.map((m) => encoder.encode(m))),
            consumed,
            name,
          );
        }
        if (reference === undefined) {
          reference = result;
          continue;
        }
        assert.equal(
          result.error?.constructor,
          reference.error?.constructor,
          name,
        );
        // Frames before a bad header decode the same whatever the chunking.
        assert.deepEqual(result.messages, reference.messages, name);
      }
    }
  });
});

Deno.test("RawDecoder passes every byte on in order, within max, for every chunking", async (t) => {
  await withSeed(t, (prng) => {
    for (let s = 0; s < SPECS_PER_SEED; s++) {
      const text = prng.chance(0.5);
      const max = prng.int(4, 200);
      const spec = parseFramingSpec(`raw,max=${max}${text ? ",text" : ""}`);
      const source = text
        ? new TextEncoder().encode(
          Array.from({ length: prng.int(0, 300) }, () =>
            prng.pick(["a", "é", "€", "😀", "\n"])).join(""),
        )
        : prng.bytes(prng.int(0, 1000));
      const decoder = createFrameDecoder(spec);
      const result = decodeChunks(
        decoder,
        randomChunking(prng, source, prng.int(0, 3)),
      );
      assert.equal(result.error, undefined);
      decoder.finish();
      assertBytesEqual(concat(result.messages), source);
      for (const message of result.messages) {
        assert.ok(message.length > 0 && message.length <= max);
        if (text) new TextDecoder("utf-8", { fatal: true }).decode(message);
      }
    }
  });
});
