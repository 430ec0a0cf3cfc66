/**
 * permessage-deflate conformance in the style of Autobahn's 12.x (message
 * sizes, text and binary, echoed through the server's compression) and
 * 13.x (the negotiated parameter combinations) groups: a raw client with its
 * own zlib state (tests/_util/deflate_peer.ts) sends compressed messages as
 * single frames and as fragments with pings between them, to a u32be echo
 * backend behind a compressing route; the backend must see the plain bytes
 * and the client must inflate the echoes to the same bytes. Also the RFC
 * 7692 section 7.2.3 frames byte for byte.
 *
 * @module
 */

import { assert, assertEquals } from "../_util/assert.ts";
import { DeflatePeer } from "../_util/deflate_peer.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { RawWsClient, type ReceivedFrame } from "../_util/raw_ws_client.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { mulberry32 } from "../_util/prng.ts";
import type { RouteOptions } from "../../src/config/config.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

const RSV1 = 4;
/** Autobahn 12.x message sizes (12.1.1-12.1.10 use 16 B to 128 KiB). */
const SIZES = [0, 16, 64, 256, 1024, 4096, 8192, 16384, 65536, 131072];

/** A Redis-like text message of `size` bytes. */
function textMessage(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  let text = "";
  for (let i = 0; text.length < size && i < size; i++) {
    text += `SET user:${Math.floor(random() * 1000)} "é${i}"\r\n`;
  }
  const bytes = new TextEncoder().encode(text);
  // Cut on a character boundary: "é" is two bytes, the rest ASCII.
  let end = Math.min(size, bytes.length);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

/** Compressible binary: random 512-byte words repeated far apart. */
function binaryMessage(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const words = Array.from(
    { length: 8 },
    () => Uint8Array.from({ length: 512 }, () => Math.floor(random() * 256)),
  );
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 512) {
    out.set(
      words[Math.floor(random() * words.length)]!.subarray(0, size - at),
      at,
    );
  }
  return out;
}

interface Case {
  name: string;
  offer: string;
  compression: NonNullable<RouteOptions["compression"]>;
  /** The expected `Sec-WebSocket-Extensions` answer. */
  answer: string;
  peer: ConstructorParameters<typeof DeflatePeer>[0];
}

/** Autobahn 13.x: the parameter combinations. */
const CASES: Case[] = [
  {
    name: "13.1 context takeover both ways",
    offer: "permessage-deflate; client_max_window_bits",
    compression: { minSize: 0 },
    answer: "permessage-deflate",
    peer: {},
  },
  {
    name: "13.2 client_no_context_takeover",
    offer: "permessage-deflate; client_no_context_takeover",
    compression: { minSize: 0 },
    answer: "permessage-deflate; client_no_context_takeover",
    peer: { clientContextTakeover: false },
  },
  {
    name: "13.3 server_no_context_takeover",
    offer: "permessage-deflate; server_no_context_takeover",
    compression: { minSize: 0 },
    answer: "permessage-deflate; server_no_context_takeover",
    peer: { serverContextTakeover: false },
  },
  {
    name: "13.4 server_max_window_bits=9",
    offer: "permessage-deflate; server_max_window_bits=9",
    compression: { minSize: 0 },
    answer: "permessage-deflate; server_max_window_bits=9",
    peer: { serverWindowBits: 9 },
  },
  {
    name: "13.5 client_max_window_bits=9",
    offer: "permessage-deflate; client_max_window_bits=9",
    compression: { minSize: 0 },
    answer: "permessage-deflate; client_max_window_bits=9",
    peer: { clientWindowBits: 9 },
  },
  {
    name: "13.6 route without context takeover, default minSize",
    offer:
      "permessage-deflate; client_max_window_bits=9; server_max_window_bits=9",
    compression: { contextTakeover: false, maxWindowBits: 10 },
    answer:
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
    peer: {
      clientContextTakeover: false,
      serverContextTakeover: false,
      clientWindowBits: 9,
      serverWindowBits: 9,
    },
  },
];

