import assert from "node:assert/strict";
import {
  type ByteSink,
  SocketWriter,
} from "../../src/session/socket_writer.ts";

/** One write call seen by a {@linkcode ManualSink}. */
interface WriteCall {
  /** The array the writer passed (by reference). */
  bytes: Uint8Array;
  /** A copy taken when the call was made. */
  copy: Uint8Array;
  /** Completes the call, reporting `count` bytes written. */
  complete(count?: number): void;
  /** Fails the call. */
  fail(error: unknown): void;
}

/** A sink whose every write waits until the test completes it. */
class ManualSink implements ByteSink {
  calls: WriteCall[] = [];
  written: number[] = [];
  #taken = 0;
  #waiters: (() => void)[] = [];

  write(bytes: Uint8Array): Promise<number> {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const copy = bytes.slice();
    this.calls.push({
      bytes,
      copy,
      complete: (count = bytes.length) => {
        this.written.push(...copy.subarray(0, count));
        resolve(count);
      },
      fail: reject,
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
    return promise;
  }

  /** Resolves with the next write call not yet taken. */
  async nextCall(): Promise<WriteCall> {
    for (let i = 0; i < 1000 && this.calls.length <= this.#taken; i++) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const call = this.calls[this.#taken++];
    assert.ok(call !== undefined, "no write call arrived");
    return call;
  }
}

/** A sink that completes at once, at most `maxPerWrite` bytes per call. */
class ImmediateSink implements ByteSink {
  calls: Uint8Array[] = [];
  references: Uint8Array[] = [];
  written: Uint8Array[] = [];
  #maxPerWrite: number;

  constructor(maxPerWrite = Infinity) {
    this.#maxPerWrite = maxPerWrite;
  }

  write(bytes: Uint8Array): Promise<number> {
    const count = Math.min(bytes.length, this.#maxPerWrite);
    this.references.push(bytes);
    this.calls.push(bytes.slice());
    this.written.push(bytes.slice(0, count));
    return Promise.resolve(count);
  }

  get all(): Uint8Array {
    return concat(this.written);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/** Tracks whether a promise has settled. */
function track(promise: Promise<void>): { isDone: () => boolean } {
  let done = false;
  promise.then(() => done = true);
  return { isDone: () => done };
}

Deno.test("SocketWriter batches small pieces into one socket write", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink);
  assert.equal(writer.append(new Uint8Array([1])), false);
  assert.equal(writer.append(new Uint8Array([2, 3])), false);
  assert.equal(writer.append(new Uint8Array([4])), false);
  assert.equal(writer.pendingBytes, 4);
  writer.flush();
  await writer.drained();
  assert.deepEqual(sink.calls, [new Uint8Array([1, 2, 3, 4])]);
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("SocketWriter queues a piece of at least copyThresholdBytes by reference", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 100 });
  const large = filled(100, 7);
  assert.equal(writer.append(filled(99, 1)), false);
  assert.equal(writer.append(large), true);
  await writer.drained();
  assert.equal(sink.references.length, 2);
  assert.equal(sink.references[1], large);
});

Deno.test("SocketWriter keeps the order of copied and by-reference pieces", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 16 });
  const a = filled(3, 0xa);
  const l1 = filled(20, 0x1);
  const b = filled(4, 0xb);
  const c = filled(5, 0xc);
  const l2 = filled(30, 0x2);
  const d = filled(1, 0xd);
  for (const piece of [a, l1, b, c, l2, d]) writer.append(piece);
  writer.flush();
  await writer.drained();
  assert.deepEqual(sink.calls, [a, l1, concat([b, c]), l2, d]);
  assert.equal(sink.references[1], l1);
  assert.equal(sink.references[3], l2);
});

