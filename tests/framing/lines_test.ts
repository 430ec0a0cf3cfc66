import assert from "node:assert/strict";
import {
  FrameTooLargeError,
  InvalidMessageError,
  TruncatedFrameError,
} from "../../src/errors.ts";
import { LinesDecoder, LinesEncoder } from "../../src/framing/lines.ts";
import type { LinesFramingSpec } from "../../src/framing/spec.ts";

function spec(crlf: boolean, maxFrameBytes = 1024): LinesFramingSpec {
  return { kind: "lines", crlf, maxFrameBytes, text: true };
}

const utf8 = new TextEncoder();

/** Decodes string chunks and returns the lines as strings. */
function decode(crlf: boolean, chunks: string[], max?: number): string[] {
  const decoder = new LinesDecoder(spec(crlf, max));
  const lines: string[] = [];
  for (const chunk of chunks) {
    decoder.push(
      utf8.encode(chunk),
      (m) => lines.push(new TextDecoder().decode(m)),
    );
  }
  decoder.finish();
  return lines;
}

Deno.test("LinesDecoder (\\n) handles the split-boundary cases", async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    ["one line", ["hello\n"], ["hello"]],
    ["many lines in one chunk", ["a\nbb\nccc\n"], ["a", "bb", "ccc"]],
    ["line split", ["hel", "lo\n"], ["hello"]],
    ["line split three ways", ["h", "ell", "o\nwor", "ld\n"], [
      "hello",
      "world",
    ]],
    ["delimiter alone in the next chunk", ["hello", "\n"], ["hello"]],
    ["empty lines", ["\n\n", "\n"], ["", "", ""]],
    ["empty chunks", ["", "a\n", ""], ["a"]],
    ["\\r before \\n is data", ["a\r\n"], ["a\r"]],
    ["lone \\r is data", ["a\rb\n"], ["a\rb"]],
  ];
  for (const [name, chunks, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(decode(false, chunks), expected);
    });
  }
});

Deno.test("LinesDecoder (crlf) ends lines only at \\r\\n", async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    ["one line", ["hello\r\n"], ["hello"]],
    ["many lines in one chunk", ["a\r\nb\r\n\r\n"], ["a", "b", ""]],
    ["\\r\\n split across chunks", ["hello\r", "\nworld\r\n"], [
      "hello",
      "world",
    ]],
    ["\\r\\n split after a pending line", ["he", "llo\r", "\n"], ["hello"]],
    ["\\r alone in a chunk", ["hello", "\r", "\n"], ["hello"]],
    ["lone \\n is data", ["a\nb\r\n"], ["a\nb"]],
    ["lone \\n at the start of a line", ["\n\r\n"], ["\n"]],
    ["lone \\n at the start of a chunk after a pending line", [
      "ab",
      "\ncd\r\n",
    ], ["ab\ncd"]],
    ["lone \\r is data", ["a\rb\r\n"], ["a\rb"]],
    ["\\r\\r\\n keeps one \\r", ["a\r\r\n"], ["a\r"]],
    ["\\r\\r\\n split", ["a\r", "\r", "\n"], ["a\r"]],
  ];
  for (const [name, chunks, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(decode(true, chunks), expected);
    });
  }
});

Deno.test("LinesDecoder accepts exactly max and rejects longer lines without buffering more than max + 1 bytes", async (t) => {
  const five = "12345";
  await t.step("exactly max in one chunk and split", () => {
    assert.deepEqual(decode(false, [`${five}\n`], 5), [five]);
    assert.deepEqual(decode(false, ["123", "45\n"], 5), [five]);
    assert.deepEqual(decode(true, ["12345\r", "\n"], 5), [five]);
  });
  const tooLong: Array<[string, boolean, string[]]> = [
    ["max + 1 in one chunk", false, ["123456\n"]],
    ["max + 1 split", false, ["123", "456\n"]],
    ["max + 1 unterminated in one chunk", false, ["123456"]],
    ["max + 1 unterminated, split", false, ["1234", "56"]],
    ["crlf: max + 1 before \\r", true, ["123456\r"]],
    ["crlf: max + 1 split before \\r\\n", true, ["12345", "6\r\n"]],
    ["crlf: max + 1 with the \\r pending", true, ["12345", "6\r", "\n"]],
    ["crlf: a lone \\n counts", true, ["12345\n", "x"]],
  ];
  for (const [name, crlf, chunks] of tooLong) {
    await t.step(name, () => {
      const decoder = new LinesDecoder(spec(crlf, 5));
      assert.throws(() => {
        for (const chunk of chunks) {
          decoder.push(utf8.encode(chunk), () => assert.fail());
          assert.ok(decoder.pendingBytes <= 6);
        }
      }, (error) => {
        assert.ok(error instanceof FrameTooLargeError);
        assert.equal(error.limit, 5);
        assert.ok(error.size >= 6);
        return true;
      });
    });
  }
  await t.step("crlf: an empty chunk after max bytes + a pending \\r", () => {
    // Regression: an empty push after a held `\r` read the last byte of the
    // empty chunk (undefined) and counted the `\r` as line content.
    assert.deepEqual(decode(true, ["\r\r\r\r", "", "\n"], 3), ["\r\r\r"]);
  });
  await t.step("crlf: max bytes + a pending \\r is not too long yet", () => {
    const decoder = new LinesDecoder(spec(true, 5));
    decoder.push(utf8.encode("12345\r"), () => assert.fail());
    assert.equal(decoder.pendingBytes, 6);
  });
});

