/**
 * RFC 6455 conformance of the gateway over real sockets, in the spirit of the
 * Autobahn TestSuite case groups: a raw TCP client sends hand-crafted bytes
 * to a gateway in front of an echo backend (u32be framing, so every message
 * comes back as one message), and each case asserts the exact outcome: the
 * echoed message, or the close code the gateway sends.
 */

import assert from "node:assert/strict";
import {
  encodeClientFrame,
  Opcode,
  writeFrameHeader,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";
import { parseClosePayload } from "../../src/websocket/close_frame.ts";
import { assertBytesEqual, within } from "../_util/assert.ts";
import {
  concat,
  startEchoBackend,
  startRecordingBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import { type GatewayFixture, startGateway } from "../_util/gateway_fixture.ts";
import { RawWsClient, type ReceivedFrame } from "../_util/raw_ws_client.ts";

/** Echo route: messages come back as binary. */
const BINARY_PATH = "/";
/** Echo route: messages come back as text (validated UTF-8). */
const TEXT_PATH = "/text";
/** Echo route with a 1000-byte message limit. */
const SMALL_PATH = "/small";
const SMALL_LIMIT = 1000;
/** Route to a backend that records what it receives. */
const RECORD_PATH = "/record";

const ENCODER = new TextEncoder();
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/**
 * Steps leave sessions finishing their close in the background, so the
 * per-step sanitizers are off; the test's own sanitizers still check that
 * every socket and timer is released once the gateway is stopped.
 */
const STEP_SANITIZERS = {
  sanitizeOps: false,
  sanitizeResources: false,
} as const;

function bytesOf(payload: Uint8Array | string): Uint8Array {
  return typeof payload === "string" ? ENCODER.encode(payload) : payload;
}

function frame(
  opcode: number,
  payload: Uint8Array | string = new Uint8Array(0),
  options: { fin?: boolean; rsv?: number; masked?: boolean } = {},
): Uint8Array {
  return encodeClientFrame(opcode, bytesOf(payload), {
    mask: MASK,
    ...options,
  });
}

function closeFrame(
  code: number,
  reason: Uint8Array | string = "",
): Uint8Array {
  const reasonBytes = bytesOf(reason);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return frame(Opcode.CLOSE, payload);
}

/** A masked client frame header announcing `length` bytes (no payload). */
function headerOnly(opcode: number, length: number, fin = true): Uint8Array {
  const header = new Uint8Array(14);
  const size = writeFrameHeader(header, 0, opcode, length);
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = header[1]! | 0x80;
  header.set(MASK, size);
  return header.subarray(0, size + 4);
}

function patterned(length: number, salt = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + salt) & 0xff;
  return bytes;
}

async function open(
  fixture: GatewayFixture,
  path: string,
): Promise<RawWsClient> {
  const { client, response } = await RawWsClient.connect(fixture.port, path);
  if (response.status !== 101) {
    await client.close();
    assert.fail(`handshake on ${path} answered ${response.status}`);
  }
  return client;
}

function describe(frame: ReceivedFrame | undefined): string {
  if (frame === undefined) return "end of stream";
  if (frame.kind === "close") return `close ${frame.code} "${frame.reason}"`;
  return `${frame.kind} of ${frame.payload.length} bytes`;
}

async function expectMessage(
  client: RawWsClient,
  isText: boolean,
  payload: Uint8Array | string,
): Promise<void> {
  const got = await client.next();
  assert.ok(
    got?.kind === "message",
    `expected a message, got ${describe(got)}`,
  );
  assert.equal(got.isText, isText, "message type");
  assertBytesEqual(got.payload, bytesOf(payload), "message payload");
}

async function expectControl(
  client: RawWsClient,
  kind: "ping" | "pong",
  payload: Uint8Array | string,
): Promise<void> {
  const got = await client.next();
  assert.ok(got?.kind === kind, `expected a ${kind}, got ${describe(got)}`);
  assert.deepEqual(got.payload, bytesOf(payload));
}

/**
 * Expects the gateway's next frame to be a close with `code` (nothing
 * relayed before it), then answers it like a well-behaved client.
 */
async function expectClose(
  client: RawWsClient,
  code: number,
): Promise<{ code: number; reason: string }> {
  const got = await client.next();
  assert.ok(
    got?.kind === "close",
    `expected close ${code}, got ${describe(got)}`,
  );
  assert.equal(got.code, code, `close code (reason "${got.reason}")`);
  try {
    await client.sendRaw(
      code === 1005 ? frame(Opcode.CLOSE) : closeFrame(code),
    );
  } catch {
    // The gateway may already have closed the connection.
  }
  return got;
}

/** Opens a session on `path`, sends each of `writes`, expects close `code`. */
async function expectFailure(
  fixture: GatewayFixture,
  path: string,
  writes: readonly Uint8Array[],
  code: number,
): Promise<void> {
  await using client = await open(fixture, path);
  for (const bytes of writes) await client.sendRaw(bytes);
  await expectClose(client, code);
}

/** Sends one raw HTTP request and reads the response until the server closes. */
async function httpExchange(
  port: number,
  request: Uint8Array | string,
): Promise<{ status: number; head: string }> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, bytesOf(request));
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  const readAll = async () => {
    for (let reads = 0; reads < 1000; reads++) {
      const count = await conn.read(buffer);
      if (count === null) return;
      chunks.push(buffer.slice(0, count));
    }
  };
  await within(readAll(), 5000, "the HTTP response");
  const text = new TextDecoder("latin1").decode(concat(chunks));
  const head = text.slice(0, Math.max(0, text.indexOf("\r\n\r\n")));
  return { status: Number(head.split(" ")[1]), head };
}

