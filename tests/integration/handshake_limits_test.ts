import { assert, assertEquals, within } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  for (let reads = 0; reads < 100; reads++) {
    const count = await conn.read(buffer).catch(() => null);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  return new TextDecoder().decode(
    chunks.reduce((all, chunk) => {
      const out = new Uint8Array(all.length + chunk.length);
      out.set(all);
      out.set(chunk, all.length);
      return out;
    }, new Uint8Array(0)),
  );
}

// Regression: connections still sending their request head were not counted
// against maxSessions, so slow handshakes could pile up without bound.
Deno.test("gateway refuses new connections with 503 while maxSessions handshakes are unfinished", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
    maxSessions: 2,
    handshakeTimeoutMs: 5000,
  });
  const slow = await Promise.all(
    [1, 2].map(() =>
      Deno.connect({ hostname: "127.0.0.1", port: gateway.port })
    ),
  );
  try {
    // Each slow client sends half a request head and stops.
    for (const conn of slow) {
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"),
      );
    }
    // The gateway registers a handshake when it accepts; a round trip on a
    // third connection proves the first two were accepted first.
    const extra = await Deno.connect({
      hostname: "127.0.0.1",
      port: gateway.port,
    });
    try {
      const response = await within(readAll(extra), 3000, "the 503 response");
      assert(response.startsWith("HTTP/1.1 503 "), response);
      assert(response.includes("Too many connections"), response);
    } finally {
      extra.close();
    }
    const refused = gateway.events.find((event) =>
      event.type === "handshake_refused" && event.status === 503
    );
    assertEquals(refused?.type, "handshake_refused");
  } finally {
    for (const conn of slow) conn.close();
  }
});

// Regression (issue 17 item 13): `Content-Length: 6` with a body that is a
// WebSocket frame got 101, and the body was relayed to the backend as a
// message.
Deno.test("gateway refuses an upgrade with a frame-shaped body with 400", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: gateway.port,
  });
  try {
    // An empty masked text frame: FIN+text, masked length 0, the mask.
    const frame = [0x81, 0x80, 1, 2, 3, 4];
    const head = new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        `Content-Length: ${frame.length}\r\n\r\n`,
    );
    const request = new Uint8Array(head.length + frame.length);
    request.set(head);
    request.set(frame, head.length);
    await conn.write(request);
    const response = await within(readAll(conn), 3000, "the response");
    assert(response.startsWith("HTTP/1.1 400 "), response);
    assert(response.includes("must not have a body"), response);
  } finally {
    conn.close();
  }
});
