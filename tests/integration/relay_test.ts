/**
 * End-to-end relay tests: Deno's built-in WebSocket client (binaryType
 * "arraybuffer") -> a real gateway on 127.0.0.1:0 -> real loopback TCP
 * backends. Every test stops what it starts (`await using`).
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  startBackend,
  startRecordingBackend,
  startScriptedBackend,
  u32beFrame,
  unusedPort,
  writeAll,
} from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import {
  binary,
  bytesEqual,
  patternBytes,
  utf8,
  type WsMessage,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";

const MIB = 1024 * 1024;
const SIZES = [0, 1, 125, 126, 65535, 65536, 8 * MIB];

type SessionOpen = Extract<GatewayEvent, { type: "session_open" }>;

function isSessionOpen(event: GatewayEvent): event is SessionOpen {
  return event.type === "session_open";
}

/** A string whose UTF-8 encoding is exactly `byteLength` bytes, mixing 1-4 byte characters. */
function textOfBytes(byteLength: number): string {
  const unit = "a\u00e9\u20ac\u{1f600}"; // 1 + 2 + 3 + 4 = 10 bytes
  return unit.repeat(Math.floor(byteLength / 10)) +
    "z".repeat(byteLength % 10);
}

function text(message: WsMessage): string {
  assert(typeof message === "string", "expected a text message");
  return message;
}

/** A u32be-framed backend payload: session number and sequence number. */
function seqPayload(session: number, seq: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, session);
  view.setUint32(4, seq);
  return out;
}

Deno.test("relay round-trips binary messages of every size through u32be framing", async (t) => {
  for (const size of SIZES) {
    await t.step(`${size} bytes`, async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target, framing: "u32be" }],
      });
      await using client = await WsTestClient.open(gateway.url("/"));
      const payload = patternBytes(size, size);
      client.send(payload);
      const reply = binary(await client.next(10000));
      assertEquals(reply.length, size);
      assert(bytesEqual(reply, payload), "reply bytes differ");
      const info = await client.close(1000, "done");
      assertEquals(info.code, 1000);
      const log = backend.connections[0]!;
      await within(log.ended, 5000, "backend EOF");
      // The backend saw exactly one 4-byte big-endian length + payload.
      const raw = concat(log.raw);
      assert(bytesEqual(raw, u32beFrame(payload)), "backend bytes differ");
      assertEquals(log.payloads.length, 1);
      assertEquals(log.trailing.length, 0);
    });
  }
});

Deno.test("relay round-trips text messages of every size with u32be,text framing", async (t) => {
  for (const size of SIZES) {
    await t.step(`${size} bytes`, async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target, framing: "u32be,text" }],
      });
      await using client = await WsTestClient.open(gateway.url("/"));
      const message = textOfBytes(size);
      client.send(message);
      const reply = text(await client.next(10000));
      assert(reply === message, `text reply differs (${reply.length} chars)`);
      await client.close(1000, "done");
      const log = backend.connections[0]!;
      await within(log.ended, 5000, "backend EOF");
      assert(
        bytesEqual(concat(log.raw), u32beFrame(utf8(message))),
        "backend did not receive the u32be frame of the UTF-8 bytes",
      );
    });
  }
});

Deno.test("relay frames text and binary messages alike for the backend and replies in binary without text", async () => {
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  client.send("h\u00e9llo");
  client.send(new Uint8Array([0, 255, 7]));
  const [first, second] = await client.take(2);
  assertEquals(binary(first!), utf8("h\u00e9llo"));
  assertEquals(binary(second!), new Uint8Array([0, 255, 7]));
  await client.close();
  const log = backend.connections[0]!;
  await within(log.ended, 5000, "backend EOF");
  assertEquals(
    concat(log.raw),
    concat([
      u32beFrame(utf8("h\u00e9llo")),
      u32beFrame(new Uint8Array([0, 255, 7])),
    ]),
  );
});

Deno.test("relay passes bytes through as a stream both ways with raw framing", async () => {
  // Records what arrives and echoes it back in chunks of its own choosing.
  const received: Uint8Array[] = [];
  const backendEof = Promise.withResolvers<void>();
  await using backend = startBackend(async (conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) break;
        const chunk = buffer.slice(0, count);
        received.push(chunk);
        await writeAll(conn, chunk);
      }
    } finally {
      backendEof.resolve();
    }
  });
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "raw" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const sent: WsMessage[] = [
    patternBytes(1000, 1),
    new Uint8Array(0),
    "text message \u20ac",
    patternBytes(200_000, 2),
    new Uint8Array([42]),
  ];
  for (const message of sent) client.send(message);
  const expected = concat(
    sent.map((message) =>
      typeof message === "string" ? utf8(message) : message
    ),
  );
  const echoed: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < 10_000 && total < expected.length; i++) {
    const chunk = binary(await client.next());
    assert(chunk.length > 0, "raw framing delivered an empty message");
    echoed.push(chunk);
    total += chunk.length;
  }
  assertEquals(total, expected.length);
  assert(bytesEqual(concat(echoed), expected), "echoed stream differs");
  await client.close();
  await within(backendEof.promise, 5000, "backend EOF");
  // Each browser message was written as is: no length prefix, no separator.
  assert(bytesEqual(concat(received), expected), "backend stream differs");
});