Deno.test("SocketWriter keeps the order of pieces appended while a write is in flight", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 16 });
  const a = filled(5, 0xa);
  const large = filled(20, 0x1);
  const b = filled(3, 0xb);
  const c = filled(2, 0xc);
  writer.append(a);
  writer.flush();
  const first = await sink.nextCall();
  assert.deepEqual(first.copy, a);
  writer.append(large);
  writer.append(b);
  writer.append(c);
  writer.flush(); // Already writing: must not start a second loop.
  assert.deepEqual(first.bytes, a, "in-flight bytes were overwritten");
  first.complete();
  const second = await sink.nextCall();
  assert.equal(second.bytes, large);
  second.complete();
  const third = await sink.nextCall();
  assert.deepEqual(third.copy, concat([b, c]));
  third.complete();
  await writer.drained();
  assert.equal(sink.calls.length, 3);
  assert.deepEqual(
    new Uint8Array(sink.written),
    concat([a, large, b, c]),
  );
});

Deno.test("SocketWriter never overwrites an in-flight batch while appends grow the batch", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 16384 });
  const first = filled(1000, 0x11);
  writer.append(first);
  writer.flush();
  const call = await sink.nextCall();
  const expected: Uint8Array[] = [first];
  // Small pieces totalling more than the first batch buffer's capacity.
  for (let i = 0; i < 40; i++) {
    const piece = filled(500, 0x20 + i);
    expected.push(piece);
    writer.append(piece);
  }
  assert.deepEqual(call.bytes, first, "in-flight bytes were overwritten");
  call.complete();
  const total = 1000 + 40 * 500;
  for (let guard = 0; guard < 100 && sink.written.length < total; guard++) {
    (await sink.nextCall()).complete();
  }
  await writer.drained();
  assert.deepEqual(new Uint8Array(sink.written), concat(expected));
});

Deno.test("SocketWriter finishes partial writes from a sink that writes 1 byte at a time", async () => {
  const sink = new ImmediateSink(1);
  const writer = new SocketWriter(sink, { copyThresholdBytes: 64 });
  const pieces = [
    filled(10, 1),
    filled(100, 2),
    filled(3, 3),
    filled(64, 4),
    filled(1, 5),
  ];
  for (const piece of pieces) writer.append(piece);
  writer.flush();
  await writer.drained();
  const total = pieces.reduce((sum, p) => sum + p.length, 0);
  assert.deepEqual(sink.all, concat(pieces));
  assert.equal(sink.calls.length, total);
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("SocketWriter counts the unwritten rest of a partial write as pending", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 16 });
  writer.append(filled(100, 9));
  writer.flush();
  const first = await sink.nextCall();
  assert.equal(writer.pendingBytes, 100);
  first.complete(30);
  const rest = await sink.nextCall();
  assert.equal(rest.bytes.length, 70);
  assert.equal(writer.pendingBytes, 70);
  rest.complete();
  await writer.drained();
  assert.equal(writer.pendingBytes, 0);
  assert.deepEqual(new Uint8Array(sink.written), filled(100, 9));
});

Deno.test("SocketWriter reports high water and resolves belowLowWater only at the low-water mark", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, {
    highWaterBytes: 100,
    lowWaterBytes: 25,
    copyThresholdBytes: 16,
  });
  for (let i = 0; i < 4; i++) writer.append(filled(40, i));
  assert.equal(writer.pendingBytes, 160);
  assert.equal(writer.isAboveHighWater, true);
  const belowLow = track(writer.belowLowWater());
  const drained = track(writer.drained()); // Also starts writing.
  const pendingAtCall: number[] = [];
  for (let i = 0; i < 4; i++) {
    const call = await sink.nextCall();
    pendingAtCall.push(writer.pendingBytes);
    assert.equal(belowLow.isDone(), false, `resolved early before call ${i}`);
    call.complete();
  }
  await writer.belowLowWater();
  await writer.drained();
  assert.equal(belowLow.isDone(), true);
  assert.equal(drained.isDone(), true);
  assert.equal(writer.isAboveHighWater, false);
  assert.deepEqual(pendingAtCall, [160, 120, 80, 40]);
});

