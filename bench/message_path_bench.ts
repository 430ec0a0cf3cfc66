/**
 * Benchmarks of the per-message work the relay does for small messages,
 * without sockets: a read of 64 masked 64-byte WebSocket frames parsed and
 * re-framed as `u32be` into a write batch (browser to backend), and a read of
 * 64 `u32be` frames decoded and framed as WebSocket messages (backend to
 * browser). This is the JavaScript share of `bench:load`'s small-message
 * workload; divide the time per iteration by 64 for the cost per message.
 *
 * Run: `deno bench -A bench/message_path_bench.ts`.
 *
 * @module
 */

import {
  encodeClientFrame,
  frameHeaderLength,
  Opcode,
  writeFrameHeader,
  WsFrameParser,
} from "../src/websocket/ws_frame_codec.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../src/framing/create_codec.ts";
import { parseFramingSpec } from "../src/framing/spec.ts";

const MESSAGES_PER_READ = 64;
const PAYLOAD = new Uint8Array(64).fill(0x41);
const BATCH_BYTES = 1 << 20;

const spec = parseFramingSpec("u32be");
const encoder = createFrameEncoder(spec);
const decoder = createFrameDecoder(spec);
const batch = new Uint8Array(BATCH_BYTES);
let batchEnd = 0;

const maskedRead = (() => {
  const frames = Array.from(
    { length: MESSAGES_PER_READ },
    () =>
      encodeClientFrame(Opcode.BINARY, PAYLOAD, {
        mask: new Uint8Array([1, 2, 3, 4]),
      }),
  );
  const read = new Uint8Array(frames.reduce((sum, f) => sum + f.length, 0));
  let at = 0;
  for (const frame of frames) {
    read.set(frame, at);
    at += frame.length;
  }
  return read;
})();
const backendRead = (() => {
  const frame = encoder.encode(PAYLOAD);
  const read = new Uint8Array(frame.length * MESSAGES_PER_READ);
  for (let i = 0; i < MESSAGES_PER_READ; i++) read.set(frame, i * frame.length);
  return read;
})();

// Unmasking is in place, so each iteration restores the masked read first.
const readBuffer = new Uint8Array(maskedRead.length);
const parser = new WsFrameParser({
  onMessage(_isText: boolean, payload: Uint8Array): void {
    encoder.frameLength(payload);
    batchEnd += encoder.encodeInto(payload, batch, batchEnd);
    if (batchEnd > BATCH_BYTES - 4096) batchEnd = 0;
  },
  onControl(): void {},
}, { expectMasked: true, scratchBytes: 128 * 1024 - 1 });

function sendToBrowser(message: Uint8Array): void {
  const headerLength = frameHeaderLength(message.length);
  writeFrameHeader(batch, batchEnd, Opcode.BINARY, message.length);
  batch.set(message, batchEnd + headerLength);
  batchEnd += headerLength + message.length;
  if (batchEnd > BATCH_BYTES - 4096) batchEnd = 0;
}

Deno.bench(
  "browser to backend: 64 masked frames of 64 B -> u32be batch",
  () => {
    readBuffer.set(maskedRead);
    parser.push(readBuffer);
  },
);

Deno.bench(
  "backend to browser: 64 u32be frames of 64 B -> WebSocket batch",
  () => {
    decoder.push(backendRead, sendToBrowser);
  },
);
