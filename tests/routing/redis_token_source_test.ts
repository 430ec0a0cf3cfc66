import { assertEquals, assertThrows } from "../_util/assert.ts";
import { parseRedisTokenSource } from "../../src/routing/redis_token_source.ts";

Deno.test("parseRedisTokenSource reads websockify's host[:port[:db[:password[:namespace]]]]", async (t) => {
  const cases: [
    string,
    [string, number, number, string | undefined, string, string],
  ][] = [
    ["my-redis", [
      "my-redis",
      6379,
      0,
      undefined,
      "",
      "redis://my-redis:6379/0",
    ]],
    ["r:6380", ["r", 6380, 0, undefined, "", "redis://r:6380/0"]],
    ["r::3", ["r", 6379, 3, undefined, "", "redis://r:6379/3"]],
    ["r:::pass", ["r", 6379, 0, "pass", "", "redis://:pass@r:6379/0"]],
    ["r::::ns", ["r", 6379, 0, undefined, "ns:", "redis://r:6379/0"]],
    ['r::::"a:b"', ["r", 6379, 0, undefined, "a:b:", "redis://r:6379/0"]],
    ["r:6380:1:p@ss:app", [
      "r",
      6380,
      1,
      "p@ss",
      "app:",
      "redis://:p%40ss@r:6380/1",
    ]],
  ];
  for (const [text, [hostname, port, db, password, keyPrefix, url]] of cases) {
    await t.step(text, () => {
      assertEquals(parseRedisTokenSource(text), {
        hostname,
        port,
        db,
        password,
        keyPrefix,
        url,
      });
    });
  }
});

Deno.test("parseRedisTokenSource refuses malformed sources", () => {
  for (
    const text of ["", ":6379", "r:port", "r:1:db", "r:1:2:3:4:5", "r:70000"]
  ) {
    assertThrows(() => parseRedisTokenSource(text), SyntaxError, text);
  }
});