function upgradeRequest(
  port: number,
  path: string,
  headers: Record<string, string | undefined> = {},
  method = "GET",
): string {
  const all: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) {
    if (value !== undefined) text += `${name}: ${value}\r\n`;
  }
  return text + "\r\n";
}

function headerValue(head: string, name: string): string | undefined {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

Deno.test("gateway passes RFC 6455 conformance cases over real sockets", async (t) => {
  await using echo = startEchoBackend();
  await using recorder = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [
      { path: BINARY_PATH, target: echo.target, framing: "u32be" },
      { path: TEXT_PATH, target: echo.target, framing: "u32be,text" },
      {
        path: SMALL_PATH,
        target: echo.target,
        framing: `u32be,max=${SMALL_LIMIT}`,
      },
      { path: RECORD_PATH, target: recorder.target, framing: "u32be" },
    ],
  });
  const step = (name: string, fn: () => Promise<void>) =>
    t.step({ name, fn, ...STEP_SANITIZERS });

  // ---- framing ----------------------------------------------------------
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]) {
    await step(`framing: text message of ${size} bytes is echoed`, async () => {
      await using client = await open(gateway, TEXT_PATH);
      const text = "t".repeat(size);
      await client.sendRaw(frame(Opcode.TEXT, text));
      await expectMessage(client, true, text);
    });
    await step(
      `framing: binary message of ${size} bytes is echoed`,
      async () => {
        await using client = await open(gateway, BINARY_PATH);
        const payload = patterned(size, size);
        await client.sendRaw(frame(Opcode.BINARY, payload));
        await expectMessage(client, false, payload);
      },
    );
  }
  await step(
    "framing: a 130-byte frame sent one byte per write is echoed",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      client.conn.setNoDelay(true);
      const payload = patterned(130, 1);
      const bytes = frame(Opcode.BINARY, payload);
      for (let i = 0; i < bytes.length; i++) {
        await client.sendRaw(bytes.subarray(i, i + 1));
      }
      await expectMessage(client, false, payload);
    },
  );
  await step(
    "framing: many messages in one write are echoed in order",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      const texts = Array.from({ length: 50 }, (_, i) => `message ${i}`);
      await client.sendRaw(
        concat(texts.map((text) => frame(Opcode.TEXT, text))),
      );
      for (const text of texts) await expectMessage(client, true, text);
    },
  );

  // ---- ping / pong ------------------------------------------------------
  await step(
    "ping: a ping with a payload gets a pong with the same payload",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(frame(Opcode.PING, "hello ping"));
      await expectControl(client, "pong", "hello ping");
    },
  );
  await step("ping: an empty ping gets an empty pong", async () => {
    await using client = await open(gateway, BINARY_PATH);
    await client.sendRaw(frame(Opcode.PING));
    await expectControl(client, "pong", "");
  });
  await step("ping: a 125-byte binary ping gets its pong", async () => {
    await using client = await open(gateway, BINARY_PATH);
    const payload = patterned(125, 9);
    await client.sendRaw(frame(Opcode.PING, payload));
    await expectControl(client, "pong", payload);
  });
  await step("ping: a 126-byte ping -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.PING, patterned(126)),
    ], 1002);
  });
  await step("ping: an unsolicited pong is ignored", async () => {
    await using client = await open(gateway, BINARY_PATH);
    await client.sendRaw(
      concat([frame(Opcode.PONG, "unasked"), frame(Opcode.BINARY, "after")]),
    );
    await expectMessage(client, false, "after");
  });
  await step("ping: a fragmented ping -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.PING, "a", { fin: false }),
      frame(Opcode.CONTINUATION, "b"),
    ], 1002);
  });
  await step(
    "ping: ten pings in one write get ten pongs in order",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      const payloads = Array.from({ length: 10 }, (_, i) => `p${i}`);
      await client.sendRaw(
        concat(payloads.map((payload) => frame(Opcode.PING, payload))),
      );
      for (const payload of payloads) {
        await expectControl(client, "pong", payload);
      }
    },
  );

  // ---- reserved bits ------------------------------------------------------
  for (const [name, rsv] of [["RSV1", 4], ["RSV2", 2], ["RSV3", 1]] as const) {
    await step(`reserved bits: ${name} on a text frame -> 1002`, async () => {
      await expectFailure(gateway, BINARY_PATH, [
        frame(Opcode.TEXT, "x", { rsv }),
      ], 1002);
    });
  }
  await step("reserved bits: RSV1 on a ping -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.PING, "x", { rsv: 4 }),
    ], 1002);
  });
  await step(
    "reserved bits: a valid message before the bad frame still reaches the backend",
    async () => {
      const ended = recorder.ended();
      await using client = await open(gateway, RECORD_PATH);
      await client.sendRaw(
        concat([
          frame(Opcode.BINARY, "ok"),
          frame(Opcode.BINARY, "x", { rsv: 7 }),
          frame(Opcode.BINARY, "never"),
        ]),
      );
      await expectClose(client, 1002);
      await within(ended, 5000, "the backend connection to end");
      assert.deepEqual(
        recorder.received().at(-1),
        u32beFrame(ENCODER.encode("ok")),
      );
    },
  );

  // ---- opcodes ----------------------------------------------------------
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    await step(`opcodes: reserved opcode ${opcode} -> 1002`, async () => {
      await expectFailure(gateway, BINARY_PATH, [frame(opcode, "x")], 1002);
    });
  }

  // ---- fragmentation ------------------------------------------------------
  await step(
    "fragmentation: text in 2 fragments is echoed as one message",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      await client.sendRaw(frame(Opcode.TEXT, "Hello, ", { fin: false }));
      await client.sendRaw(frame(Opcode.CONTINUATION, "world"));
      await expectMessage(client, true, "Hello, world");
    },
  );
  await step(
    "fragmentation: text in 100 fragments is echoed as one message",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      const text = "abcdefghij".repeat(10);
      const frames = [...text].map((char, i) =>
        frame(i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, char, {
          fin: i === text.length - 1,
        })
      );
      await client.sendRaw(concat(frames.slice(0, 50)));
      for (const piece of frames.slice(50)) await client.sendRaw(piece);
      await expectMessage(client, true, text);
    },
  );
  await step(
    "fragmentation: binary with empty fragments is echoed as one message",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(
        concat([
          frame(Opcode.BINARY, "", { fin: false }),
          frame(Opcode.CONTINUATION, "ab", { fin: false }),
          frame(Opcode.CONTINUATION, ""),
        ]),
      );
      await expectMessage(client, false, "ab");
    },
  );
  await step(
    "fragmentation: 1 MiB binary in 16 fragments is echoed as one message",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      const payload = patterned(1 << 20, 5);
      const size = payload.length / 16;
      const frames = Array.from({ length: 16 }, (_, i) =>
        frame(
          i === 0 ? Opcode.BINARY : Opcode.CONTINUATION,
          payload.subarray(i * size, (i + 1) * size),
          { fin: i === 15 },
        ));
      await client.sendRaw(concat(frames));
      await expectMessage(client, false, payload);
    },
  );
  await step(
    "fragmentation: a continuation without a start -> 1002",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        frame(Opcode.CONTINUATION, "x"),
      ], 1002);
    },
  );
  await step(
    "fragmentation: a final continuation without a start -> 1002 (not fin)",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        frame(Opcode.CONTINUATION, "x", { fin: false }),
      ], 1002);
    },
  );
  await step(
    "fragmentation: a new text frame while a message is in progress -> 1002",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        frame(Opcode.TEXT, "a", { fin: false }),
        frame(Opcode.TEXT, "b"),
      ], 1002);
    },
  );
  await step(
    "fragmentation: a new binary frame while a message is in progress -> 1002",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        frame(Opcode.BINARY, "a", { fin: false }),
        frame(Opcode.BINARY, "b", { fin: false }),
      ], 1002);
    },
  );
  await step(
    "fragmentation: a ping between fragments is answered and the message still echoed",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      await client.sendRaw(frame(Opcode.TEXT, "frag", { fin: false }));
      await client.sendRaw(frame(Opcode.PING, "between"));
      await expectControl(client, "pong", "between");
      await client.sendRaw(frame(Opcode.CONTINUATION, "mented"));
      await expectMessage(client, true, "fragmented");
    },
  );

  // ---- UTF-8 ----------------------------------------------------------------
  await step("utf-8: valid multi-byte text is echoed", async () => {
    await using client = await open(gateway, TEXT_PATH);
    const texts = [
      "κόσμε",
      "€ and ü",
      "😀 four bytes",
      "Hello-µ@ßöäüàá-UTF-8!!",
    ];
    for (const text of texts) await client.sendRaw(frame(Opcode.TEXT, text));
    for (const text of texts) await expectMessage(client, true, text);
  });
  await step(
    "utf-8: a valid character split across fragments is echoed",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      const bytes = ENCODER.encode("κόσμε");
      await client.sendRaw(
        frame(Opcode.TEXT, bytes.slice(0, 1), { fin: false }),
      );
      await client.sendRaw(frame(Opcode.CONTINUATION, bytes.slice(1)));
      await expectMessage(client, true, "κόσμε");
    },
  );
  const invalid: [string, number[]][] = [
    ["byte 0xff", [0x61, 0xff]],
    ["a lone continuation byte", [0x80]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a surrogate", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [name, bytes] of invalid) {
    await step(`utf-8: ${name} in a text message -> 1007`, async () => {
      await expectFailure(gateway, TEXT_PATH, [
        frame(Opcode.TEXT, new Uint8Array(bytes)),
      ], 1007);
    });
  }
  await step(
    "utf-8: an invalid sequence split across fragments -> 1007 when the bad fragment arrives",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      // 0xce opens a 2-byte sequence; 0x41 cannot continue it. The final
      // fragment is never sent: the close must come without it.
      await client.sendRaw(
        frame(Opcode.TEXT, new Uint8Array([0x61, 0xce]), { fin: false }),
      );
      await client.sendRaw(
        frame(Opcode.CONTINUATION, new Uint8Array([0x41]), { fin: false }),
      );
      await expectClose(client, 1007);
    },
  );
  await step(
    "utf-8: a sequence that can never be valid -> 1007 in the first fragment",
    async () => {
      await using client = await open(gateway, TEXT_PATH);
      await client.sendRaw(
        frame(Opcode.TEXT, new Uint8Array([0x61, 0xf4, 0x90]), { fin: false }),
      );
      await expectClose(client, 1007);
    },
  );
  await step(
    "utf-8: an incomplete sequence at the end of the message -> 1007",
    async () => {
      await expectFailure(gateway, TEXT_PATH, [
        frame(Opcode.TEXT, new Uint8Array([0x61, 0xe2, 0x82]), { fin: false }),
        frame(Opcode.CONTINUATION, ""),
      ], 1007);
    },
  );
  await step(
    "utf-8: an incomplete sequence in a single-frame message -> 1007",
    async () => {
      await expectFailure(gateway, TEXT_PATH, [
        frame(Opcode.TEXT, new Uint8Array([0x61, 0xe2, 0x82])),
      ], 1007);
    },
  );

  // ---- close handling ------------------------------------------------------
  await step(
    "close: close 1000 is echoed with 1000 and the connection ends",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(closeFrame(1000, "bye"));
      const got = await client.next();
      assert.ok(got?.kind === "close", describe(got));
      assert.equal(got.code, 1000);
      await client.waitForEof(2000);
    },
  );
  await step(
    "close: a close with an empty payload is answered with an empty close",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(frame(Opcode.CLOSE));
      const got = await client.next();
      assert.ok(got?.kind === "close", describe(got));
      assert.equal(got.code, 1005, "1005 stands for a close without a code");
      await client.waitForEof(2000);
    },
  );
  await step(
    "close: messages before the close are echoed before the close reply",
    async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(
        concat([frame(Opcode.BINARY, "one"), frame(Opcode.BINARY, "two")]),
      );
      await expectMessage(client, false, "one");
      await expectMessage(client, false, "two");
      await client.sendRaw(closeFrame(1000));
      await expectClose(client, 1000);
    },
  );
  await step("close: a 1-byte close payload -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.CLOSE, new Uint8Array([0x03])),
    ], 1002);
  });
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
    await step(`close: invalid close code ${code} -> 1002`, async () => {
      await expectFailure(gateway, BINARY_PATH, [closeFrame(code)], 1002);
    });
  }
  for (const code of [1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999]) {
    await step(`close: valid close code ${code} is echoed`, async () => {
      await using client = await open(gateway, BINARY_PATH);
      await client.sendRaw(closeFrame(code, "reason"));
      await expectClose(client, code);
    });
  }
  await step("close: a close with a 123-byte reason is echoed", async () => {
    await using client = await open(gateway, BINARY_PATH);
    await client.sendRaw(closeFrame(1000, "r".repeat(123)));
    const got = await expectClose(client, 1000);
    assert.equal(got.reason, "r".repeat(123));
  });
  await step("close: a reason that is not valid UTF-8 -> 1007", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      closeFrame(1000, new Uint8Array([0x61, 0xff])),
    ], 1007);
  });
  await step("close: a ping after the close is not answered", async () => {
    await using client = await open(gateway, BINARY_PATH);
    await client.sendRaw(
      concat([closeFrame(1000), frame(Opcode.PING, "late")]),
    );
    const close = await client.nextClose(2000);
    assert.equal(close?.code, 1000);
    assert.deepEqual(close?.before, []);
    await client.waitForEof(2000);
  });
  await step(
    "close: data after the client's close is not relayed to the backend",
    async () => {
      const ended = recorder.ended();
      await using client = await open(gateway, RECORD_PATH);
      await client.sendRaw(
        concat([
          frame(Opcode.BINARY, "before"),
          closeFrame(1000),
          frame(Opcode.BINARY, "after, same write"),
        ]),
      );
      try {
        await client.sendRaw(frame(Opcode.BINARY, "after, next write"));
      } catch {
        // The gateway may already have closed the connection.
      }
      const close = await client.nextClose(2000);
      assert.equal(close?.code, 1000);
      await within(ended, 5000, "the backend connection to end");
      assert.deepEqual(
        recorder.received().at(-1),
        u32beFrame(ENCODER.encode("before")),
      );
    },
  );

  await step(
    "close: a close in the middle of a fragmented message is echoed and the partial message dropped",
    async () => {
      const ended = recorder.ended();
      await using client = await open(gateway, RECORD_PATH);
      await client.sendRaw(frame(Opcode.TEXT, "partial", { fin: false }));
      await client.sendRaw(closeFrame(1000));
      await expectClose(client, 1000);
      await within(ended, 5000, "the backend connection to end");
      assert.deepEqual(recorder.received().at(-1), new Uint8Array(0));
    },
  );

  // ---- limits ----------------------------------------------------------------
  await step(
    "limits: a message of exactly the route's maximum is echoed",
    async () => {
      await using client = await open(gateway, SMALL_PATH);
      const payload = patterned(SMALL_LIMIT, 3);
      await client.sendRaw(frame(Opcode.BINARY, payload));
      await expectMessage(client, false, payload);
    },
  );
  await step(
    "limits: a frame announcing more than the maximum -> 1009 before its payload is sent",
    async () => {
      await expectFailure(gateway, SMALL_PATH, [
        headerOnly(Opcode.BINARY, SMALL_LIMIT + 1),
      ], 1009);
    },
  );
  await step(
    "limits: a frame announcing 1 GiB -> 1009 before its payload is sent",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        headerOnly(Opcode.BINARY, 1 << 30),
      ], 1009);
    },
  );
  await step(
    "limits: a message over the maximum through fragments -> 1009",
    async () => {
      await expectFailure(gateway, SMALL_PATH, [
        frame(Opcode.BINARY, patterned(600), { fin: false }),
        frame(Opcode.CONTINUATION, patterned(600)),
      ], 1009);
    },
  );
  await step(
    "limits: a 64-bit length with the most significant bit set -> 1002",
    async () => {
      await expectFailure(gateway, BINARY_PATH, [
        new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5, ...MASK]),
      ], 1002);
    },
  );

  // ---- masking -----------------------------------------------------------------
  await step("masking: an unmasked client frame -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.BINARY, "x", { masked: false }),
    ], 1002);
  });
  await step("masking: an unmasked ping -> 1002", async () => {
    await expectFailure(gateway, BINARY_PATH, [
      frame(Opcode.PING, "x", { masked: false }),
    ], 1002);
  });

  // ---- handshake -----------------------------------------------------------------
  await step(
    "handshake: the 101 response carries the RFC 6455 sample accept key",
    async () => {
      const { client, response } = await RawWsClient.connect(
        gateway.port,
        BINARY_PATH,
      );
      await using _client = client;
      assert.equal(response.status, 101);
      assert.equal(
        headerValue(response.head, "sec-websocket-accept"),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      );
      assert.equal(
        headerValue(response.head, "upgrade")?.toLowerCase(),
        "websocket",
      );
    },
  );
  await step("handshake: a missing Sec-WebSocket-Key -> 400", async () => {
    const { status } = await httpExchange(
      gateway.port,
      upgradeRequest(gateway.port, BINARY_PATH, {
        "Sec-WebSocket-Key": undefined,
      }),
    );
    assert.equal(status, 400);
  });
  await step(
    "handshake: Sec-WebSocket-Version 8 -> 426 naming version 13",
    async () => {
      const { status, head } = await httpExchange(
        gateway.port,
        upgradeRequest(gateway.port, BINARY_PATH, {
          "Sec-WebSocket-Version": "8",
        }),
      );
      assert.equal(status, 426);
      assert.equal(headerValue(head, "sec-websocket-version"), "13");
    },
  );
  await step("handshake: POST -> 405", async () => {
    const { status } = await httpExchange(
      gateway.port,
      upgradeRequest(gateway.port, BINARY_PATH, {}, "POST"),
    );
    assert.equal(status, 405);
  });
  await step("handshake: a head over 8 KiB -> 431", async () => {
    // Exactly 8192 bytes without the final empty line: the gateway reads
    // them all before refusing, so closing leaves nothing unread.
    const start = upgradeRequest(gateway.port, BINARY_PATH).slice(0, -2) +
      "X-Padding: ";
    const request = start + "p".repeat(8192 - start.length);
    assert.equal(request.length, 8192);
    const { status } = await httpExchange(gateway.port, request);
    assert.equal(status, 431);
  });
  await step("handshake: a terminated head of 9 KiB -> 431", async () => {
    const { client, response } = await RawWsClient.connect(
      gateway.port,
      BINARY_PATH,
      { "X-Padding": "p".repeat(9 * 1024) },
    );
    await client.close();
    assert.equal(response.status, 431);
  });
  await step("handshake: an unknown path -> 404", async () => {
    const { status } = await httpExchange(
      gateway.port,
      upgradeRequest(gateway.port, "/no-such-route"),
    );
    assert.equal(status, 404);
  });
  await step(
    "handshake: a permessage-deflate offer is declined with a plain 101",
    async () => {
      const { client, response } = await RawWsClient.connect(
        gateway.port,
        TEXT_PATH,
        {
          "Sec-WebSocket-Extensions":
            "permessage-deflate; client_max_window_bits",
        },
      );
      await using _client = client;
      assert.equal(response.status, 101);
      assert.equal(
        headerValue(response.head, "sec-websocket-extensions"),
        undefined,
      );
      await client.sendRaw(frame(Opcode.TEXT, "uncompressed"));
      await expectMessage(client, true, "uncompressed");
    },
  );
  await step(
    "handshake: client data in the same TCP write as the request is relayed",
    async () => {
      using conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: gateway.port,
      });
      await writeAll(
        conn,
        concat([
          ENCODER.encode(upgradeRequest(gateway.port, TEXT_PATH)),
          frame(Opcode.TEXT, "early bird"),
          frame(Opcode.PING, "early ping"),
        ]),
      );
      const received: ReceivedFrame[] = [];
      const parser = new WsFrameParser({
        onMessage: (isText, payload) =>
          received.push({ kind: "message", isText, payload: payload.slice() }),
        onControl: (opcode, payload) =>
          received.push(
            opcode === Opcode.CLOSE
              ? { kind: "close", ...parseClosePayload(payload) }
              : {
                kind: opcode === Opcode.PING ? "ping" : "pong",
                payload: payload.slice(),
              },
          ),
      }, { expectMasked: false });
      const buffer = new Uint8Array(4096);
      let head = "";
      const readUntilEcho = async () => {
        let pending: Uint8Array = new Uint8Array(0);
        for (let reads = 0; reads < 100 && received.length < 2; reads++) {
          const count = await conn.read(buffer);
          if (count === null) return;
          let bytes = concat([pending, buffer.subarray(0, count)]);
          if (head === "") {
            const text = new TextDecoder("latin1").decode(bytes);
            const end = text.indexOf("\r\n\r\n");
            if (end < 0) {
              pending = bytes;
              continue;
            }
            head = text.slice(0, end);
            bytes = bytes.subarray(end + 4);
            pending = new Uint8Array(0);
          }
          parser.push(bytes);
        }
      };
      await within(readUntilEcho(), 5000, "the echo of the early message");
      assert.ok(head.startsWith("HTTP/1.1 101 "), head);
      // The pong is sent at once; the echo needs the backend's round trip.
      assert.deepEqual(received, [
        { kind: "pong", payload: ENCODER.encode("early ping") },
        {
          kind: "message",
          isText: true,
          payload: ENCODER.encode("early bird"),
        },
      ]);
      await writeAll(conn, closeFrame(1000));
    },
  );
});

Deno.test("gateway ends the TCP connection promptly after failing it and receiving the client's close", async () => {
  await using echo = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: BINARY_PATH, target: echo.target, framing: "u32be" }],
  });
  await using client = await open(gateway, BINARY_PATH);
  await client.sendRaw(frame(3, "x"));
  await expectClose(client, 1002); // Also sends the client's close reply.
  // RFC 6455 section 7.1.1: the server closes the TCP connection once the
  // close handshake is done; it has nothing left to wait for.
  await client.waitForEof(500);
  await client.close();
  const event = await within(gateway.nextClose(), 500, "the session_close");
  assert.equal(event.code, 1002);
});
