import assert from "node:assert/strict";
import {
  COPY_THRESHOLD_BYTES,
  createOutputWriter,
} from "../../src/session/output_writer.ts";
import { ReadBuffer } from "../../src/session/read_buffer.ts";
import { RecordingSink } from "./_recording_sink.ts";

const READ_BYTES = 256 * 1024;

Deno.test("createOutputWriter gives a source buffer lent by reference back to the source once written", async () => {
  const source = new ReadBuffer({ minBytes: READ_BYTES, maxBytes: READ_BYTES });
  const sink = new RecordingSink();
  sink.isHolding = true;
  const { writer, floor } = createOutputWriter(sink, { source });
  const lent = source.whole;
  floor!.reset();
  const piece = lent.subarray(0, COPY_THRESHOLD_BYTES);
  assert.equal(writer.append(piece), true);
  floor!.lend(piece);
  // The read is retained: the next read goes to another buffer.
  source.afterRead(COPY_THRESHOLD_BYTES, floor!.isRetained);
  assert.notEqual(source.whole.buffer, lent.buffer);
  writer.flush();
  sink.release();
  await writer.drained();
  // Written: the lent buffer is back in the source's pool, reused next.
  source.afterRead(COPY_THRESHOLD_BYTES, true);
  assert.equal(source.whole.buffer, lent.buffer);
});

Deno.test("createOutputWriter copies pieces below COPY_THRESHOLD_BYTES and queues larger ones by reference", async () => {
  const sink = new RecordingSink();
  const { writer, floor } = createOutputWriter(sink);
  assert.equal(floor, undefined);
  const small = new Uint8Array(COPY_THRESHOLD_BYTES - 1).fill(1);
  const large = new Uint8Array(COPY_THRESHOLD_BYTES).fill(2);
  assert.equal(writer.append(small), false);
  assert.equal(writer.append(large), true);
  // The small piece was copied: changing it now changes nothing sent.
  small.fill(9);
  writer.flush();
  await writer.drained();
  assert.equal(sink.bytes.length, 2 * COPY_THRESHOLD_BYTES - 1);
  assert.equal(sink.bytes.indexOf(9), -1);
  assert.ok(sink.references.some((bytes) => bytes.buffer === large.buffer));
});

Deno.test("createOutputWriter reports back-pressure above highWaterBytes, 1 MiB by default", async () => {
  for (
    const [highWaterBytes, limit] of [[undefined, 1024 * 1024], [
      300 * 1024,
      300 * 1024,
    ]] as const
  ) {
    const sink = new RecordingSink();
    sink.isHolding = true;
    const { writer } = createOutputWriter(
      sink,
      highWaterBytes === undefined ? {} : { highWaterBytes },
    );
    writer.append(new Uint8Array(limit));
    assert.equal(writer.isAboveHighWater, false, `${limit} pending`);
    writer.append(new Uint8Array(1));
    assert.equal(writer.isAboveHighWater, true, `${limit + 1} pending`);
    writer.flush();
    sink.release();
    await writer.drained();
  }
});

Deno.test("createOutputWriter reports a failed write once through onError", async () => {
  const errors: unknown[] = [];
  const failure = new Deno.errors.BrokenPipe("gone");
  const { writer } = createOutputWriter({
    write: () => Promise.reject(failure),
  }, { onError: (error) => errors.push(error) });
  writer.append(new Uint8Array([1]));
  writer.flush();
  await writer.drained();
  writer.append(new Uint8Array([2]));
  writer.flush();
  await writer.drained();
  assert.deepEqual(errors, [failure]);
  assert.equal(writer.hasFailed, true);
});
