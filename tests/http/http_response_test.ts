import assert from "node:assert/strict";
import {
  encodeHttpResponse,
  STATUS_TEXT,
} from "../../src/http/http_response.ts";

Deno.test("encodeHttpResponse writes status line, headers, length and body", async (t) => {
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  await t.step("with a text body", () => {
    assert.equal(
      decode(
        encodeHttpResponse(426, { "sec-websocket-version": "13" }, "no\n"),
      ),
      "HTTP/1.1 426 Upgrade Required\r\n" +
        "sec-websocket-version: 13\r\n" +
        "content-length: 3\r\n" +
        "connection: close\r\n\r\n" +
        "no\n",
    );
  });
  await t.step("with a byte body", () => {
    const bytes = encodeHttpResponse(200, {}, new Uint8Array([0, 255]));
    assert.deepEqual([...bytes.subarray(-2)], [0, 255]);
    assert.ok(decode(bytes).includes("content-length: 2\r\n"));
  });
  await t.step("HEAD keeps the length and omits the body", () => {
    assert.equal(
      decode(encodeHttpResponse(200, {}, "hello", true)),
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\n",
    );
  });
  await t.step("an unknown status gets the phrase Unknown", () => {
    assert.ok(
      decode(encodeHttpResponse(599, {})).startsWith(
        "HTTP/1.1 599 Unknown\r\n",
      ),
    );
  });
  await t.step("every refusal status has a reason phrase", () => {
    for (const status of [400, 404, 405, 426, 431, 502, 503, 504, 505]) {
      assert.equal(typeof STATUS_TEXT[status], "string");
    }
  });
});
