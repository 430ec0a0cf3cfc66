import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_BYTES,
  formatFramingSpec,
  type FramingSpec,
  FramingSpecError,
  maxMessageBytes,
  normalizeFramingSpec,
  parseFramingSpec,
} from "../../src/framing/spec.ts";

const MIB = 1024 * 1024;

function length(
  fields: Partial<Extract<FramingSpec, { kind: "length" }>>,
): FramingSpec {
  return {
    kind: "length",
    width: 4,
    littleEndian: false,
    offset: 0,
    adjust: 0,
    whole: false,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    text: false,
    ...fields,
  };
}

Deno.test("parseFramingSpec parses every kind and option", async (t) => {
  const cases: Array<[string, FramingSpec]> = [
    ["raw", { kind: "raw", maxFrameBytes: 16 * MIB, text: false }],
    ["raw,max=1k,text", { kind: "raw", maxFrameBytes: 1024, text: true }],
    ["lines", {
      kind: "lines",
      crlf: false,
      maxFrameBytes: 16 * MIB,
      text: false,
    }],
    ["lines,crlf,text", {
      kind: "lines",
      crlf: true,
      maxFrameBytes: 16 * MIB,
      text: true,
    }],
    ["varint,max=2M", { kind: "varint", maxFrameBytes: 2 * MIB, text: false }],
    ["u8", length({ width: 1 })],
    ["u8be", length({ width: 1 })],
    ["u8le", length({ width: 1 })],
    ["u16be", length({ width: 2 })],
    ["u16le", length({ width: 2, littleEndian: true })],
    ["u24be", length({ width: 3 })],
    ["u24le", length({ width: 3, littleEndian: true })],
    ["u32be", length({})],
    ["u32le", length({ littleEndian: true })],
    ["u64be", length({ width: 8 })],
    ["u64le", length({ width: 8, littleEndian: true })],
    ["u32be,offset=1,adjust=-5", length({ offset: 1, adjust: -5 })],
    [
      "u32le,adjust=-4,whole",
      length({ littleEndian: true, adjust: -4, whole: true }),
    ],
    [
      "u32be,offset=8,adjust=+12,whole",
      length({ offset: 8, adjust: 12, whole: true }),
    ],
    [
      "u16be,max=100,text",
      length({ width: 2, maxFrameBytes: 100, text: true }),
    ],
    ["u32be,max=3k", length({ maxFrameBytes: 3072 })],
    ["u32be,max=3K", length({ maxFrameBytes: 3072 })],
    ["u32be,max=1024m", length({ maxFrameBytes: 1024 * MIB })],
    ["u32be,max=1", length({ maxFrameBytes: 1 })],
    [" u32be , offset = 1 ,adjust= -5 ", length({ offset: 1, adjust: -5 })],
    [
      "u32be,text,max=1k,whole,adjust=-4",
      length({ adjust: -4, whole: true, maxFrameBytes: 1024, text: true }),
    ],
  ];
  for (const [text, expected] of cases) {
    await t.step(`"${text}"`, () => {
      assert.deepEqual(parseFramingSpec(text), expected);
    });
  }
});

