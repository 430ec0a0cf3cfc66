import assert from "node:assert/strict";
import { FrameTooLargeError, TruncatedFrameError } from "../../src/errors.ts";
import { RawDecoder, RawEncoder } from "../../src/framing/raw.ts";
import type { RawFramingSpec } from "../../src/framing/spec.ts";

function spec(maxFrameBytes = 1024, text = false): RawFramingSpec {
  return { kind: "raw", maxFrameBytes, text };
}

const utf8 = new TextEncoder();

function decode(
  chunks: Uint8Array[],
  max?: number,
  text?: boolean,
): number[][] {
  const decoder = new RawDecoder(spec(max, text));
  const messages: number[][] = [];
  for (const chunk of chunks) decoder.push(chunk, (m) => messages.push([...m]));
  decoder.finish();
  return messages;
}

Deno.test("RawDecoder passes each non-empty chunk on as one view", () => {
  const decoder = new RawDecoder(spec());
  const chunk = new Uint8Array([1, 2, 3]);
  const seen: Uint8Array[] = [];
  decoder.push(chunk, (m) => seen.push(m));
  decoder.push(new Uint8Array(0), (m) => seen.push(m));
  decoder.push(new Uint8Array([4]), (m) => seen.push(m));
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.buffer, chunk.buffer);
  assert.deepEqual(seen[1], new Uint8Array([4]));
  assert.equal(decoder.pendingBytes, 0);
  decoder.finish();
});

Deno.test("RawDecoder splits a chunk longer than max into messages of at most max", () => {
  assert.deepEqual(decode([new Uint8Array([1, 2, 3, 4, 5])], 2), [[1, 2], [
    3,
    4,
  ], [5]]);
  assert.deepEqual(decode([new Uint8Array([1, 2])], 2), [[1, 2]]);
});

Deno.test("RawDecoder.finish never throws without text", () => {
  const decoder = new RawDecoder(spec());
  decoder.push(new Uint8Array([0xe2, 0x82]), () => {});
  decoder.finish();
});

Deno.test("RawDecoder with text holds back a character split across chunks", async (t) => {
  const euro = [0xe2, 0x82, 0xac];
  const cases: Array<[string, number[][], number[][]]> = [
    ["split 1/2", [[0x61, 0xe2], [0x82, 0xac, 0x62]], [[0x61], euro, [0x62]]],
    ["split 2/1", [[0x61, 0xe2, 0x82], [0xac]], [[0x61], euro]],
    ["split 1/1/1", [[0xe2], [0x82], [0xac]], [euro]],
    ["four-byte character split 3/1", [[0xf0, 0x9f, 0x98], [0x80, 0x21]], [[
      0xf0,
      0x9f,
      0x98,
      0x80,
    ], [0x21]]],
    ["two-byte character split", [[0xc3], [0xa9]], [[0xc3, 0xa9]]],
    ["complete characters pass as they are", [[0x61, ...euro]], [[
      0x61,
      ...euro,
    ]]],
    ["an invalid continuation is passed on for validation", [[0xe2], [0x41]], [[
      0xe2,
    ], [0x41]]],
  ];
  for (const [name, chunks, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(
        decode(chunks.map((c) => new Uint8Array(c)), 1024, true),
        expected,
      );
    });
  }
  await t.step("a split at max keeps characters whole", () => {
    const chunk = utf8.encode("a\u{1F600}b\u{1F600}");
    assert.deepEqual(
      decode([chunk], 4, true).map((m) =>
        new TextDecoder().decode(new Uint8Array(m))
      ),
      ["a", "\u{1F600}", "b", "\u{1F600}"],
    );
  });
});

Deno.test("RawDecoder with text throws TruncatedFrameError when the stream ends inside a character", () => {
  const decoder = new RawDecoder(spec(1024, true));
  decoder.push(new Uint8Array([0x61, 0xe2, 0x82]), () => {});
  assert.equal(decoder.pendingBytes, 2);
  assert.throws(
    () => decoder.finish(),
    (error) => error instanceof TruncatedFrameError && error.pendingBytes === 2,
  );
});

Deno.test("RawEncoder writes messages verbatim and rejects those above max", () => {
  const encoder = new RawEncoder(spec(4));
  const message = new Uint8Array([1, 2, 3]);
  assert.equal(encoder.bodyOffset, 0);
  assert.equal(encoder.trailer.length, 0);
  assert.equal(encoder.frameLength(message), 3);
  assert.equal(encoder.encodeHeadInto(message, new Uint8Array(0), 0), 0);
  const target = new Uint8Array(5);
  assert.equal(encoder.encodeInto(message, target, 1), 3);
  assert.deepEqual(target, new Uint8Array([0, 1, 2, 3, 0]));
  const frame = encoder.encode(message);
  assert.deepEqual(frame, message);
  assert.notEqual(frame.buffer, message.buffer);
  assert.deepEqual(encoder.encode(new Uint8Array(0)), new Uint8Array(0));
  assert.throws(
    () => encoder.encode(new Uint8Array(5)),
    (error) =>
      error instanceof FrameTooLargeError && error.size === 5 &&
      error.limit === 4,
  );
});
