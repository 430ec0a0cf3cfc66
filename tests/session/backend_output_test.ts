import assert from "node:assert/strict";
import { BackendOutput } from "../../src/session/backend_output.ts";
import { COPY_THRESHOLD_BYTES } from "../../src/session/output_writer.ts";
import { ReadBuffer } from "../../src/session/read_buffer.ts";
import { createFrameEncoder } from "../../src/framing/create_codec.ts";
import { parseFramingSpec } from "../../src/framing/spec.ts";
import { FrameTooLargeError } from "../../src/errors.ts";
import { RecordingSink } from "./_recording_sink.ts";

function encoderFor(spec: string) {
  return createFrameEncoder(parseFramingSpec(spec));
}

Deno.test("BackendOutput frames small messages with the route's encoder into one write", async () => {
  const sink = new RecordingSink();
  const output = new BackendOutput(sink, encoderFor("u16be"));
  output.sendMessage(new Uint8Array([1]));
  output.sendMessage(new Uint8Array([2, 3]));
  output.flush();
  await output.writer.drained();
  assert.deepEqual(sink.copies.map((chunk) => [...chunk]), [
    [0, 1, 1, 0, 2, 2, 3],
  ]);
});

Deno.test("BackendOutput validates before queueing: a message too large for the framing queues nothing", () => {
  const output = new BackendOutput(new RecordingSink(), encoderFor("u8"));
  assert.throws(
    () => output.sendMessage(new Uint8Array(300)),
    FrameTooLargeError,
  );
  assert.equal(output.writer.pendingBytes, 0);
});

Deno.test("BackendOutput frames a large message in place in its source read buffer: one write, no copy", async () => {
  const source = new ReadBuffer({ minBytes: 512 * 1024, maxBytes: 512 * 1024 });
  const sink = new RecordingSink();
  const output = new BackendOutput(sink, encoderFor("u32be"), { source });
  const length = COPY_THRESHOLD_BYTES + 1;
  // As the WebSocket parser hands it over: after a 10-byte frame header.
  const message = source.bytes.subarray(10, 10 + length).fill(5);
  output.beginRead();
  output.sendMessage(message);
  assert.equal(output.isReadRetained, true);
  output.flush();
  await output.writer.drained();
  assert.equal(sink.references.length, 1);
  assert.equal(sink.references[0]!.buffer, source.whole.buffer);
  const head = new DataView(sink.copies[0]!.buffer).getUint32(0);
  assert.equal(head, length);
  assert.equal(sink.bytes.length, 4 + length);
});

Deno.test("BackendOutput sends a large line-framed message as head, body by reference, then its trailer", async () => {
  const sink = new RecordingSink();
  const output = new BackendOutput(sink, encoderFor("lines"), {
    source: new ReadBuffer(),
  });
  const message = new Uint8Array(COPY_THRESHOLD_BYTES).fill(0x61);
  output.sendMessage(message);
  output.flush();
  await output.writer.drained();
  assert.ok(sink.references.some((part) => part.buffer === message.buffer));
  const bytes = sink.bytes;
  assert.equal(bytes.length, COPY_THRESHOLD_BYTES + 1);
  assert.equal(bytes[bytes.length - 1], 0x0a);
});

Deno.test("BackendOutput.sendHeartbeat frames the heartbeat and writes it at once", async () => {
  const sink = new RecordingSink();
  const output = new BackendOutput(sink, encoderFor("u8"));
  output.sendHeartbeat(new Uint8Array([0x68]));
  await output.writer.drained();
  assert.deepEqual([...sink.bytes], [1, 0x68]);
});
