import assert from "node:assert/strict";
import { ScratchBuffer } from "../../src/io/scratch_buffer.ts";

Deno.test("ScratchBuffer reuses one buffer, doubling from 1 KiB and never beyond its limit", () => {
  const scratch = new ScratchBuffer(8192);
  const first = scratch.take(10);
  assert.equal(first.length, 10);
  assert.equal(first.buffer.byteLength, 1024);
  assert.equal(scratch.take(1000).buffer, first.buffer);
  const grown = scratch.take(1500);
  assert.equal(grown.buffer.byteLength, 2048);
  // A request beyond the doubled size gets exactly what it asks for.
  assert.equal(scratch.take(8000).buffer.byteLength, 8000);
  // Doubling stops at the limit.
  assert.equal(scratch.take(8100).buffer.byteLength, 8192);
});

Deno.test("ScratchBuffer returns fresh arrays above its limit and when the limit is 0", () => {
  const scratch = new ScratchBuffer(100);
  const a = scratch.take(101);
  const b = scratch.take(101);
  assert.notEqual(a.buffer, b.buffer);
  const off = new ScratchBuffer(0);
  assert.notEqual(off.take(1).buffer, off.take(1).buffer);
});

Deno.test("ScratchBuffer.release drops the buffer so the next take allocates", () => {
  const scratch = new ScratchBuffer(4096);
  const before = scratch.take(16).buffer;
  scratch.release();
  assert.notEqual(scratch.take(16).buffer, before);
});