Deno.test("SocketWriter resolves belowLowWater once pending bytes reach the low-water mark exactly", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, {
    highWaterBytes: 100,
    copyThresholdBytes: 1,
  });
  // Default lowWaterBytes is highWaterBytes / 4 = 25.
  writer.append(filled(101, 1));
  writer.append(filled(25, 2));
  assert.equal(writer.isAboveHighWater, true);
  const belowLow = track(writer.belowLowWater());
  writer.flush();
  const first = await sink.nextCall();
  assert.equal(belowLow.isDone(), false);
  first.complete();
  const second = await sink.nextCall();
  assert.equal(writer.pendingBytes, 25);
  assert.equal(belowLow.isDone(), true);
  second.complete();
  await writer.drained();
});

Deno.test("SocketWriter belowLowWater and drained resolve at once when nothing is pending", async () => {
  const writer = new SocketWriter(new ManualSink());
  await writer.belowLowWater();
  await writer.drained();
  assert.equal(writer.isAboveHighWater, false);
});

Deno.test("SocketWriter.drained starts writing what was appended but not flushed", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink);
  writer.append(new Uint8Array([1, 2]));
  assert.equal(sink.calls.length, 0);
  await writer.drained();
  assert.deepEqual(sink.calls, [new Uint8Array([1, 2])]);
});

Deno.test("SocketWriter reports a failed write once, drops later writes and releases waiters", async () => {
  const sink = new ManualSink();
  const errors: unknown[] = [];
  const writer = new SocketWriter(sink, {
    highWaterBytes: 10,
    copyThresholdBytes: 4,
    onError: (error) => errors.push(error),
  });
  writer.append(filled(8, 1));
  writer.append(filled(8, 2));
  const belowLow = writer.belowLowWater();
  const drained = writer.drained();
  const call = await sink.nextCall();
  const failure = new Deno.errors.BrokenPipe("gone");
  call.fail(failure);
  await belowLow;
  await drained;
  assert.deepEqual(errors, [failure]);
  assert.equal(writer.hasFailed, true);
  assert.equal(writer.failure, failure);
  assert.equal(writer.pendingBytes, 0);
  assert.equal(writer.append(filled(8, 3)), false);
  assert.equal(writer.append(new Uint8Array([1])), false);
  writer.flush();
  await writer.drained();
  await writer.belowLowWater();
  assert.equal(sink.calls.length, 1);
  assert.equal(errors.length, 1);
});

Deno.test("SocketWriter reports a sink that rejects at once", async () => {
  const errors: unknown[] = [];
  const writer = new SocketWriter({
    write: () => Promise.reject(new Deno.errors.ConnectionReset("reset")),
  }, { onError: (error) => errors.push(error) });
  writer.append(new Uint8Array([1]));
  await writer.drained();
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.ConnectionReset);
});

Deno.test("SocketWriter.abandon drops pending bytes and releases waiters without reporting", async () => {
  const sink = new ManualSink();
  const errors: unknown[] = [];
  const writer = new SocketWriter(sink, {
    highWaterBytes: 4,
    onError: (error) => errors.push(error),
  });
  writer.append(filled(10, 1));
  const drained = writer.drained();
  const belowLow = writer.belowLowWater();
  const call = await sink.nextCall();
  writer.abandon();
  await drained;
  await belowLow;
  assert.equal(writer.pendingBytes, 0);
  assert.equal(writer.hasFailed, true);
  assert.equal(writer.append(new Uint8Array([1])), false);
  call.complete();
  assert.deepEqual(errors, []);
});

Deno.test("SocketWriter.appendEncoded writes straight into the batch and keeps only the bytes the encoder reports", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink);
  writer.append(new Uint8Array([1]));
  let room = 0;
  writer.appendEncoded(8, (item: number[], buffer, offset) => {
    room = buffer.length - offset;
    buffer.set(item, offset);
    return item.length;
  }, [2, 3, 4]);
  assert.ok(room >= 8);
  assert.equal(writer.pendingBytes, 4);
  await writer.drained();
  assert.deepEqual(sink.calls, [new Uint8Array([1, 2, 3, 4])]);
});

