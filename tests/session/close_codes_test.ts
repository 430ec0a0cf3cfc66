import assert from "node:assert/strict";
import {
  BackendConnectError,
  FrameTooLargeError,
  InvalidMessageError,
  LengthFieldIsTextError,
  MalformedFrameError,
  TruncatedFrameError,
  WebSocketProtocolError,
} from "../../src/errors.ts";
import { CloseCode, closeCodeForError } from "../../src/session/close_codes.ts";
import { isValidCloseCode } from "../../src/websocket/close_frame.ts";
import { MessageInflater } from "../../src/websocket/message_deflate.ts";

Deno.test("CloseCode has the RFC 6455 and wsgate values", () => {
  assert.deepEqual({ ...CloseCode }, {
    NORMAL: 1000,
    GOING_AWAY: 1001,
    PROTOCOL_ERROR: 1002,
    NO_STATUS: 1005,
    ABNORMAL: 1006,
    INVALID_PAYLOAD: 1007,
    POLICY_VIOLATION: 1008,
    MESSAGE_TOO_BIG: 1009,
    INTERNAL_ERROR: 1011,
    TRY_AGAIN_LATER: 1013,
    BACKEND_SILENT: 4000,
    IDLE_TIMEOUT: 4001,
    LIFETIME_EXCEEDED: 4002,
    STALLED: 4003,
  });
});

Deno.test("CloseCode values sent on the wire are valid close codes", () => {
  const neverSent = new Set<number>([CloseCode.NO_STATUS, CloseCode.ABNORMAL]);
  for (const [name, code] of Object.entries(CloseCode)) {
    assert.equal(isValidCloseCode(code), !neverSent.has(code), name);
  }
});

Deno.test("closeCodeForError maps each error class to its code and reason", async (t) => {
  const cases: [string, unknown, "browser" | "backend", number, string][] = [
    [
      "FrameTooLargeError from the browser",
      new FrameTooLargeError(9, 8),
      "browser",
      1009,
      "message too big",
    ],
    [
      "FrameTooLargeError from the backend",
      new FrameTooLargeError(9, 8),
      "backend",
      1009,
      "backend frame too big",
    ],
    [
      "LengthFieldIsTextError from the backend",
      new LengthFieldIsTextError("+OK ", 726355744, 65536),
      "backend",
      1009,
      "backend sent text, not length-prefixed frames: try --framing raw or lines",
    ],
    [
      "MalformedFrameError from the browser",
      new MalformedFrameError("x"),
      "browser",
      1002,
      "malformed frame",
    ],
    [
      "MalformedFrameError from the backend",
      new MalformedFrameError("x"),
      "backend",
      1002,
      "malformed backend frame",
    ],
    [
      "InvalidMessageError from the browser",
      new InvalidMessageError("x"),
      "browser",
      1007,
      "message cannot be framed",
    ],
    [
      "InvalidMessageError from the backend",
      new InvalidMessageError("x"),
      "backend",
      1007,
      "invalid backend message",
    ],
    [
      "WebSocketProtocolError",
      new WebSocketProtocolError("x"),
      "browser",
      1002,
      "protocol error",
    ],
    [
      "TruncatedFrameError",
      new TruncatedFrameError(3),
      "backend",
      1011,
      "backend closed mid-frame",
    ],
    [
      "BackendConnectError",
      new BackendConnectError("127.0.0.1:1"),
      "backend",
      1011,
      "backend unreachable",
    ],
    [
      "ConnectionReset",
      new Deno.errors.ConnectionReset("reset"),
      "backend",
      1011,
      "backend connection reset",
    ],
    ["an unknown Error", new Error("boom"), "backend", 1011, "backend error"],
    ["a thrown string", "boom", "browser", 1011, "browser connection error"],
    ["undefined", undefined, "backend", 1011, "backend error"],
  ];
  for (const [name, error, side, code, reason] of cases) {
    await t.step(`${name} -> ${code}`, () => {
      assert.deepEqual(closeCodeForError(error, side), { code, reason });
    });
  }
});

Deno.test("closeCodeForError reasons fit in a close frame", () => {
  const errors: unknown[] = [
    new FrameTooLargeError(9, 8),
    new MalformedFrameError("x"),
    new InvalidMessageError("x"),
    new WebSocketProtocolError("x"),
    new TruncatedFrameError(1),
    new BackendConnectError("h:1"),
    new Deno.errors.ConnectionReset("x"),
    new Error("x"),
  ];
  for (const error of errors) {
    for (const side of ["browser", "backend"] as const) {
      const { reason } = closeCodeForError(error, side);
      assert.ok(new TextEncoder().encode(reason).length <= 123, reason);
    }
  }
});

Deno.test("closeCodeForError names invalid UTF-8 from the browser apart from unframeable messages", () => {
  assert.deepEqual(
    closeCodeForError(
      new InvalidMessageError(
        "Cannot accept text message as it is not valid UTF-8",
      ),
      "browser",
    ),
    { code: 1007, reason: "invalid UTF-8" },
  );
  assert.deepEqual(
    closeCodeForError(
      new InvalidMessageError(
        "Cannot frame message as it contains the delimiter",
      ),
      "browser",
    ),
    { code: 1007, reason: "message cannot be framed" },
  );
});

Deno.test("closeCodeForError names corrupt compressed data from the browser (permessage-deflate) with 1007", async () => {
  const inflater = new MessageInflater({ noContextTakeover: true });
  const error = await inflater.decompress(new Uint8Array([0xff, 0xff]))
    .then(() => undefined, (e: unknown) => e);
  inflater.close();
  assert.deepEqual(closeCodeForError(error, "browser"), {
    code: 1007,
    reason: "invalid compressed data",
  });
});
