import assert from "node:assert/strict";
import {
  BrowserOutput,
  MAX_SERVER_HEADER_BYTES,
} from "../../src/session/browser_output.ts";
import { COPY_THRESHOLD_BYTES } from "../../src/session/output_writer.ts";
import { ReadBuffer } from "../../src/session/read_buffer.ts";
import { InvalidMessageError } from "../../src/errors.ts";
import { RecordingSink } from "./_recording_sink.ts";

Deno.test("BrowserOutput frames a binary message with a 16-bit length", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink);
  output.sendMessage(new Uint8Array(200).fill(7));
  output.flush();
  await output.writer.drained();
  const bytes = sink.bytes;
  assert.deepEqual([...bytes.subarray(0, 4)], [0x82, 126, 0, 200]);
  assert.equal(bytes.length, 204);
  assert.ok(bytes.subarray(4).every((byte) => byte === 7));
});

Deno.test("BrowserOutput refuses a text message that is not UTF-8 and queues nothing of it", () => {
  const output = new BrowserOutput(new RecordingSink(), { isText: true });
  assert.throws(
    () => output.sendMessage(new Uint8Array([0x68, 0xff])),
    InvalidMessageError,
  );
  assert.equal(output.writer.pendingBytes, 0);
});

Deno.test("BrowserOutput frames a large message in place in its source read buffer: one write, no copy", async () => {
  const source = new ReadBuffer({
    minBytes: 512 * 1024,
    maxBytes: 512 * 1024,
    headroomBytes: MAX_SERVER_HEADER_BYTES,
  });
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink, { source });
  const length = COPY_THRESHOLD_BYTES + 5;
  // As a decoder would hand it over: a view of the read, after a 4-byte
  // length prefix of its own.
  const message = source.bytes.subarray(4, 4 + length).fill(9);
  output.beginRead();
  output.sendMessage(message);
  assert.equal(output.isReadRetained, true);
  output.flush();
  await output.writer.drained();
  assert.equal(sink.references.length, 1);
  const written = sink.references[0]!;
  assert.equal(written.buffer, source.whole.buffer);
  assert.equal(written.length, 10 + length);
  assert.deepEqual([...sink.copies[0]!.subarray(0, 2)], [0x82, 127]);
  output.beginRead();
  assert.equal(output.isReadRetained, false);
});

Deno.test("BrowserOutput sends a large message from elsewhere by reference after its header", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink, {
    source: new ReadBuffer({ headroomBytes: MAX_SERVER_HEADER_BYTES }),
  });
  const message = new Uint8Array(COPY_THRESHOLD_BYTES).fill(3);
  output.sendMessage(message);
  output.flush();
  await output.writer.drained();
  assert.ok(sink.references.includes(message));
  assert.equal(sink.bytes.length, 10 + COPY_THRESHOLD_BYTES);
  assert.equal(output.isReadRetained, true);
});

Deno.test("BrowserOutput sends an empty ping and answers a ping with the same payload", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink);
  output.ping();
  output.answerPing(new Uint8Array([1, 2]));
  await output.writer.drained();
  assert.deepEqual([...sink.bytes], [0x89, 0, 0x8a, 2, 1, 2]);
});

Deno.test("BrowserOutput answers only the latest ping once a congested queue drains", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink, { highWaterBytes: 1000 });
  sink.isHolding = true;
  output.sendMessage(new Uint8Array(2000));
  output.flush();
  assert.equal(output.writer.isAboveHighWater, true);
  for (let ping = 1; ping <= 3; ping++) {
    output.answerPing(new Uint8Array([ping]));
  }
  const writesBefore = sink.copies.length;
  sink.release();
  await output.writer.drained();
  const pongs = sink.copies.slice(writesBefore).filter((chunk) =>
    chunk[0] === 0x8a
  );
  assert.deepEqual(pongs.map((chunk) => [...chunk]), [[0x8a, 1, 3]]);
});

Deno.test("BrowserOutput sends nothing after its close frame, not even a pong", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink);
  output.sendClose(1001, "bye");
  output.answerPing(new Uint8Array([1]));
  await output.writer.drained();
  assert.deepEqual(
    [...sink.bytes],
    [0x88, 5, 0x03, 0xe9, ...new TextEncoder().encode("bye")],
  );
  assert.equal(output.isCloseSent, true);
  assert.equal(output.isFinished, true);
});

Deno.test("BrowserOutput.stop drops what is queued and finishes the output", () => {
  const sink = new RecordingSink();
  sink.isHolding = true;
  const output = new BrowserOutput(sink);
  output.sendMessage(new Uint8Array(10));
  output.stop();
  assert.equal(output.writer.pendingBytes, 0);
  assert.equal(output.isFinished, true);
  sink.release();
});

Deno.test("BrowserOutput sends a ping ahead of queued data and reports when it reached the socket", async () => {
  const sink = new RecordingSink();
  sink.isHolding = true;
  const output = new BrowserOutput(sink);
  output.sendMessage(Uint8Array.of(1));
  output.flush(); // in flight
  output.sendMessage(Uint8Array.of(2));
  let isWritten = false;
  output.ping(() => isWritten = true);
  assert.equal(isWritten, false);
  sink.release();
  await output.writer.drained();
  assert.deepEqual([...sink.bytes], [0x82, 1, 1, 0x89, 0, 0x82, 1, 2]);
  assert.equal(isWritten, true);
});

Deno.test("BrowserOutput.sendCompressed sets RSV1 on one data frame, small ones copied and large ones with a 64-bit length", async () => {
  const sink = new RecordingSink();
  const output = new BrowserOutput(sink, { isText: true });
  // RFC 7692 section 7.2.3.1: "Hello" compressed, as a text frame.
  output.sendCompressed(
    new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
  );
  const large = new Uint8Array(COPY_THRESHOLD_BYTES + 3).fill(9);
  output.sendCompressed(large);
  output.flush();
  await output.writer.drained();
  const bytes = sink.bytes;
  assert.deepEqual(
    [...bytes.subarray(0, 9)],
    [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
  );
  const length = large.length;
  assert.deepEqual(
    [...bytes.subarray(9, 19)],
    [0xc1, 127, 0, 0, 0, 0, 0, length >> 16, (length >> 8) & 255, length & 255],
  );
  assert.equal(bytes.length, 19 + length);
});

Deno.test("BrowserOutput never puts a ping between a large frame's header and its body", async () => {
  for (const send of ["sendMessage", "sendCompressed"] as const) {
    const sink = new RecordingSink();
    sink.isHolding = true;
    const output = new BrowserOutput(sink);
    const body = new Uint8Array(COPY_THRESHOLD_BYTES).fill(7);
    output[send](body);
    output.flush(); // the header is in flight, the body queued behind it
    output.ping();
    sink.release();
    await output.writer.drained();
    const bytes = sink.bytes;
    assert.equal(bytes.length, 10 + COPY_THRESHOLD_BYTES + 2, send);
    assert.deepEqual([...bytes.subarray(bytes.length - 2)], [0x89, 0], send);
  }
});
