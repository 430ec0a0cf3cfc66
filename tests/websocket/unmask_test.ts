import assert from "node:assert/strict";
import { assertBytesEqual } from "../_util/assert.ts";
import {
  maskKeyAt,
  unmaskInPlace,
  unmaskWithKey,
} from "../../src/websocket/unmask.ts";

const MASKS: readonly Uint8Array[] = [
  new Uint8Array([0x12, 0x34, 0x56, 0x78]),
  new Uint8Array([0xff, 0x00, 0x80, 0x01]),
  new Uint8Array([0, 0, 0, 0]),
];

/** The byte-wise reference: RFC 6455 section 5.3, transformed-octet-i. */
function referenceUnmask(
  bytes: Uint8Array,
  mask: Uint8Array,
  phase: number,
): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    out[i] = out[i]! ^ mask[(i + phase) % 4]!;
  }
  return out;
}

function patterned(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + salt * 7 + 3) & 0xff;
  return bytes;
}

/**
 * Runs unmaskInPlace on a view at `byteOffset` inside a larger buffer and
 * checks the view against the reference and the guard bytes around it.
 */
function checkCase(
  length: number,
  byteOffset: number,
  phase: number,
  mask: Uint8Array,
): void {
  const guard = 8;
  const backing = new Uint8Array(byteOffset + length + guard).fill(0xa5);
  const view = backing.subarray(byteOffset, byteOffset + length);
  const input = patterned(length, byteOffset + phase);
  view.set(input);
  unmaskInPlace(view, mask, phase);
  const expected = referenceUnmask(input, mask, phase);
  assertBytesEqual(
    view,
    expected,
    `length ${length}, byteOffset ${byteOffset}, phase ${phase}, mask ${[
      ...mask,
    ]}`,
  );
  for (let i = 0; i < byteOffset; i++) assert.equal(backing[i], 0xa5);
  for (let i = byteOffset + length; i < backing.length; i++) {
    assert.equal(backing[i], 0xa5, `guard byte ${i} after the view changed`);
  }
}

Deno.test("unmaskInPlace matches the byte-wise reference for lengths 0 to 100 at every phase and byteOffset", () => {
  for (const mask of MASKS) {
    for (let phase = 0; phase < 4; phase++) {
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (let length = 0; length <= 100; length++) {
          checkCase(length, byteOffset, phase, mask);
        }
      }
    }
  }
});

Deno.test("unmaskInPlace matches the byte-wise reference for large payloads", async (t) => {
  for (const length of [1023, 4096, 65535, 65536, 65537, 1 << 20]) {
    await t.step(`length ${length}`, () => {
      for (const byteOffset of [0, 1, 2, 3, 5]) {
        for (let phase = 0; phase < 4; phase++) {
          checkCase(length, byteOffset, phase, MASKS[0]!);
        }
      }
    });
  }
});

Deno.test("unmaskInPlace twice restores the original bytes", () => {
  const original = patterned(1000, 9);
  const bytes = original.slice();
  const mask = MASKS[1]!;
  unmaskInPlace(bytes.subarray(3), mask, 2);
  // The first pass must equal the reference: XOR twice restores the input
  // for any consistent wrong key rotation, so the round trip alone proves
  // nothing about the key order.
  const once = original.slice();
  once.set(referenceUnmask(original.subarray(3), mask, 2), 3);
  assertBytesEqual(bytes, once, "after one pass");
  unmaskInPlace(bytes.subarray(3), mask, 2);
  assertBytesEqual(bytes, original, "after two passes");
});

Deno.test("unmaskInPlace applies key byte (i + phase) mod 4 to byte i", () => {
  // Distinct key bytes and a zero payload: the output is the key stream
  // itself, so a rotated or reversed key shows at the first byte.
  const mask = new Uint8Array([0x11, 0x22, 0x44, 0x88]);
  for (let phase = 0; phase < 4; phase++) {
    for (const length of [7, 64]) {
      const bytes = new Uint8Array(length);
      unmaskInPlace(bytes, mask, phase);
      const expected = Uint8Array.from(
        { length },
        (_, i) => mask[(i + phase) % 4]!,
      );
      assertBytesEqual(bytes, expected, `phase ${phase}, length ${length}`);
    }
  }
});

Deno.test("unmaskInPlace on consecutive pieces with running phases equals one call on the whole", () => {
  const mask = MASKS[0]!;
  const whole = patterned(300, 1);
  const expected = referenceUnmask(whole, mask, 0);
  const pieces = whole.slice();
  // Cut points chosen so that pieces start at every phase and both below and
  // above the word-wise threshold.
  const cuts = [0, 1, 3, 6, 40, 41, 77, 150, 151, 300];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const from = cuts[i]!;
    unmaskInPlace(pieces.subarray(from, cuts[i + 1]!), mask, from & 3);
  }
  assertBytesEqual(pieces, expected);
});

Deno.test("unmaskInPlace on an empty view leaves its buffer unchanged", () => {
  const backing = new Uint8Array([1, 2, 3, 4]);
  unmaskInPlace(backing.subarray(2, 2), MASKS[0]!, 1);
  assert.deepEqual(backing, new Uint8Array([1, 2, 3, 4]));
});

Deno.test("unmaskWithKey with a key read by maskKeyAt matches the byte-wise reference at every phase", () => {
  // Compared with the independent reference, not with unmaskInPlace, which
  // is implemented with unmaskWithKey and so could not disagree with it.
  const mask = new Uint8Array([0x9a, 0x01, 0xff, 0x37]);
  const key = maskKeyAt(mask, 0);
  for (let phase = 0; phase < 4; phase++) {
    for (const length of [0, 3, 16, 37, 1000]) {
      const original = Uint8Array.from({ length }, (_, i) => (i * 31) & 0xff);
      const viaKey = original.slice();
      unmaskWithKey(viaKey, key, phase);
      assertBytesEqual(
        viaKey,
        referenceUnmask(original, mask, phase),
        `phase ${phase}, length ${length}`,
      );
    }
  }
});

Deno.test("maskKeyAt puts key byte k in bits 8k to 8k+7", () => {
  const key = maskKeyAt(new Uint8Array([0xee, 0x01, 0x02, 0x03, 0x84]), 1);
  assert.equal(key & 0xff, 0x01);
  assert.equal((key >>> 8) & 0xff, 0x02);
  assert.equal((key >>> 16) & 0xff, 0x03);
  assert.equal((key >>> 24) & 0xff, 0x84);
});