/** Sends `payload` as one RSV1 message, in `pieces` fragments with pings. */
async function sendCompressed(
  client: RawWsClient,
  opcode: number,
  payload: Uint8Array,
  pieces: number,
  pingTag: string,
): Promise<string[]> {
  const pings: string[] = [];
  const step = Math.ceil(payload.length / pieces);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < pieces; i++) {
    // The first fragment may be empty (payload shorter than pieces): still
    // valid, it carries RSV1 for the whole message.
    const part = payload.subarray(i * step, (i + 1) * step);
    const isLast = i === pieces - 1;
    frames.push(
      encodeClientFrame(i === 0 ? opcode : Opcode.CONTINUATION, part, {
        fin: isLast,
        rsv: i === 0 ? RSV1 : 0,
      }),
    );
    if (!isLast) {
      const tag = `${pingTag}-${i}`;
      pings.push(tag);
      frames.push(
        encodeClientFrame(Opcode.PING, new TextEncoder().encode(tag)),
      );
    }
  }
  // All in one write: the gateway sees fragments, pings and the end of
  // the message in one read.
  await client.sendRaw(new Uint8Array(frames.flatMap((frame) => [...frame])));
  return pings;
}

/** Reads pongs until the next message; returns both. */
async function nextMessage(client: RawWsClient): Promise<{
  message: Extract<ReceivedFrame, { kind: "message" }>;
  pongs: string[];
}> {
  const pongs: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const frame = await client.next();
    assert(frame !== undefined, "EOF before the echo");
    if (frame.kind === "message") return { message: frame, pongs };
    assert(frame.kind === "pong", `unexpected ${frame.kind}`);
    pongs.push(new TextDecoder().decode(frame.payload));
  }
  throw new Error("no message in 1000 frames");
}

Deno.test("permessage-deflate conformance (Autobahn 12.x/13.x style): single and fragmented messages with pings, every parameter combination", async (t) => {
  for (const testCase of CASES) {
    await t.step(testCase.name, async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{
          path: "/bin",
          target: backend.target,
          compression: testCase.compression,
        }, {
          path: "/text",
          target: backend.target,
          framing: "u32be,text",
          compression: testCase.compression,
        }],
      });
      const minSize = typeof testCase.compression === "object"
        ? testCase.compression.minSize ?? 64
        : 64;
      for (const path of ["/bin", "/text"]) {
        const isText = path === "/text";
        const { client, response } = await RawWsClient.connect(
          gateway.port,
          path,
          { "Sec-WebSocket-Extensions": testCase.offer },
        );
        assertEquals(response.status, 101, response.head);
        const answer = response.head.split("\r\n").find((line) =>
          line.toLowerCase().startsWith("sec-websocket-extensions:")
        );
        assertEquals(
          answer?.slice(answer.indexOf(":") + 1).trim(),
          testCase.answer,
        );
        await using peer = new DeflatePeer(testCase.peer);
        const sent: Uint8Array[] = [];
        let index = 0;
        for (const size of SIZES) {
          for (const pieces of [1, 3]) {
            index++;
            const message = isText
              ? textMessage(size, index)
              : binaryMessage(size, index);
            sent.push(message);
            const payload = await peer.compress(message);
            const pings = await sendCompressed(
              client,
              isText ? Opcode.TEXT : Opcode.BINARY,
              payload,
              pieces,
              `p${index}`,
            );
            const echo = await nextMessage(client);
            assertEquals(echo.pongs, pings, `pongs of message ${index}`);
            assertEquals(echo.message.isText, isText);
            const isCompressed = echo.message.isCompressed === true;
            assertEquals(
              isCompressed,
              message.length >= minSize,
              `RSV1 of a ${message.length}-byte echo`,
            );
            const echoed = isCompressed
              ? await peer.inflate(echo.message.payload)
              : echo.message.payload;
            assertEquals(echoed, message, `echo of message ${index}`);
          }
        }
        await client.sendClose(1000);
        assertEquals((await client.nextClose())?.code, 1000);
        await client.waitForEof();
        await client.close();
        const log = backend.connections.at(-1);
        assert(log !== undefined);
        await log.ended;
        assertEquals(log.payloads, sent);
      }
    });
  }
});

