/**
 * permessage-deflate end to end (RFC 7692): a raw client offering the
 * extension, a compressing route, and a real TCP backend with u32be framing.
 *
 * @module
 */

import zlib from "node:zlib";
import { assert, assertEquals } from "../_util/assert.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { closeOf } from "../_util/raw_session.ts";
import {
  readOrEof,
  startBackend,
  startRecordingBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

const OFFER = {
  "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
};
/** RFC 7692 section 7.2.3.1: "Hello" compressed, one frame. */
const HELLO_DEFLATED = new Uint8Array([
  0xf2,
  0x48,
  0xcd,
  0xc9,
  0xc9,
  0x07,
  0x00,
]);
const text = new TextEncoder();

async function connect(port: number, path: string, headers = OFFER) {
  const { client, response } = await RawWsClient.connect(port, path, headers);
  assertEquals(response.status, 101, response.head);
  return { client, head: response.head.toLowerCase() };
}

Deno.test("a compressed browser message reaches the backend inflated, and a compressing route answers the offer", async () => {
  await using backend = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, compression: "on" }],
  });
  const { client, head } = await connect(gateway.port, "/");
  assert(head.includes("sec-websocket-extensions: permessage-deflate"), head);
  const ended = backend.ended();
  await client.sendRaw(
    encodeClientFrame(Opcode.TEXT, HELLO_DEFLATED, { rsv: 4 }),
  );
  await client.sendClose(1000);
  assertEquals((await client.nextClose())?.code, 1000);
  await client.waitForEof();
  await client.close();
  await ended;
  assertEquals(backend.received()[0], u32beFrame(text.encode("Hello")));
});

Deno.test("a backend message goes to the browser with RSV1 and inflates to the same bytes", async () => {
  const message = text.encode("GET key:1\r\n".repeat(40));
  await using backend = startBackend(async (conn) => {
    await writeAll(conn, u32beFrame(message));
    await readOrEof(conn, new Uint8Array(64));
  });
  await using gateway = await startGateway({
    routes: [{
      path: "/",
      target: backend.target,
      framing: "u32be",
      compression: "on",
    }],
  });
  const { client } = await connect(gateway.port, "/");
  const frame = await client.next();
  assert(frame?.kind === "message" && frame.isCompressed === true);
  assert(frame.payload.length < message.length / 4, `${frame.payload.length}`);
  const inflated = zlib.inflateRawSync(
    new Uint8Array([...frame.payload, 0x00, 0x00, 0xff, 0xff]),
    { finishFlush: zlib.constants.Z_SYNC_FLUSH },
  );
  assertEquals(new Uint8Array(inflated), message);
  await client.sendClose(1000);
  assertEquals((await client.nextClose())?.code, 1000);
  await client.waitForEof();
  await client.close();
});

Deno.test("a deflate bomb closes with 1009 and a corrupt stream with 1007", async () => {
  await using backend = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [{
      path: "/",
      target: backend.target,
      framing: "u32be,max=65536",
      compression: "on",
    }],
  });
  // 16 MiB of zeros deflate to ~16 KiB: far above the 64 KiB limit.
  const bomb = zlib.deflateRawSync(new Uint8Array(16 * 1024 * 1024), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const bombPayload = new Uint8Array(bomb.subarray(0, bomb.length - 4));
  assert(bombPayload.length < 65536);
  const first = await connect(gateway.port, "/");
  await first.client.sendRaw(
    encodeClientFrame(Opcode.BINARY, bombPayload, { rsv: 4 }),
  );
  assertEquals((await closeOf(first.client)).code, 1009);

  const second = await connect(gateway.port, "/");
  await second.client.sendRaw(
    encodeClientFrame(Opcode.BINARY, new Uint8Array([0xff, 0xff, 0xff]), {
      rsv: 4,
    }),
  );
  assertEquals((await closeOf(second.client)).code, 1007);
});

Deno.test("RSV1 without the extension is a protocol error, and a route without compression declines the offer", async () => {
  await using backend = startRecordingBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
  });
  const { client, head } = await connect(gateway.port, "/");
  assert(!head.includes("sec-websocket-extensions"), head);
  await client.sendRaw(
    encodeClientFrame(Opcode.TEXT, HELLO_DEFLATED, { rsv: 4 }),
  );
  assertEquals((await closeOf(client)).code, 1002);
});
