import { assertEquals, assertRejects } from "../_util/assert.ts";
import { writeAll } from "../../src/io/write_all.ts";

Deno.test("writeAll keeps writing when each write takes only part of the bytes", async () => {
  const taken: number[] = [];
  const conn = {
    write(bytes: Uint8Array): Promise<number> {
      const count = Math.min(3, bytes.length);
      taken.push(...bytes.subarray(0, count));
      return Promise.resolve(count);
    },
  };
  await writeAll(conn, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  assertEquals(taken, [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("writeAll rejects when a write fails", async () => {
  const conn = {
    write(): Promise<number> {
      return Promise.reject(new Deno.errors.BrokenPipe("gone"));
    },
  };
  await assertRejects(
    writeAll(conn, new Uint8Array([1])),
    Deno.errors.BrokenPipe,
  );
});
