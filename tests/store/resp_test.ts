import { assert, assertEquals, assertThrows } from "../_util/assert.ts";
import {
  encodeCommand,
  RespDecoder,
  type RespValue,
} from "../../src/store/resp.ts";
import { StoreReplyError } from "../../src/store/store_errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function decodeAll(text: string, cut: number): RespValue[] {
  const decoder = new RespDecoder();
  const out: RespValue[] = [];
  const all = bytes(text);
  for (let i = 0; i < all.length; i += cut) {
    decoder.push(all.subarray(i, i + cut), (reply) => out.push(reply));
  }
  assertEquals(decoder.bufferedBytes, 0);
  return out;
}

Deno.test("RespDecoder decodes every reply type whatever the chunking", async (t) => {
  const text =
    "+OK\r\n-ERR bad\r\n:-7\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n_\r\n#t\r\n%1\r\n+k\r\n+v\r\n";
  for (const cut of [1, 2, 3, 7, 1000]) {
    await t.step(`chunks of ${cut} bytes`, () => {
      const out = decodeAll(text, cut);
      assertEquals(out.length, 10);
      assertEquals(out[0], "OK");
      assert(out[1] instanceof StoreReplyError);
      assertEquals(out.slice(2), [
        -7,
        "abc",
        null,
        null,
        ["a", [1]],
        null,
        true,
        ["k", "v"],
      ]);
    });
  }
});

Deno.test("RespDecoder rejects an absurd bulk or array length before allocating", () => {
  const decoder = new RespDecoder({ maxBulkBytes: 10, maxArrayLength: 4 });
  assertThrows(
    () => decoder.push(bytes("$999999999999\r\n"), () => {}),
    RangeError,
  );
  assertThrows(
    () =>
      new RespDecoder({ maxArrayLength: 4 }).push(bytes("*5\r\n"), () => {}),
    RangeError,
  );
  assertThrows(
    () => new RespDecoder().push(bytes("$abc\r\n"), () => {}),
    SyntaxError,
  );
  assertThrows(
    () => new RespDecoder().push(bytes("?x\r\n"), () => {}),
    SyntaxError,
  );
});

Deno.test("encodeCommand writes an array of bulk strings with byte lengths", () => {
  assertEquals(
    new TextDecoder().decode(encodeCommand(["SET", "é", 5])),
    "*3\r\n$3\r\nSET\r\n$2\r\né\r\n$1\r\n5\r\n",
  );
});
