import assert from "node:assert/strict";
import { ReadBuffer } from "../../src/session/read_buffer.ts";
import { ReadFloor } from "../../src/session/read_floor.ts";

Deno.test("ReadFloor starts each read free and unretained", () => {
  const floor = new ReadFloor(new ReadBuffer());
  floor.reset();
  assert.equal(floor.floor, 0);
  assert.equal(floor.isRetained, false);
});

Deno.test("ReadFloor.lend raises the floor to the end of a view of the read", () => {
  const read = new ReadBuffer({ minBytes: 64 });
  const floor = new ReadFloor(read);
  floor.lend(read.whole.subarray(8, 20));
  assert.equal(floor.floor, 20);
  floor.lend(read.whole.subarray(2, 4));
  assert.equal(floor.floor, 20, "the floor never goes down within a read");
  floor.reset();
  assert.equal(floor.floor, 0);
});

Deno.test("ReadFloor.lend of another buffer marks the read retained but frees nothing less", () => {
  const floor = new ReadFloor(new ReadBuffer({ minBytes: 64 }));
  floor.lend(new Uint8Array(100));
  assert.equal(floor.isRetained, true);
  assert.equal(floor.floor, 0);
});

Deno.test("ReadFloor.tryClaim refuses a region below the floor or before the buffer", () => {
  const read = new ReadBuffer({ minBytes: 64 });
  const floor = new ReadFloor(read);
  assert.equal(floor.tryClaim(-2, 10), false);
  assert.equal(floor.tryClaim(0, 10), true);
  assert.equal(floor.tryClaim(9, 20), false);
  assert.equal(floor.tryClaim(10, 30), true);
  assert.equal(floor.floor, 30);
  assert.equal(floor.isRetained, true);
});
