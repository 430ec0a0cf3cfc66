import assert from "node:assert/strict";
import { trimOws } from "../../src/websocket/ows.ts";

Deno.test("trimOws removes only SP and HTAB from both ends", async (t) => {
  const cases: [string, string][] = [
    [" \ta b\t ", "a b"],
    ["websocket", "websocket"],
    ["\u00a0websocket", "\u00a0websocket"],
    ["websocket\u00a0", "websocket\u00a0"],
    [" \t \t", ""],
    ["\r\nx", "\r\nx"],
  ];
  for (const [input, expected] of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(trimOws(input), expected);
    });
  }
});
