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
import { DeflatePeer } from "../_util/deflate_peer.ts";
import { nextClose } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
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

Deno.test("a deflate bomb closes with 1009 and a corrupt stream with 1007, with and without context takeover, and neither reaches the backend", async (t) => {
  // 16 MiB of zeros deflate to ~16 KiB: far above the 64 KiB limit.
  const bomb = zlib.deflateRawSync(new Uint8Array(16 * 1024 * 1024), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const bombPayload = new Uint8Array(bomb.subarray(0, bomb.length - 4));
  assert(bombPayload.length < 65536);
  for (
    const offer of [
      "permessage-deflate",
      "permessage-deflate; client_no_context_takeover",
    ]
  ) {
    await t.step(offer, async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{
          path: "/",
          target: backend.target,
          framing: "u32be,max=65536",
          compression: "on",
        }],
      });
      const headers = { "Sec-WebSocket-Extensions": offer };
      const first = await connect(gateway.port, "/", headers);
      await first.client.sendRaw(
        encodeClientFrame(Opcode.BINARY, bombPayload, { rsv: 4 }),
      );
      assertEquals((await closeOf(first.client)).code, 1009);
      assertEquals((await nextClose(gateway)).code, 1009);

      const second = await connect(gateway.port, "/", headers);
      await second.client.sendRaw(
        encodeClientFrame(Opcode.BINARY, new Uint8Array([0xff, 0xff, 0xff]), {
          rsv: 4,
        }),
      );
      assertEquals(
        await closeOf(second.client).then(({ code, reason }) => ({
          code,
          reason,
        })),
        { code: 1007, reason: "invalid compressed data" },
      );
      assertEquals((await nextClose(gateway)).code, 1007);
      for (const log of backend.connections) {
        await log.ended;
        assertEquals(log.payloads, []);
      }
    });
  }
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

/** The `Sec-WebSocket-Extensions` value of a response head (lower-cased). */
function extensionsOf(head: string): string | undefined {
  const line = head.split("\r\n").find((line) =>
    line.startsWith("sec-websocket-extensions:")
  );
  return line?.slice(line.indexOf(":") + 1).trim();
}

/** Sends `message` compressed and returns the echo's frame payload. */
async function echoCompressed(
  client: RawWsClient,
  peer: DeflatePeer,
  message: Uint8Array,
): Promise<Uint8Array> {
  await client.sendRaw(
    encodeClientFrame(Opcode.BINARY, await peer.compress(message), { rsv: 4 }),
  );
  const frame = await client.next();
  assert(frame?.kind === "message" && frame.isCompressed === true);
  assertEquals(await peer.inflate(frame.payload), message);
  return frame.payload;
}

async function closeByClient(client: RawWsClient): Promise<void> {
  await client.sendClose(1000);
  assertEquals((await client.nextClose())?.code, 1000);
  await client.waitForEof();
  await client.close();
}

function isBudgetWarning(
  event: GatewayEvent,
): event is Extract<GatewayEvent, { type: "warning" }> {
  return event.type === "warning" &&
    event.message.includes("compression memory");
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((line) => line.startsWith(`${name} `));
  assert(line !== undefined, `no ${name}`);
  return Number(line.slice(name.length + 1));
}

Deno.test("past compressionMemoryBytes a new session negotiates no context takeover, is warned about once and counted, and compresses without context", async () => {
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    // One session with 15-bit windows (~333 KiB) fits, a second does not.
    compressionMemoryBytes: 400_000,
    routes: [{ path: "/", target: backend.target, compression: "on" }],
  });
  const first = await connect(gateway.port, "/");
  assertEquals(extensionsOf(first.head), "permessage-deflate");
  const second = await connect(gateway.port, "/");
  assertEquals(
    extensionsOf(second.head),
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  const warning = await gateway.waitForEvent(isBudgetWarning);
  assert(warning.detail?.includes("400000"), warning.detail);
  let scrape = gateway.gateway.metrics.renderPrometheus();
  assertEquals(metric(scrape, "wsgate_compression_budget_fallbacks_total"), 1);
  assert(metric(scrape, "wsgate_compression_memory_bytes") > 300_000);

  // Without context each message stands alone: the same message twice
  // compresses to the same bytes both ways.
  const message = text.encode('SET session:42 "value"\r\n'.repeat(20));
  {
    await using peer = new DeflatePeer({
      clientContextTakeover: false,
      serverContextTakeover: false,
    });
    const once = await echoCompressed(second.client, peer, message);
    const twice = await echoCompressed(second.client, peer, message);
    assertEquals(twice, once);
  }
  // With context the second copy refers back to the first.
  {
    await using peer = new DeflatePeer();
    const once = await echoCompressed(first.client, peer, message);
    const twice = await echoCompressed(first.client, peer, message);
    assert(twice.length < once.length / 2, `${twice.length} vs ${once.length}`);
  }

  // The first session's memory comes back: the next session keeps context.
  await closeByClient(first.client);
  await nextClose(gateway);
  const third = await connect(gateway.port, "/");
  assertEquals(extensionsOf(third.head), "permessage-deflate");
  await closeByClient(third.client);
  await closeByClient(second.client);
  await nextClose(gateway);
  await nextClose(gateway);
  scrape = gateway.gateway.metrics.renderPrometheus();
  assertEquals(metric(scrape, "wsgate_compression_memory_bytes"), 0);
  assertEquals(metric(scrape, "wsgate_compression_budget_fallbacks_total"), 1);
  assertEquals(gateway.events.filter(isBudgetWarning).length, 1);
});

Deno.test("a reload that sets compressionMemoryBytes to 0 makes the next sessions negotiate no context takeover", async () => {
  await using backend = startU32beBackend();
  const routes = [{
    path: "/",
    target: backend.target,
    compression: "on" as const,
  }];
  await using gateway = await startGateway({ routes });
  const before = await connect(gateway.port, "/");
  assertEquals(extensionsOf(before.head), "permessage-deflate");
  await gateway.gateway.reload({ routes, compressionMemoryBytes: 0 });
  const after = await connect(gateway.port, "/");
  assertEquals(
    extensionsOf(after.head),
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  await closeByClient(before.client);
  await closeByClient(after.client);
  await nextClose(gateway);
  await nextClose(gateway);
});