Deno.test("SocketWriter.appendEncoded queues nothing once the writer failed", () => {
  const writer = new SocketWriter(new ImmediateSink());
  writer.abandon();
  let calls = 0;
  writer.appendEncoded(4, () => ++calls, undefined);
  assert.equal(calls, 0);
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("SocketWriter reuses its batch buffer once drained and trim releases it when idle", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink);
  assert.equal(writer.bufferCapacity, 0);
  let capacity = 0;
  for (let round = 0; round < 50; round++) {
    writer.append(filled(1000, round));
    writer.flush();
    (await sink.nextCall()).complete();
    await writer.drained();
    if (round === 0) capacity = writer.bufferCapacity;
    assert.equal(writer.bufferCapacity, capacity, `round ${round}`);
  }
  assert.ok(capacity > 0);
  writer.append(new Uint8Array([1]));
  writer.trim(); // Pending bytes: the buffer stays.
  assert.equal(writer.bufferCapacity, capacity);
  writer.flush();
  (await sink.nextCall()).complete();
  await writer.drained();
  writer.trim();
  assert.equal(writer.bufferCapacity, 0);
  writer.append(new Uint8Array([2]));
  writer.flush();
  (await sink.nextCall()).complete();
  await writer.drained();
  assert.equal(sink.written.length, 50 * 1000 + 2);
  assert.deepEqual(sink.written.slice(-2), [1, 2]);
});

Deno.test("SocketWriter.belowLowWater resolves after a partial write brings a large piece below the low-water mark", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, {
    highWaterBytes: 1000,
    lowWaterBytes: 250,
    copyThresholdBytes: 100,
  });
  writer.append(new Uint8Array(2000).fill(7));
  writer.flush();
  assert.ok(writer.isAboveHighWater);
  let isResolved = false;
  const below = writer.belowLowWater().then(() => isResolved = true);
  const first = await sink.nextCall();
  first.complete(1800);
  const rest = await sink.nextCall();
  assert.equal(rest.bytes.length, 200);
  await Promise.resolve();
  assert.equal(writer.pendingBytes, 200);
  assert.ok(isResolved, "woken while the rest of the piece is in flight");
  await below;
  rest.complete();
  await writer.drained();
  assert.equal(sink.written.length, 2000);
});

Deno.test("SocketWriter cycles a bounded set of batch buffers while several batches are queued", async () => {
  // Writes complete only when the test says so; nothing is recorded but
  // which buffer each write came from.
  const pending: { bytes: Uint8Array; complete: () => void }[] = [];
  const sink: ByteSink = {
    write(bytes) {
      const { promise, resolve } = Promise.withResolvers<number>();
      pending.push({ bytes, complete: () => resolve(bytes.length) });
      return promise;
    },
  };
  const writer = new SocketWriter(sink, {
    highWaterBytes: 1024 * 1024,
    copyThresholdBytes: 128 * 1024,
  });
  const message = new Uint8Array(64 * 1024).fill(1);
  const buffers = new Set<ArrayBufferLike>();
  const completeOne = async (round: number) => {
    const call = pending.shift();
    assert.ok(call !== undefined, `a write is in flight in round ${round}`);
    buffers.add(call.bytes.buffer);
    call.complete();
    // Let the writer take the completion and start the next write.
    for (let i = 0; i < 10 && pending.length === 0; i++) {
      await Promise.resolve();
    }
  };
  // About three batches queued; each round completes two writes in a row,
  // then queues two batches' worth of messages.
  for (let i = 0; i < 12; i++) writer.append(message);
  writer.flush();
  for (let round = 0; round < 30; round++) {
    await completeOne(round);
    await completeOne(round);
    for (let i = 0; i < 8; i++) writer.append(message);
  }
  for (let i = 0; i < 100 && pending.length > 0; i++) {
    pending.shift()!.complete();
    for (let j = 0; j < 10 && pending.length === 0; j++) {
      await Promise.resolve();
    }
  }
  await writer.drained();
  assert.ok(
    buffers.size <= 8,
    `${buffers.size} distinct batch buffers for 60 writes (growing from 64 KiB to 256 KiB, then reused)`,
  );
});