/** RFC 7692 section 7.2.3: client payloads that all mean "Hello". */
const RFC_HELLO_FRAMES: [string, number[][]][] = [
  ["7.2.3.1 one frame", [[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]]],
  ["7.2.3.1 two fragments", [[0xf2, 0x48, 0xcd], [0xc9, 0xc9, 0x07, 0x00]]],
  ["7.2.3.3 a stored block", [[
    0x00,
    0x05,
    0x00,
    0xfa,
    0xff,
    0x48,
    0x65,
    0x6c,
    0x6c,
    0x6f,
    0x00,
  ]]],
  ["7.2.3.4 BFINAL set", [[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]]],
  ["7.2.3.5 two blocks", [[
    0xf2,
    0x48,
    0x05,
    0x00,
    0x00,
    0x00,
    0xff,
    0xff,
    0xca,
    0xc9,
    0xc9,
    0x07,
    0x00,
  ]]],
  // 7.2.3.2: with context takeover the second "Hello" refers back to the
  // first; the messages before it here ended in other blocks, so it is sent
  // after a plain first "Hello" of its own below.
];

Deno.test("the RFC 7692 section 7.2.3 example frames reach the backend as Hello, and the gateway's own frames match the RFC bytes", async () => {
  const hello = new TextEncoder().encode("Hello");
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{
      path: "/",
      target: backend.target,
      framing: "u32be,text",
      compression: { minSize: 0 },
    }],
  });
  const { client, response } = await RawWsClient.connect(gateway.port, "/", {
    "Sec-WebSocket-Extensions": "permessage-deflate",
  });
  assertEquals(response.status, 101, response.head);
  const echoes: Uint8Array[] = [];
  for (const [name, fragments] of RFC_HELLO_FRAMES) {
    const frames = fragments.map((fragment, i) =>
      encodeClientFrame(
        i === 0 ? Opcode.TEXT : Opcode.CONTINUATION,
        new Uint8Array(fragment),
        { fin: i === fragments.length - 1, rsv: i === 0 ? RSV1 : 0 },
      )
    );
    for (const frame of frames) await client.sendRaw(frame);
    const { message } = await nextMessage(client);
    assert(message.isCompressed === true, name);
    echoes.push(message.payload);
  }
  // 7.2.3.2: "Hello" twice on one context; the BFINAL example above ended
  // the client's stream, so this pair starts a fresh one on both sides.
  await client.sendRaw(
    encodeClientFrame(
      Opcode.TEXT,
      new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
      { rsv: RSV1 },
    ),
  );
  await client.sendRaw(
    encodeClientFrame(
      Opcode.TEXT,
      new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]),
      { rsv: RSV1 },
    ),
  );
  for (let i = 0; i < 2; i++) {
    const { message } = await nextMessage(client);
    echoes.push(message.payload);
  }
  await client.sendClose(1000);
  assertEquals((await client.nextClose())?.code, 1000);
  await client.waitForEof();
  await client.close();
  const log = backend.connections[0];
  assert(log !== undefined);
  await log.ended;
  assertEquals(log.payloads, Array.from(echoes, () => hello));
  // The gateway keeps its own context: its first "Hello" is the RFC's
  // 7.2.3.1 bytes and the next ones refer back (7.2.3.2).
  assertEquals(
    echoes[0],
    new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
  );
  assertEquals(echoes[1], new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00]));
  await using peer = new DeflatePeer();
  for (const echo of echoes) assertEquals(await peer.inflate(echo), hello);
});
