import assert from "node:assert/strict";
import {
  FrameTooLargeError,
  MalformedFrameError,
  TruncatedFrameError,
} from "../../src/errors.ts";
import {
  VarintDecoder,
  VarintEncoder,
  varintLength,
  writeVarint,
} from "../../src/framing/varint.ts";
import type { VarintFramingSpec } from "../../src/framing/spec.ts";

function spec(maxFrameBytes = 16 * 1024 * 1024): VarintFramingSpec {
  return { kind: "varint", maxFrameBytes, text: false };
}

function bytes(
  ...parts: Array<number | readonly number[] | Uint8Array>
): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else out.push(...part);
  }
  return new Uint8Array(out);
}

function decode(chunks: Uint8Array[], max?: number): Uint8Array[] {
  const decoder = new VarintDecoder(spec(max));
  const messages: Uint8Array[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk, (m) => messages.push(m.slice()));
  }
  decoder.finish();
  return messages;
}

function pushAll(chunks: Uint8Array[], max?: number): VarintDecoder {
  const decoder = new VarintDecoder(spec(max));
  for (const chunk of chunks) decoder.push(chunk, () => {});
  return decoder;
}

Deno.test("writeVarint and varintLength encode unsigned LEB128", async (t) => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [150, [0x96, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [2 ** 21, [0x80, 0x80, 0x80, 0x01]],
    [2 ** 28, [0x80, 0x80, 0x80, 0x80, 0x01]],
    [2 ** 31, [0x80, 0x80, 0x80, 0x80, 0x08]],
    [2 ** 35, [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, expected] of cases) {
    await t.step(String(value), () => {
      const target = new Uint8Array(10);
      assert.equal(writeVarint(value, target, 1), expected.length);
      assert.deepEqual([...target.subarray(1, 1 + expected.length)], expected);
      assert.equal(varintLength(value), expected.length);
    });
  }
});

Deno.test("VarintDecoder handles the split-boundary cases", async (t) => {
  const big = new Uint8Array(300).map((_, i) => i);
  const bigFrame = bytes(0xac, 0x02, big);
  const cases: Array<[string, Uint8Array[], Uint8Array[]]> = [
    ["frame in one chunk", [bytes(2, 7, 8)], [bytes(7, 8)]],
    ["two-byte header split 1/1", [bigFrame.slice(0, 1), bigFrame.slice(1)], [
      big,
    ]],
    ["payload split", [bigFrame.slice(0, 100), bigFrame.slice(100)], [big]],
    ["header then payload", [bigFrame.slice(0, 2), bigFrame.slice(2)], [big]],
    ["many frames in one chunk", [bytes(1, 9, 0, 2, 7, 8)], [
      bytes(9),
      bytes(),
      bytes(7, 8),
    ]],
    ["empty payload", [bytes(0)], [bytes()]],
    ["every byte its own chunk", [...bytes(2, 7, 8, 0)].map((b) => bytes(b)), [
      bytes(7, 8),
      bytes(),
    ]],
  ];
  for (const [name, chunks, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(decode(chunks), expected);
    });
  }
  await t.step("three-byte header split 1/1/1", () => {
    const body = new Uint8Array(16384).fill(5);
    const chunks = [bytes(0x80), bytes(0x80), bytes(0x01), body];
    assert.deepEqual(decode(chunks), [body]);
    assert.equal(pushAll(chunks.slice(0, 3)).pendingBytes, 3);
  });
});

Deno.test("VarintDecoder accepts exactly max and rejects max + 1 before buffering", async (t) => {
  await t.step("one-byte length, exactly max", () => {
    assert.deepEqual(decode([bytes(10, new Uint8Array(10))], 10), [
      new Uint8Array(10),
    ]);
  });
  await t.step("one-byte length, max + 1", () => {
    assert.throws(
      () => pushAll([bytes(11)], 10),
      (error) =>
        error instanceof FrameTooLargeError && error.size === 11 &&
        error.limit === 10,
    );
  });
  await t.step("two-byte length, max + 1, header split", () => {
    assert.throws(
      () => pushAll([bytes(0xad), bytes(0x02)], 300),
      (error) => error instanceof FrameTooLargeError && error.size === 301,
    );
  });
  await t.step("ten-byte length far above max", () => {
    assert.throws(
      () =>
        pushAll([
          bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
        ]),
      FrameTooLargeError,
    );
  });
});

Deno.test("VarintDecoder rejects overlong lengths with MalformedFrameError", async (t) => {
  const cases: Array<[string, Uint8Array[]]> = [
    ["zero in two bytes", [bytes(0x80, 0x00)]],
    ["one in two bytes, split", [bytes(0x81), bytes(0x00)]],
    ["trailing zero group", [bytes(0x81, 0x80, 0x00)]],
    ["eleven bytes", [new Uint8Array(10).fill(0x80), bytes(0x01)]],
    ["eleven bytes in one chunk", [bytes(new Uint8Array(10).fill(0x80), 0x01)]],
  ];
  for (const [name, chunks] of cases) {
    await t.step(name, () => {
      assert.throws(() => pushAll(chunks), MalformedFrameError);
    });
  }
});

// Regression (issue 17 item 10): a ten-byte varint of 2^64 or more (its last
// byte above 1) is no 64-bit length; it closed 1009 as "too big" where the
// README's framing table says 1002 for a header no 64-bit length can be.
Deno.test("VarintDecoder rejects a length of 2^64 or more with MalformedFrameError (1002)", async (t) => {
  const nine = new Uint8Array(9).fill(0x80);
  const cases: Array<[string, Uint8Array[]]> = [
    ["2^64", [bytes(nine, 0x02)]],
    ["2^70 - 1", [bytes(new Uint8Array(9).fill(0xff), 0x7f)]],
    ["2^64, header split", [
      nine.subarray(0, 4),
      bytes(nine.subarray(4), 0x02),
    ]],
  ];
  for (const [name, chunks] of cases) {
    await t.step(name, () => {
      // MalformedFrameError closes 1002 (src/session/close_codes.ts).
      assert.throws(() => pushAll(chunks), MalformedFrameError);
    });
  }
});

Deno.test("VarintDecoder.finish throws TruncatedFrameError with the pending bytes", async (t) => {
  const cases: Array<[string, Uint8Array, number]> = [
    ["partial header", bytes(0xac), 1],
    ["partial payload", bytes(3, 1, 2), 3],
    ["partial payload with a two-byte header", bytes(0xac, 0x02, 1), 3],
  ];
  for (const [name, chunk, pending] of cases) {
    await t.step(name, () => {
      const decoder = pushAll([chunk]);
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

Deno.test("VarintEncoder frames messages and rejects those above max", () => {
  const encoder = new VarintEncoder(spec(300));
  assert.equal(encoder.bodyOffset, 0);
  assert.equal(encoder.frameLength(new Uint8Array(300)), 302);
  const target = new Uint8Array(4);
  assert.equal(encoder.encodeHeadInto(new Uint8Array(150), target, 1), 2);
  assert.deepEqual(target, bytes(0, 0x96, 0x01, 0));
  assert.deepEqual(encoder.encode(bytes()), bytes(0));
  assert.throws(
    () => encoder.encode(new Uint8Array(301)),
    (error) => error instanceof FrameTooLargeError && error.limit === 300,
  );
});