Deno.test("SocketWriter releaseTo gets back a referenced buffer once its last queued bytes are written", async () => {
  const released: ArrayBufferLike[] = [];
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, {
    copyThresholdBytes: 4,
    releaseTo: { release: (buffer) => released.push(buffer) },
  });
  const shared = new Uint8Array(32).fill(5);
  writer.append(shared.subarray(0, 8));
  writer.append(new Uint8Array([1, 2])); // copied into the batch
  writer.append(shared.subarray(16, 24));
  writer.flush();
  (await sink.nextCall()).complete();
  assert.deepEqual(released, [], "bytes of the buffer are still queued");
  (await sink.nextCall()).complete();
  assert.deepEqual(released, []);
  (await sink.nextCall()).complete();
  await writer.drained();
  assert.equal(released.length, 1);
  assert.equal(released[0], shared.buffer);
});

Deno.test("SocketWriter joins adjacent by-reference pieces of one buffer into one write", async () => {
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 4 });
  const shared = Uint8Array.from({ length: 30 }, (_, i) => i);
  writer.append(shared.subarray(0, 10));
  writer.append(shared.subarray(10, 20));
  writer.append(shared.subarray(22, 30)); // a gap: a separate write
  writer.flush();
  await writer.drained();
  assert.deepEqual(sink.calls.map((call) => call.length), [20, 8]);
  assert.deepEqual(
    [...sink.all],
    [...shared.subarray(0, 20), ...shared.subarray(22, 30)],
  );
});

Deno.test("SocketWriter reuses a batch nothing refers to while a by-reference piece is in flight", async () => {
  // Each write waits until the test completes it.
  const inFlight: { bytes: Uint8Array; complete: () => void }[] = [];
  const sink: ByteSink = {
    write(bytes) {
      const { promise, resolve } = Promise.withResolvers<number>();
      inFlight.push({ bytes, complete: () => resolve(bytes.length) });
      return promise;
    },
  };
  const writer = new SocketWriter(sink, {
    highWaterBytes: 1024 * 1024,
    copyThresholdBytes: 128 * 1024,
  });
  const large = new Uint8Array(200_000);
  const batchBuffers = new Set<ArrayBufferLike>();
  const completeNext = async () => {
    const call = inFlight.shift();
    assert.ok(call !== undefined, "a write is in flight");
    if (call.bytes.buffer !== large.buffer) batchBuffers.add(call.bytes.buffer);
    call.complete();
    for (let i = 0; i < 10 && inFlight.length === 0; i++) {
      await Promise.resolve();
    }
  };
  for (let round = 0; round < 40; round++) {
    writer.append(new Uint8Array(100_000)); // copied into the batch
    writer.append(new Uint8Array(100_000)); // copied into the batch
    writer.append(large); // by reference: the batch region is sealed before it
    writer.flush();
    await completeNext(); // the batch region is written; `large` is in flight
    // Does not fit behind the written region: the batch, referenced by
    // nothing now, must start again at its front, not be kept aside.
    writer.append(new Uint8Array(100_000));
    writer.flush();
    for (let i = 0; i < 10 && inFlight.length > 0; i++) await completeNext();
    await writer.drained();
  }
  assert.ok(
    batchBuffers.size <= 2,
    `${batchBuffers.size} batch buffers for 40 rounds`,
  );
});

Deno.test("SocketWriter is not above high water at exactly the mark, only one byte past it", async () => {
  // Pins the boundary: "above" means more than highWaterBytes; an
  // off-by-one (>=) paused reading with exactly the mark held.
  const sink = new ImmediateSink();
  const writer = new SocketWriter(sink, {
    highWaterBytes: 100,
    copyThresholdBytes: 16,
  });
  writer.append(filled(60, 1));
  writer.append(filled(40, 2));
  assert.equal(writer.pendingBytes, 100);
  assert.equal(writer.isAboveHighWater, false);
  writer.append(filled(1, 3));
  assert.equal(writer.pendingBytes, 101);
  assert.equal(writer.isAboveHighWater, true);
  await writer.drained();
  assert.equal(sink.all.length, 101);
});

