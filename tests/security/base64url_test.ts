import assert from "node:assert/strict";
import {
  decodeBase64Url,
  encodeBase64Url,
} from "../../src/security/base64url.ts";

Deno.test("encodeBase64Url matches the reference encoding for every length", () => {
  for (let length = 0; length < 40; length++) {
    const bytes = new Uint8Array(length).map((_, i) =>
      (i * 97 + length * 31) & 0xff
    );
    const reference = btoa(String.fromCharCode(...bytes))
      .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const encoded = encodeBase64Url(bytes);
    assert.equal(encoded, reference, `length ${length}`);
    assert.deepEqual(decodeBase64Url(encoded), bytes, `length ${length}`);
  }
});

Deno.test("decodeBase64Url refuses non-canonical and foreign input", async (t) => {
  for (
    const text of [
      "A",
      "AAAAA",
      "QQ==",
      "QR",
      "QUJ",
      "a+b/",
      "ab cd",
      "é",
      "-_9",
    ]
  ) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(() => decodeBase64Url(text), SyntaxError);
    });
  }
  assert.deepEqual(decodeBase64Url(""), new Uint8Array());
  assert.deepEqual(decodeBase64Url("QQ"), new Uint8Array([0x41]));
  assert.deepEqual(decodeBase64Url("QUI"), new Uint8Array([0x41, 0x42]));
});
