import assert from "node:assert/strict";
import { parseJsonc } from "../../src/config/jsonc.ts";

Deno.test("parseJsonc parses plain JSON like JSON.parse", async (t) => {
  const cases = [
    "0",
    "-0",
    "1.5e3",
    "-12.25E-2",
    "1e+2",
    "true",
    "false",
    "null",
    '""',
    '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"',
    '"\\u00e9\\uD83D\\uDE00 é 😀"',
    "[]",
    "{}",
    '{"a": [1, {"b": null}], "c": "d"}',
    " \t\r\n[ 1 , 2 ]\n",
    "123456789012345678901234567890",
  ];
  for (const text of cases) {
    await t.step(
      text,
      () => assert.deepEqual(parseJsonc(text), JSON.parse(text)),
    );
  }
});

Deno.test("parseJsonc ignores line and block comments wherever whitespace may be", () => {
  const text = `// leading comment
  /* block
     over lines */ {
    "a" /* before colon */ : /* after colon */ 1, // after value
    // between members
    "b": [ /* in array */ 2 /* after element */ ], /**/
    "c": "not // a comment",
    "d": "not /* a comment */ either"
  } // trailing
  /* trailing block */`;
  assert.deepEqual(parseJsonc(text), {
    a: 1,
    b: [2],
    c: "not // a comment",
    d: "not /* a comment */ either",
  });
  assert.deepEqual(parseJsonc("1// no newline at end"), 1);
});

Deno.test("parseJsonc accepts one trailing comma in arrays and objects", () => {
  assert.deepEqual(parseJsonc("[1, 2,]"), [1, 2]);
  assert.deepEqual(parseJsonc('{"a": 1,}'), { a: 1 });
  assert.deepEqual(parseJsonc('{"a": [1,], // x\n}'), { a: [1] });
  assert.deepEqual(parseJsonc("[1 , /* c */ ]"), [1]);
});

Deno.test("parseJsonc skips a leading byte order mark", () => {
  assert.deepEqual(parseJsonc('\ufeff{"a": 1}'), { a: 1 });
});

Deno.test("parseJsonc keeps __proto__ as an own data property", () => {
  const value = parseJsonc('{"__proto__": {"polluted": true}}') as Record<
    string,
    unknown
  >;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("parseJsonc reports errors with line:column", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["empty", "", /a value but found the end of the text at 1:1/],
    ["only a comment", "// nothing", /at 1:11$/],
    [
      "missing comma",
      '{\n  "a": 1\n  "b": 2\n}',
      /expected "," or "}" but found "\\"" at 3:3$/,
    ],
    ["double comma in array", "[1,,2]", /at 1:4$/],
    ["leading comma", "[,1]", /at 1:2$/],
    ["comma only object", "{,}", /string key but found "," at 1:2$/],
    ["unquoted key", "{a: 1}", /string key but found "a" at 1:2$/],
    ["single quotes", "{'a': 1}", /at 1:2$/],
    ["missing colon", '{"a" 1}', /expected ":" but found "1" at 1:6$/],
    ["unterminated string", '[\n"abc', /unterminated string at 2:1$/],
    [
      "raw newline in string",
      '"a\nb"',
      /control character in a string; escape it at 1:3$/,
    ],
    ["bad escape", '"\\x"', /invalid escape "\\\\x" at 1:2$/],
    [
      "short unicode escape",
      '"\\u12"',
      /invalid \\u escape; expected 4 hex digits at 1:2$/,
    ],
    [
      "unterminated block comment",
      "1 /* open",
      /unterminated \/\* comment at 1:3$/,
    ],
    ["trailing garbage", "1 2", /end of the text but found "2" at 1:3$/],
    ["two values", "{}\n[]", /at 2:1$/],
    ["leading zero", "01", /found "1" after a number at 1:2$/],
    ["leading plus", "+1", /at 1:1$/],
    ["bare dot", "1.", /digit after "." at 1:3$/],
    ["bare exponent", "1e", /digit in the exponent at 1:3$/],
    ["minus alone", "-", /expected a digit at 1:2$/],
    ["hex", "0x10", /"x" after a number at 1:2$/],
    ["NaN", "NaN", /at 1:1$/],
    ["Infinity", "[Infinity]", /at 1:2$/],
    ["truncated literal", "tru", /at 1:1$/],
    [
      "literal with suffix",
      "[nullx]",
      /expected "," or "]" but found "x" at 1:6$/,
    ],
    [
      "unclosed array",
      "[1",
      /expected "," or "]" but found the end of the text at 1:3$/,
    ],
    ["unclosed object", '{"a": 1', /at 1:8$/],
    ["repeated key", '{"a": 1,\n "a": 2}', /repeated key "a" at 2:2$/],
    ["CRLF lines", '{\r\n"a": 1\r\n"b": 2}', /at 3:1$/],
    ["two trailing commas", "[1,,]", /at 1:4$/],
  ];
  for (const [name, text, pattern] of cases) {
    await t.step(name, () => {
      assert.throws(() => parseJsonc(text), (error: unknown) => {
        assert.ok(error instanceof SyntaxError);
        assert.match(error.message, /^Cannot parse JSONC as it /);
        assert.match(error.message, pattern);
        return true;
      });
    });
  }
});

Deno.test("parseJsonc refuses nesting deeper than 512 levels instead of overflowing", () => {
  assert.ok(Array.isArray(parseJsonc("[".repeat(512) + "]".repeat(512))));
  assert.throws(
    () => parseJsonc("[".repeat(513) + "]".repeat(513)),
    /at 1:513$/,
  );
  assert.throws(
    () => parseJsonc("[".repeat(100_000) + "]".repeat(100_000)),
    /nesting deeper than 512 levels at 1:513$/,
  );
});
