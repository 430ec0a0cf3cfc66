import { assert, assertStrictEquals } from "../_util/assert.ts";
import { ReadBuffer } from "../../src/session/read_buffer.ts";

Deno.test("ReadBuffer starts at minBytes", () => {
  assertStrictEquals(new ReadBuffer({ minBytes: 64 }).bytes.length, 64);
});

Deno.test("ReadBuffer defaults to 256 bytes growing up to 256 KiB", () => {
  const buffer = new ReadBuffer();
  assertStrictEquals(buffer.bytes.length, 256);
  for (let i = 0; i < 20; i++) buffer.afterRead(buffer.bytes.length, false);
  assertStrictEquals(buffer.bytes.length, 256 * 1024);
});

Deno.test("ReadBuffer doubles when a read fills it, up to maxBytes and no further", () => {
  const buffer = new ReadBuffer({ minBytes: 16, maxBytes: 128 });
  const sizes = [buffer.bytes.length];
  for (let i = 0; i < 6; i++) {
    buffer.afterRead(buffer.bytes.length, false);
    sizes.push(buffer.bytes.length);
  }
  assertStrictEquals(sizes.join(","), "16,32,64,128,128,128,128");
});

Deno.test("ReadBuffer keeps its array after a read that neither fills it nor is small", () => {
  const buffer = new ReadBuffer({ minBytes: 16, maxBytes: 64 });
  buffer.afterRead(16, false);
  const before = buffer.bytes;
  for (let i = 0; i < 100; i++) buffer.afterRead(10, false);
  assertStrictEquals(buffer.bytes, before);
  assertStrictEquals(buffer.bytes.length, 32);
});

Deno.test("ReadBuffer halves after shrinkAfterReads consecutive reads under 1/8 of it, not before", () => {
  const buffer = new ReadBuffer({
    minBytes: 16,
    maxBytes: 1024,
    shrinkAfterReads: 4,
  });
  for (let i = 0; i < 6; i++) buffer.afterRead(buffer.bytes.length, false);
  assertStrictEquals(buffer.bytes.length, 1024);
  // 127 is under 1024 / 8 = 128; 128 is not.
  for (let i = 0; i < 3; i++) buffer.afterRead(127, false);
  assertStrictEquals(buffer.bytes.length, 1024);
  buffer.afterRead(127, false);
  assertStrictEquals(buffer.bytes.length, 512);
  // The count starts over after a shrink.
  for (let i = 0; i < 3; i++) buffer.afterRead(1, false);
  assertStrictEquals(buffer.bytes.length, 512);
  buffer.afterRead(1, false);
  assertStrictEquals(buffer.bytes.length, 256);
});

Deno.test("ReadBuffer restarts the small-read count after a read of 1/8 or more", () => {
  const buffer = new ReadBuffer({
    minBytes: 16,
    maxBytes: 1024,
    shrinkAfterReads: 3,
  });
  for (let i = 0; i < 6; i++) buffer.afterRead(buffer.bytes.length, false);
  buffer.afterRead(1, false);
  buffer.afterRead(1, false);
  buffer.afterRead(128, false);
  buffer.afterRead(1, false);
  buffer.afterRead(1, false);
  assertStrictEquals(buffer.bytes.length, 1024);
  buffer.afterRead(1, false);
  assertStrictEquals(buffer.bytes.length, 512);
});

Deno.test("ReadBuffer never shrinks below minBytes", () => {
  const buffer = new ReadBuffer({
    minBytes: 64,
    maxBytes: 256,
    shrinkAfterReads: 1,
  });
  buffer.afterRead(64, false);
  buffer.afterRead(256 / 2, false);
  assertStrictEquals(buffer.bytes.length, 256);
  for (let i = 0; i < 10; i++) buffer.afterRead(0, false);
  assertStrictEquals(buffer.bytes.length, 64);
});

Deno.test("ReadBuffer replaces its array, same size, when views into it are retained", () => {
  const buffer = new ReadBuffer({ minBytes: 32 });
  const before = buffer.bytes;
  before[0] = 7;
  buffer.afterRead(10, true);
  assert(buffer.bytes !== before);
  assertStrictEquals(buffer.bytes.length, 32);
  // The retained view keeps its bytes.
  assertStrictEquals(before[0], 7);
  assertStrictEquals(buffer.bytes[0], 0);
});

Deno.test("ReadBuffer hands out a new array on growth and shrink, retained or not", () => {
  const buffer = new ReadBuffer({
    minBytes: 16,
    maxBytes: 64,
    shrinkAfterReads: 1,
  });
  const first = buffer.bytes;
  buffer.afterRead(16, true);
  assert(buffer.bytes !== first);
  assertStrictEquals(buffer.bytes.length, 32);
  const second = buffer.bytes;
  buffer.afterRead(1, true);
  assert(buffer.bytes !== second);
  assertStrictEquals(buffer.bytes.length, 16);
});

Deno.test({
  // Regression: doubling can overshoot a maxBytes that is not minBytes
  // times a power of two (16 -> 32 -> 64 -> 128 with maxBytes 100).
  name:
    "ReadBuffer never grows beyond a maxBytes that is not a power-of-two multiple of minBytes",
  fn() {
    const buffer = new ReadBuffer({ minBytes: 16, maxBytes: 100 });
    for (let i = 0; i < 10; i++) buffer.afterRead(buffer.bytes.length, false);
    assert(buffer.bytes.length <= 100, `size ${buffer.bytes.length}`);
  },
});

Deno.test("ReadBuffer with headroom reads after the headroom into a view of the whole buffer", () => {
  const buffer = new ReadBuffer({ minBytes: 64, headroomBytes: 10 });
  assertStrictEquals(buffer.whole.length, 64);
  assertStrictEquals(buffer.bytes.length, 54);
  assertStrictEquals(buffer.bytes.buffer, buffer.whole.buffer);
  assertStrictEquals(buffer.bytes.byteOffset, 10);
  // A read that fills the region (not the whole) doubles the buffer.
  buffer.afterRead(54, false);
  assertStrictEquals(buffer.whole.length, 128);
  assertStrictEquals(buffer.bytes.length, 118);
});

Deno.test("ReadBuffer reuses a released buffer after a retained read instead of allocating", () => {
  const buffer = new ReadBuffer({ minBytes: 64, maxBytes: 64 });
  const first = buffer.whole.buffer;
  buffer.afterRead(40, true);
  const second = buffer.whole.buffer;
  assert(second !== first, "a retained buffer is replaced");
  buffer.release(first);
  buffer.afterRead(40, true);
  assertStrictEquals(buffer.whole.buffer, first);
  // The buffer in use, a buffer of another size and a second release of the
  // same buffer are not pooled.
  buffer.release(first);
  buffer.release(new ArrayBuffer(32));
  buffer.release(second);
  buffer.release(second);
  buffer.afterRead(40, true);
  assertStrictEquals(buffer.whole.buffer, second);
  buffer.afterRead(40, true);
  assert(buffer.whole.buffer !== first && buffer.whole.buffer !== second);
});

Deno.test("ReadBuffer.trim drops released buffers so an idle session holds only the one it reads into", () => {
  const buffer = new ReadBuffer({ minBytes: 64, maxBytes: 64 });
  const first = buffer.whole.buffer;
  buffer.afterRead(40, true);
  buffer.release(first);
  buffer.trim();
  buffer.afterRead(40, true);
  assert(buffer.whole.buffer !== first, "a trimmed pool is not reused");
});