Deno.test("relay keeps 200 concurrent sessions apart", async () => {
  const sessions = 200;
  const perSession = 10;
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  const clients: WsTestClient[] = [];
  try {
    const opened = await Promise.allSettled(
      Array.from(
        { length: sessions },
        () => WsTestClient.open(gateway.url("/"), 10000),
      ),
    );
    for (const result of opened) {
      if (result.status === "fulfilled") clients.push(result.value);
    }
    assertEquals(clients.length, sessions, "every session opened");
    const expected = clients.map((_, i) =>
      Array.from(
        { length: perSession },
        (_, j) =>
          j % 2 === 0 ? `session ${i} message ${j}` : patternBytes(30 + j, i),
      )
    );
    for (const [i, client] of clients.entries()) {
      for (const message of expected[i]!) client.send(message);
    }
    const replies = await Promise.all(
      clients.map((client) => client.take(perSession, 10000)),
    );
    for (const [i, messages] of replies.entries()) {
      const want = expected[i]!.map((message) =>
        typeof message === "string" ? utf8(message) : message
      );
      assertEquals(messages, want, `session ${i} got someone else's replies`);
    }
    await Promise.all(clients.map((client) => client.close(1000, "", 10000)));
    // Nothing more arrived on any session after its own replies.
    for (const [i, client] of clients.entries()) {
      assertEquals(client.receivedCount, perSession, `session ${i} extra`);
    }
    assertEquals(gateway.events.filter(isSessionOpen).length, sessions);
    assertEquals(backend.connections.length, sessions);
    for (const log of backend.connections) {
      assertEquals(log.payloads.length, perSession);
    }
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
});

Deno.test("relay keeps thousands of small messages in order per session under load", async () => {
  const sessions = 4;
  const perSession = 5000;
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  const clients = await Promise.all(
    Array.from({ length: sessions }, () => WsTestClient.open(gateway.url("/"))),
  );
  try {
    for (let seq = 0; seq < perSession; seq++) {
      for (const [i, client] of clients.entries()) {
        client.send(seqPayload(i, seq));
      }
    }
    await Promise.all(clients.map(async (client, i) => {
      const messages = await client.take(perSession, 15000);
      for (const [seq, message] of messages.entries()) {
        const bytes = binary(message);
        const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
        assertEquals(
          [view.getUint32(0), view.getUint32(4)],
          [i, seq],
          `session ${i} message ${seq} out of order`,
        );
      }
    }));
  } finally {
    await Promise.all(clients.map((client) => client.close(1000, "", 10000)));
  }
  for (const log of backend.connections) {
    assertEquals(log.payloads.length, perSession);
  }
});

Deno.test("relay delivers every byte to the backend before EOF when the browser closes", async () => {
  await using backend = startRecordingBackend();
  const backendEnded = backend.ended();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const sent = Array.from(
    { length: 50 },
    (_, i) => patternBytes(i === 25 ? MIB : i * 37, i),
  );
  for (const message of sent) client.send(message);
  const info = await client.close(1000, "bye");
  assertEquals([info.code, info.wasClean], [1000, true]);
  await within(backendEnded, 5000, "backend EOF");
  const received = backend.received();
  assertEquals(received.length, 1);
  assert(
    bytesEqual(received[0]!, concat(sent.map(u32beFrame))),
    "backend did not receive every byte before EOF",
  );
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(close.code, 1000);
  assertEquals(close.framesToBackend, sent.length);
  assertEquals(
    close.bytesToBackend,
    sent.reduce((sum, message) => sum + message.length, 0),
  );
});

Deno.test("relay delivers all N backend frames then closes with 1000 when the backend ends cleanly", async () => {
  const frames = Array.from(
    { length: 100 },
    (_, i) => patternBytes(i === 50 ? 300_000 : i, i),
  );
  await using backend = startScriptedBackend(concat(frames.map(u32beFrame)));
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const info = await client.waitClosed();
  assertEquals(
    [info.code, info.reason, info.wasClean],
    [1000, "backend closed", true],
  );
  assertEquals(info.unread.length, frames.length);
  for (const [i, message] of info.unread.entries()) {
    assert(bytesEqual(binary(message), frames[i]!), `frame ${i} differs`);
  }
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(close.code, 1000);
  assertEquals(close.framesToBrowser, frames.length);
  assertEquals(
    close.bytesToBrowser,
    frames.reduce((sum, frame) => sum + frame.length, 0),
  );
});

Deno.test("relay closes with 1011 and a readable reason when the backend is unreachable", async () => {
  const port = unusedPort();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: `127.0.0.1:${port}`, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const info = await client.waitClosed();
  assertEquals(info.code, 1011);
  assert(info.reason.includes("unreachable"), `reason: "${info.reason}"`);
  assertEquals(info.unread.length, 0);
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals([close.code, close.bytesToBackend, close.bytesToBrowser], [
    1011,
    0,
    0,
  ]);
  assert(gateway.events.some((event) => event.type === "backend_error"));
});

Deno.test("relay closes with 1011 and drops the partial frame when the backend ends mid-frame", async () => {
  const complete = utf8("complete");
  const truncated = concat([
    new Uint8Array([0, 0, 0, 100]),
    patternBytes(10, 3),
  ]);
  await using backend = startScriptedBackend(
    concat([u32beFrame(complete), truncated]),
  );
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const info = await client.waitClosed();
  assertEquals(info.code, 1011);
  assert(info.reason.includes("mid-frame"), `reason: "${info.reason}"`);
  assertEquals(info.unread, [complete]);
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals([close.code, close.framesToBrowser, close.bytesToBrowser], [
    1011,
    1,
    complete.length,
  ]);
});

Deno.test("relay reports session_open and session_close with code and byte counts", async () => {
  await using backend = startU32beBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/data", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/data"));
  const open = await within(
    gateway.waitForEvent(isSessionOpen),
    5000,
    "session_open",
  );
  assertEquals([open.route, open.target], ["/data", backend.target]);
  assert(/^127\.0\.0\.1:\d+$/.test(open.client), `client: ${open.client}`);
  const sent = [patternBytes(10, 1), patternBytes(1000, 2), patternBytes(0, 3)];
  for (const message of sent) client.send(message);
  await client.take(sent.length);
  const info = await client.close(4100, "app done");
  assertEquals(info.code, 4100);
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(close.sessionId, open.sessionId);
  assertEquals(
    {
      code: close.code,
      reason: close.reason,
      route: close.route,
      bytesToBackend: close.bytesToBackend,
      bytesToBrowser: close.bytesToBrowser,
      framesToBackend: close.framesToBackend,
      framesToBrowser: close.framesToBrowser,
    },
    {
      code: 4100,
      reason: "app done",
      route: "/data",
      bytesToBackend: 1010,
      bytesToBrowser: 1010,
      framesToBackend: 3,
      framesToBrowser: 3,
    },
  );
  assert(close.durationMs >= 0);
});

