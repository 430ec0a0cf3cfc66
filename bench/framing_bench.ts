/**
 * Benchmarks of the framing codecs: decoding a prepared stream cut into
 * chunks of 64 KiB, 1.5 KB and 1 B, and encoding messages in batches.
 *
 * Run: `deno bench -A bench/framing_bench.ts`. Each decode iteration handles
 * the whole stream (about 1 MiB); frames/s = frames per iteration / time per
 * iteration, as printed in each bench name.
 *
 * @module
 */

import type { FrameDecoder } from "../src/framing/codec.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../src/framing/create_codec.ts";
import { parseFramingSpec } from "../src/framing/spec.ts";

const STREAM_BYTES = 1024 * 1024;
const SPECS = [
  "u32be",
  "u16be",
  "varint",
  "lines",
  "u32be,offset=1,adjust=-5",
  "u32le,adjust=-4,whole",
];

/** Builds `count` messages of `size` bytes valid for `spec`. */
function messagesFor(spec: string, size: number, count: number): Uint8Array[] {
  const parsed = parseFramingSpec(spec);
  const messages: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const message = new Uint8Array(size);
    for (let j = 0; j < size; j++) message[j] = 0x20 + ((i + j) % 90);
    if (parsed.kind === "length" && parsed.whole) {
      // u32le,adjust=-4,whole: the length field counts the whole frame.
      new DataView(message.buffer).setUint32(0, size, true);
    }
    messages.push(message);
  }
  return messages;
}

interface Workload {
  stream: Uint8Array;
  frames: number;
  messages: Uint8Array[];
}

function workload(spec: string, payload: number): Workload {
  const parsed = parseFramingSpec(spec);
  const size = parsed.kind === "length" && parsed.whole ? payload + 4 : payload;
  const encoder = createFrameEncoder(parsed);
  const probe = encoder.frameLength(messagesFor(spec, size, 1)[0]!);
  const count = Math.max(1, Math.floor(STREAM_BYTES / probe));
  const messages = messagesFor(spec, size, count);
  const stream = new Uint8Array(count * probe);
  let at = 0;
  for (const message of messages) at += encoder.encodeInto(message, stream, at);
  return { stream, frames: count, messages };
}

function chunked(stream: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += size) {
    chunks.push(stream.slice(at, Math.min(at + size, stream.length)));
  }
  return chunks;
}

let sink = 0;
function onMessage(message: Uint8Array): void {
  sink += message.length;
}

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): void {
  for (const chunk of chunks) decoder.push(chunk, onMessage);
  decoder.finish();
}

const CASES: Array<{ payload: number; chunk: number; label: string }> = [
  { payload: 16, chunk: 64 * 1024, label: "16 B payloads, 64 KiB chunks" },
  {
    payload: 64 * 1024,
    chunk: 64 * 1024,
    label: "64 KiB payloads, 64 KiB chunks",
  },
  { payload: 16, chunk: 1500, label: "16 B payloads, 1.5 KB chunks" },
  { payload: 1024, chunk: 1500, label: "1 KiB payloads, 1.5 KB chunks" },
];

/** The specs that can carry `payload` bytes (u16be cannot carry 64 KiB). */
function specsFor(payload: number): string[] {
  return SPECS.filter((spec) => spec !== "u16be" || payload < 65536);
}

for (const { payload, chunk, label } of CASES) {
  for (const spec of specsFor(payload)) {
    const { stream, frames } = workload(spec, payload);
    const chunks = chunked(stream, chunk);
    const parsed = parseFramingSpec(spec);
    Deno.bench({
      name: `decode ${spec} (${frames} frames, ${stream.length} B)`,
      group: `decode ${label}`,
      baseline: spec === "u32be",
      fn(b) {
        const decoder = createFrameDecoder(parsed);
        b.start();
        decodeAll(decoder, chunks);
        b.end();
      },
    });
  }
}

{
  // 1-byte chunks: the worst case for the spanning paths.
  for (const spec of ["u32be", "varint", "lines", "u32be,offset=1,adjust=-5"]) {
    const { stream, frames } = workload(spec, 16);
    const chunks = chunked(stream.subarray(0, 64 * 1024), 1);
    const parsed = parseFramingSpec(spec);
    Deno.bench({
      name: `decode ${spec} (${Math.floor(frames / 16)} frames, 65536 B)`,
      group: "decode 16 B payloads, 1 B chunks",
      baseline: spec === "u32be",
      fn(b) {
        const decoder = createFrameDecoder(parsed);
        b.start();
        for (const piece of chunks) decoder.push(piece, onMessage);
        b.end();
      },
    });
  }
}

for (const payload of [16, 64 * 1024]) {
  for (const spec of specsFor(payload)) {
    const { stream, frames, messages } = workload(spec, payload);
    const encoder = createFrameEncoder(parseFramingSpec(spec));
    const target = new Uint8Array(stream.length);
    Deno.bench({
      name: `encodeInto ${spec} (${frames} frames, ${stream.length} B)`,
      group: `encode ${payload} B payloads into one buffer`,
      baseline: spec === "u32be",
      fn(b) {
        b.start();
        let at = 0;
        for (const message of messages) {
          encoder.frameLength(message);
          at += encoder.encodeInto(message, target, at);
        }
        b.end();
        sink += at;
      },
    });
  }
  for (const spec of ["u32be", "varint", "lines"]) {
    const { frames, messages } = workload(spec, payload);
    const encoder = createFrameEncoder(parseFramingSpec(spec));
    Deno.bench({
      name: `encode ${spec} (${frames} frames, new array each)`,
      group: `encode ${payload} B payloads, one array per frame`,
      baseline: spec === "u32be",
      fn(b) {
        b.start();
        for (const message of messages) sink += encoder.encode(message).length;
        b.end();
      },
    });
  }
}

Deno.bench({
  name: "sink keeps results alive",
  fn() {
    if (sink < 0) throw new Error("unreachable");
  },
});