Deno.test("LinesDecoder passes lines inside one chunk on as views and copies spanning lines", () => {
  const decoder = new LinesDecoder(spec(false));
  const chunk = utf8.encode("ab\ncd");
  const seen: Uint8Array[] = [];
  decoder.push(chunk, (m) => seen.push(m));
  assert.equal(seen[0]!.buffer, chunk.buffer);
  decoder.push(utf8.encode("e\n"), (m) => seen.push(m));
  chunk.fill(0);
  assert.deepEqual(seen[1], utf8.encode("cde"));
  assert.equal(seen[1]!.buffer.byteLength, 3);
});

Deno.test("LinesDecoder.finish throws TruncatedFrameError for an unterminated line", async (t) => {
  for (
    const [name, crlf, chunk, pending] of [
      ["\\n: partial line", false, "a\nbc", 2],
      ["crlf: \\r without \\n", true, "a\r\nbc\r", 3],
      ["crlf: lone \\n", true, "\n", 1],
    ] as const
  ) {
    await t.step(name, () => {
      const decoder = new LinesDecoder(spec(crlf));
      decoder.push(utf8.encode(chunk), () => {});
      assert.equal(decoder.pendingBytes, pending);
      assert.throws(
        () => decoder.finish(),
        (error) =>
          error instanceof TruncatedFrameError &&
          error.pendingBytes === pending,
      );
    });
  }
});

Deno.test("LinesDecoder grows its buffer for a long line spread over many chunks", () => {
  const decoder = new LinesDecoder(spec(false, 100_000));
  const lines: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) {
    decoder.push(new Uint8Array(99).fill(0x61), (m) => lines.push(m));
  }
  decoder.push(utf8.encode("\n"), (m) => lines.push(m));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.length, 99_000);
  assert.ok(lines[0]!.every((b) => b === 0x61));
  decoder.finish();
});

Deno.test("LinesEncoder appends the delimiter", async (t) => {
  const cases: Array<[boolean, string, string]> = [
    [false, "hello", "hello\n"],
    [false, "", "\n"],
    [false, "a\rb\r", "a\rb\r\n"],
    [true, "hello", "hello\r\n"],
    [true, "a\nb", "a\nb\r\n"],
    [true, "\n", "\n\r\n"],
    [true, "a\r", "a\r\r\n"],
    [true, "\r\r", "\r\r\r\n"],
  ];
  for (const [crlf, message, frame] of cases) {
    await t.step(`${crlf ? "crlf" : "lf"} ${JSON.stringify(message)}`, () => {
      const encoder = new LinesEncoder(spec(crlf));
      assert.equal(encoder.bodyOffset, 0);
      assert.deepEqual(encoder.trailer, utf8.encode(crlf ? "\r\n" : "\n"));
      assert.equal(encoder.frameLength(utf8.encode(message)), frame.length);
      assert.deepEqual(
        encoder.encode(utf8.encode(message)),
        utf8.encode(frame),
      );
      assert.equal(
        encoder.encodeHeadInto(utf8.encode(message), new Uint8Array(0), 0),
        0,
      );
      assert.deepEqual(decode(crlf, [frame]), [message]);
    });
  }
});

Deno.test("LinesEncoder rejects lines containing the delimiter or above max", async (t) => {
  const cases: Array<
    [
      string,
      boolean,
      string,
      typeof InvalidMessageError | typeof FrameTooLargeError,
      RegExp,
    ]
  > = [
    [
      "\\n inside",
      false,
      "a\nb",
      InvalidMessageError,
      /must not contain "\\n": found at index 1/,
    ],
    ["\\n at the end", false, "ab\n", InvalidMessageError, /found at index 2/],
    [
      "crlf: \\r\\n inside",
      true,
      "a\r\nb",
      InvalidMessageError,
      /must not contain "\\r\\n": found at index 1/,
    ],
    [
      "crlf: \\r\\n after a lone \\n",
      true,
      "\n\r\n",
      InvalidMessageError,
      /found at index 1/,
    ],
    [
      "above max",
      false,
      "123456",
      FrameTooLargeError,
      /must be <= 5: current value is 6/,
    ],
  ];
  for (const [name, crlf, message, type, pattern] of cases) {
    await t.step(name, () => {
      const encoder = new LinesEncoder(spec(crlf, 5));
      assert.throws(() => encoder.frameLength(utf8.encode(message)), type);
      assert.throws(() => encoder.encode(utf8.encode(message)), pattern);
    });
  }
});