Deno.test("parseFramingSpec rejects bad tokens with FramingSpecError naming them", async (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ["", "", 0, /missing kind \(expected raw, lines, varint, or u8/],
    ["  ,max=1k", "", 2, /missing kind/],
    [
      "foo",
      "foo",
      0,
      /unknown kind "foo" \(expected raw, lines, varint, or u8, u16, u24, u32, u64 with be or le\)/,
    ],
    ["U32BE", "U32BE", 0, /unknown kind "U32BE"/],
    ["max=1k,u32be", "max=1k", 0, /unknown kind "max=1k"/],
    [
      "u7be",
      "u7be",
      0,
      /^Cannot parse framing "u7be": unknown width "u7" \(expected u8, u16, u24, u32, u64 with be or le\)$/,
    ],
    ["u128le", "u128le", 0, /unknown width "u128"/],
    [
      "u32",
      "u32",
      0,
      /missing byte order in "u32" \(expected u32be or u32le\)/,
    ],
    [
      "u32xx",
      "u32xx",
      0,
      /unknown byte order "xx" in "u32xx" \(expected be or le\)/,
    ],
    ["u8xx", "u8xx", 0, /unknown byte order "xx" in "u8xx"/],
    [
      "u32be,",
      "",
      6,
      /empty option \(expected offset=N, adjust=N, whole, max=BYTES, text\)/,
    ],
    ["u32be,,text", "", 6, /empty option/],
    [
      "u32be,foo",
      "foo",
      6,
      /unknown option "foo" \(expected offset=N, adjust=N, whole, max=BYTES, text\)/,
    ],
    ["u32be,u32le", "u32le", 6, /unknown option "u32le"/],
    [
      "u32be,crlf",
      "crlf",
      6,
      /option "crlf" does not apply to u32be \(expected offset=N/,
    ],
    [
      "lines,whole",
      "whole",
      6,
      /option "whole" does not apply to lines \(expected crlf, max=BYTES, text\)/,
    ],
    [
      "raw,offset=1",
      "offset=1",
      4,
      /option "offset" does not apply to raw \(expected max=BYTES, text\)/,
    ],
    [
      "varint,adjust=1",
      "adjust=1",
      7,
      /option "adjust" does not apply to varint \(expected max=BYTES, text\)/,
    ],
    ["u32be,max", "max", 6, /option "max" needs a value/],
    [
      "u32be,offset=",
      "offset=",
      6,
      /invalid offset "" \(expected an integer from 0 to 65535\)/,
    ],
    ["u32be,whole=1", "whole=1", 6, /option "whole" takes no value/],
    ["lines,crlf=yes", "crlf=yes", 6, /option "crlf" takes no value/],
    ["u32be,max=1k,max=2k", "max=2k", 13, /duplicate option "max"/],
    [
      "raw,text,max=3",
      "max=3",
      9,
      /max 3 is below 4 bytes, the longest UTF-8 character, which raw with text must keep whole/,
    ],
    ["u32be,text,text", "text", 11, /duplicate option "text"/],
    ["u32be,offset=-1", "offset=-1", 6, /invalid offset "-1"/],
    ["u32be,offset=65536", "offset=65536", 6, /invalid offset "65536"/],
    ["u32be,offset=1.5", "offset=1.5", 6, /invalid offset "1.5"/],
    [
      "u32be,adjust=x",
      "adjust=x",
      6,
      /invalid adjust "x" \(expected an integer from -2147483647 to 2147483647\)/,
    ],
    ["u32be,adjust=2147483648", "adjust=2147483648", 6, /invalid adjust/],
    ["u32be,adjust=--1", "adjust=--1", 6, /invalid adjust/],
    [
      "u32be,max=0",
      "max=0",
      6,
      /invalid max "0" \(expected a byte count from 1 to 1024m, with optional suffix k or m\)/,
    ],
    ["u32be,max=1025m", "max=1025m", 6, /invalid max "1025m"/],
    ["u32be,max=1g", "max=1g", 6, /invalid max "1g"/],
    ["u32be,max=1kb", "max=1kb", 6, /invalid max "1kb"/],
    ["u32be,max=-1", "max=-1", 6, /invalid max "-1"/],
    [
      "u8,adjust=-256",
      "adjust=-256",
      3,
      /adjust "-256" leaves no valid length for a 1-byte field \(expected adjust >= -255\)/,
    ],
    [
      "u32le,adjust=-4,whole,max=3",
      "max=3",
      22,
      /max 3 is below the smallest message of this framing \(4 bytes\)/,
    ],
    [
      "u16be,offset=10,max=9",
      "max=9",
      16,
      /smallest message of this framing \(10 bytes\)/,
    ],
  ];
  for (const [text, token, index, message] of cases) {
    await t.step(`"${text}"`, () => {
      assert.throws(() => parseFramingSpec(text), (error) => {
        assert.ok(error instanceof FramingSpecError);
        assert.ok(error instanceof SyntaxError);
        assert.equal(error.name, "FramingSpecError");
        assert.equal(error.spec, text);
        assert.equal(error.token, token);
        assert.equal(error.index, index);
        assert.match(error.message, message);
        assert.ok(error.message.startsWith(`Cannot parse framing "${text}": `));
        return true;
      });
    });
  }
});

Deno.test("parseFramingSpec accepts a positive adjust whose smallest message fits max", () => {
  const spec = parseFramingSpec("u16be,adjust=20,max=20");
  assert.equal(maxMessageBytes(spec), 20);
});

Deno.test("formatFramingSpec writes canonical text that parses back to the same spec", async (t) => {
  const cases: Array<[string, string]> = [
    ["raw", "raw"],
    ["raw,text,max=16m", "raw,text"],
    ["lines,text,crlf", "lines,crlf,text"],
    ["varint,max=1048576", "varint,max=1m"],
    ["u8le", "u8"],
    ["u16le,max=1000", "u16le,max=1000"],
    ["u24be,max=2048", "u24be,max=2k"],
    ["u32be,adjust=-5,offset=1", "u32be,offset=1,adjust=-5"],
    ["u32le,whole,adjust=-4", "u32le,adjust=-4,whole"],
    ["u32be,offset=8,adjust=+12,whole", "u32be,offset=8,adjust=12,whole"],
    ["u64be,max=1024m,text", "u64be,max=1024m,text"],
    ["u32be,offset=0,adjust=0", "u32be"],
  ];
  for (const [text, canonical] of cases) {
    await t.step(`"${text}" -> "${canonical}"`, () => {
      const spec = parseFramingSpec(text);
      assert.equal(formatFramingSpec(spec), canonical);
      assert.deepEqual(parseFramingSpec(canonical), spec);
    });
  }
});

Deno.test("maxMessageBytes bounds max by what the length field can express", async (t) => {
  const cases: Array<[string, number]> = [
    ["raw", 16 * MIB],
    ["lines,max=10", 10],
    ["varint,max=1k", 1024],
    ["u8", 255],
    ["u8,whole", 256],
    ["u8,adjust=-1,whole", 255],
    ["u8,offset=1", 256],
    ["u8,adjust=2", 257],
    ["u16be", 65535],
    ["u16be,offset=1,adjust=-3,whole", 65535],
    ["u24le", 16777215],
    ["u32be", 16 * MIB],
    ["u32be,max=100", 100],
    ["u64le,max=1024m", 1024 * MIB],
  ];
  for (const [text, expected] of cases) {
    await t.step(`"${text}"`, () => {
      assert.equal(maxMessageBytes(parseFramingSpec(text)), expected);
    });
  }
});

Deno.test("normalizeFramingSpec rejects specs built in code with fields out of range", async (t) => {
  const bad: FramingSpec[] = [
    { kind: "raw", maxFrameBytes: 0, text: false },
    { kind: "raw", maxFrameBytes: 1.5, text: false },
    { kind: "lines", crlf: false, maxFrameBytes: 2 * 1024 * MIB, text: false },
    length({ width: 5 as 4 }),
    length({ offset: -1 }),
    length({ offset: 0.5 }),
    length({ adjust: Number.NaN }),
    length({ width: 1, adjust: -300 }),
    { kind: "nope" } as unknown as FramingSpec,
  ];
  for (const spec of bad) {
    await t.step(JSON.stringify(spec), () => {
      assert.throws(() => normalizeFramingSpec(spec), FramingSpecError);
    });
  }
  await t.step("a valid spec comes back equal", () => {
    const spec = length({ offset: 1, adjust: -5 });
    assert.deepEqual(normalizeFramingSpec(spec), spec);
  });
});