Deno.test("relay keeps large messages exact and in order when several arrive in one read either way", async () => {
  // Messages from 128 KiB up, sent back to back, so reads carry several
  // (the gateway then frames some in place in its read buffer); the backend
  // collects every frame and echoes them all with one write.
  const sizes = Array.from(
    { length: 24 },
    (_, i) => [131_072, 140_000, 131_080, 300_000, 131_100, 200_001][i % 6]!,
  );
  const payloads = sizes.map((size, i) => patternBytes(size, 40 + i));
  const expectedWire = concat(payloads.map((payload) => u32beFrame(payload)));
  const received: Uint8Array[] = [];
  let receivedBytes = 0;
  await using backend = startBackend(async (conn) => {
    const buffer = new Uint8Array(512 * 1024);
    for (let i = 0; i < 10_000 && receivedBytes < expectedWire.length; i++) {
      const count = await conn.read(buffer);
      if (count === null) return;
      received.push(buffer.slice(0, count));
      receivedBytes += count;
    }
    await writeAll(conn, concat(received));
    await conn.read(buffer).catch(() => null);
  });
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "u32be" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  for (const payload of payloads) client.send(payload);
  for (const [i, payload] of payloads.entries()) {
    const reply = binary(await client.next(10000));
    assertEquals(reply.length, payload.length, `message ${i} length`);
    assert(bytesEqual(reply, payload), `message ${i} bytes differ`);
  }
  assert(bytesEqual(concat(received), expectedWire), "backend bytes differ");
  await client.close();
});

Deno.test("relay keeps raw framing exact when the backend sends more than a read holds", async () => {
  const stream = patternBytes(3 * MIB + 17, 7);
  await using backend = startBackend(async (conn) => {
    await writeAll(conn, stream);
    await conn.read(new Uint8Array(16)).catch(() => null);
  });
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "raw" }],
  });
  await using client = await WsTestClient.open(gateway.url("/"));
  const echoed: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < 100_000 && total < stream.length; i++) {
    const chunk = binary(await client.next(10000));
    echoed.push(chunk);
    total += chunk.length;
  }
  assertEquals(total, stream.length);
  assert(bytesEqual(concat(echoed), stream), "stream differs");
  await client.close();
});
