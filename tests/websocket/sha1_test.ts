import { assertEquals } from "../_util/assert.ts";
import { sha1 } from "../../src/websocket/sha1.ts";
import { mulberry32 } from "../_util/prng.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha1 matches the FIPS 180 test vectors", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  assertEquals(
    hex(sha1(encode(""))),
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
  );
  assertEquals(
    hex(sha1(encode("abc"))),
    "a9993e364706816aba3e25717850c26c9cd0d89d",
  );
  assertEquals(
    hex(
      sha1(encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
    ),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
});

Deno.test("sha1 equals WebCrypto SHA-1 for every length across block boundaries", async () => {
  const random = mulberry32(20261121);
  for (let length = 0; length <= 200; length++) {
    const bytes = new Uint8Array(length).map(() => Math.floor(random() * 256));
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
    assertEquals(hex(sha1(bytes)), hex(expected), `length ${length}`);
  }
});