Deno.test("SocketWriter.belowLowWater resolves without a write when pending bytes equal the low-water mark", async () => {
  // "Below low water" includes the mark itself; an exclusive check (<)
  // kept a reader paused until a write completed.
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, {
    highWaterBytes: 100,
    lowWaterBytes: 25,
    copyThresholdBytes: 64,
  });
  writer.append(filled(25, 1));
  const belowLow = track(writer.belowLowWater());
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(sink.calls.length, 0);
  assert.equal(belowLow.isDone(), true);
  const drained = writer.drained();
  (await sink.nextCall()).complete();
  await drained;
});

Deno.test("SocketWriter.appendUrgent goes out after the piece in flight, ahead of queued pieces, and reports when written", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 4 });
  writer.append(filled(4, 1));
  writer.flush();
  const first = await sink.nextCall();
  writer.append(filled(4, 2));
  writer.append(filled(4, 3));
  let writtenAt = -1;
  writer.appendUrgent(Uint8Array.of(9), () => writtenAt = sink.written.length);
  assert.equal(writer.pendingBytes, 4 + 8 + 1);
  first.complete();
  const urgent = await sink.nextCall();
  assert.deepEqual([...urgent.copy], [9]);
  assert.equal(writtenAt, -1, "not reported before the socket took it");
  urgent.complete();
  (await sink.nextCall()).complete();
  (await sink.nextCall()).complete();
  await writer.drained();
  assert.equal(writtenAt, 5);
  assert.deepEqual(sink.written, [1, 1, 1, 1, 9, 2, 2, 2, 2, 3, 3, 3, 3]);
});

Deno.test("SocketWriter.appendUrgent never splits a piece from its continuation", async () => {
  const sink = new ManualSink();
  const writer = new SocketWriter(sink, { copyThresholdBytes: 4 });
  writer.append(Uint8Array.of(7)); // a header, copied into the batch
  writer.append(filled(4, 8), true); // its body, by reference
  writer.flush();
  const header = await sink.nextCall();
  assert.deepEqual([...header.copy], [7]);
  writer.appendUrgent(Uint8Array.of(9));
  header.complete();
  for (let i = 0; i < 2; i++) (await sink.nextCall()).complete();
  await writer.drained();
  assert.deepEqual(sink.written, [7, 8, 8, 8, 8, 9]);
});

Deno.test("SocketWriter drops urgent pieces with everything else once it fails", () => {
  const writer = new SocketWriter(new ManualSink());
  writer.appendUrgent(Uint8Array.of(9));
  writer.abandon();
  assert.equal(writer.pendingBytes, 0);
  writer.appendUrgent(Uint8Array.of(9));
  assert.equal(writer.pendingBytes, 0);
});

Deno.test("SocketWriter holds no batch buffer once its small pieces are written, and two idle writers share one", async () => {
  // An idle session held a 256-byte batch per socket until the idle trim.
  const first = new ManualSink();
  const second = new ManualSink();
  const writerA = new SocketWriter(first);
  const writerB = new SocketWriter(second);
  writerA.append(new Uint8Array([1, 2, 3]));
  writerA.flush();
  assert.ok(writerA.bufferCapacity > 0);
  (await first.nextCall()).complete();
  await writerA.drained();
  assert.equal(writerA.bufferCapacity, 0);
  writerB.append(new Uint8Array([4]));
  writerB.flush();
  writerA.append(new Uint8Array([5]));
  writerA.flush();
  (await second.nextCall()).complete();
  (await first.nextCall()).complete();
  await Promise.all([writerA.drained(), writerB.drained()]);
  assert.deepEqual(first.written, [1, 2, 3, 5]);
  assert.deepEqual(second.written, [4]);
  assert.equal(writerA.bufferCapacity, 0);
  assert.equal(writerB.bufferCapacity, 0);
});
