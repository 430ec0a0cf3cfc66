import assert from "node:assert/strict";
import {
  InvalidMessageError,
  WebSocketProtocolError,
} from "../../src/errors.ts";
import {
  encodeClosePayload,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
} from "../../src/websocket/close_frame.ts";

function closePayload(
  code: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  const reasonBytes = typeof reason === "string"
    ? new TextEncoder().encode(reason)
    : reason;
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}

Deno.test("isValidCloseCode allows exactly 1000-1003, 1007-1014 and 3000-4999", async (t) => {
  const cases: [number, boolean][] = [
    [0, false],
    [999, false],
    [1000, true],
    [1001, true],
    [1002, true],
    [1003, true],
    [1004, false],
    [1005, false],
    [1006, false],
    [1007, true],
    [1008, true],
    [1009, true],
    [1010, true],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1015, false],
    [1016, false],
    [2000, false],
    [2999, false],
    [3000, true],
    [4000, true],
    [4999, true],
    [5000, false],
    [65535, false],
  ];
  for (const [code, expected] of cases) {
    await t.step(`${code} -> ${expected}`, () => {
      assert.equal(isValidCloseCode(code), expected);
    });
  }
});

Deno.test("parseClosePayload reads the code and the reason", async (t) => {
  await t.step("an empty payload means 1005 without a reason", () => {
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), {
      code: 1005,
      reason: "",
    });
  });
  await t.step("a code alone has an empty reason", () => {
    assert.deepEqual(parseClosePayload(closePayload(1000)), {
      code: 1000,
      reason: "",
    });
  });
  await t.step("a multi-byte UTF-8 reason is decoded", () => {
    assert.deepEqual(parseClosePayload(closePayload(4999, "au revoir ✓ 😀")), {
      code: 4999,
      reason: "au revoir ✓ 😀",
    });
  });
  await t.step("a 123-byte reason is accepted", () => {
    const reason = "r".repeat(MAX_CLOSE_REASON_BYTES);
    assert.equal(parseClosePayload(closePayload(3000, reason)).reason, reason);
  });
});

Deno.test("parseClosePayload rejects a 1-byte payload with WebSocketProtocolError", () => {
  assert.throws(
    () => parseClosePayload(new Uint8Array([0x03])),
    WebSocketProtocolError,
  );
});

Deno.test("parseClosePayload rejects codes a peer must not send with WebSocketProtocolError", async (t) => {
  for (
    const code of [
      0,
      999,
      1004,
      1005,
      1006,
      1015,
      1016,
      2000,
      2999,
      5000,
      65535,
    ]
  ) {
    await t.step(`code ${code}`, () => {
      assert.throws(
        () => parseClosePayload(closePayload(code, "x")),
        WebSocketProtocolError,
      );
    });
  }
});

Deno.test("parseClosePayload rejects a reason that is not valid UTF-8 with InvalidMessageError", async (t) => {
  const cases: [string, number[]][] = [
    ["byte 0xff", [0x61, 0xff]],
    ["a surrogate", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0x61, 0xe2, 0x82]],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseClosePayload(closePayload(1000, new Uint8Array(bytes))),
        InvalidMessageError,
      );
    });
  }
});

Deno.test("encodeClosePayload writes the code big-endian then the reason", async (t) => {
  await t.step("code only", () => {
    assert.deepEqual(
      encodeClosePayload(1000, ""),
      new Uint8Array([0x03, 0xe8]),
    );
  });
  await t.step("code and reason", () => {
    assert.deepEqual(
      encodeClosePayload(4001, "idle"),
      new Uint8Array([0x0f, 0xa1, 0x69, 0x64, 0x6c, 0x65]),
    );
  });
  await t.step("1005 yields an empty payload", () => {
    assert.deepEqual(encodeClosePayload(1005, "ignored"), new Uint8Array(0));
  });
  await t.step("round-trips through parseClosePayload", () => {
    for (
      const [code, reason] of [[1001, "bye"], [1011, "backend error"], [
        3000,
        "é",
      ]] as const
    ) {
      assert.deepEqual(parseClosePayload(encodeClosePayload(code, reason)), {
        code,
        reason,
      });
    }
  });
});

Deno.test("encodeClosePayload cuts the reason to 123 bytes on a character boundary", async (t) => {
  await t.step("123 ASCII bytes are kept whole", () => {
    const payload = encodeClosePayload(1000, "a".repeat(123));
    assert.equal(payload.length, 125);
  });
  await t.step("200 ASCII bytes are cut to 123", () => {
    const payload = encodeClosePayload(1000, "a".repeat(200));
    assert.equal(payload.length, 2 + MAX_CLOSE_REASON_BYTES);
    assert.equal(parseClosePayload(payload).reason, "a".repeat(123));
  });
  // Each reason puts a multi-byte character across the 123-byte mark.
  const cases: [string, string, number][] = [
    ["2-byte characters", "é".repeat(100), 122],
    ["3-byte characters", "€".repeat(50), 123],
    ["3-byte characters after one ASCII byte", "a" + "€".repeat(50), 121],
    ["4-byte characters", "😀".repeat(40), 120],
    ["4-byte characters after two ASCII bytes", "ab" + "😀".repeat(40), 122],
  ];
  for (const [name, reason, expectedBytes] of cases) {
    await t.step(name, () => {
      const payload = encodeClosePayload(1000, reason);
      assert.equal(payload.length, 2 + expectedBytes);
      const parsed = parseClosePayload(payload);
      assert.ok(reason.startsWith(parsed.reason));
      assert.equal(
        new TextEncoder().encode(parsed.reason).length,
        expectedBytes,
      );
    });
  }
});
