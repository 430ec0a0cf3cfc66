import { assert, assertEquals, within } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import net from "node:net";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { waitUntil } from "../_util/wait_until.ts";

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

/** Connects from another loopback address (127.0.0.2) with node:net. */
function connectFrom(
  localAddress: string,
  port: number,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything `socket` receives until the peer closes it. */
function received(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
    });
    socket.once("close", () => resolve(text));
  });
}

// Regression (issue 17 item 7): the pending-handshake cap was global only, so
// silent sockets from one address got every other client a 503.
Deno.test("gateway refuses with 429 more unfinished handshakes from one address than maxHandshakesPerIp while other addresses still upgrade", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
    maxSessions: 4,
    maxHandshakesPerIp: 3,
    handshakeTimeoutMs: 5000,
  });
  const silent: net.Socket[] = [];
  try {
    for (let index = 0; index < 3; index++) {
      const socket = await connectFrom("127.0.0.2", gateway.port);
      socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
      silent.push(socket);
    }
    // Accepts are handled in order, so the three above are pending first.
    const extra = await connectFrom("127.0.0.2", gateway.port);
    const refusal = await within(received(extra), 3000, "the 429 response");
    extra.destroy();
    assert(refusal.startsWith("HTTP/1.1 429 "), refusal);
    assert(refusal.includes("Too many handshakes from this address"), refusal);

    // Another address still gets its upgrade.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: gateway.port,
    });
    try {
      await conn.write(new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + gateway.port +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ));
      const buffer = new Uint8Array(1024);
      const count = await within(conn.read(buffer), 3000, "the 101 response");
      const answer = new TextDecoder().decode(buffer.subarray(0, count ?? 0));
      assert(answer.startsWith("HTTP/1.1 101 "), answer);
    } finally {
      conn.close();
    }
    const refused = gateway.events.filter((event) =>
      event.type === "handshake_refused"
    );
    assertEquals(refused.map((event) => event.status), [429]);
  } finally {
    for (const socket of silent) socket.destroy();
  }
});

/** Reads from `conn` until at least `count` bytes arrived (bounded). */
async function readAtLeast(conn: Deno.Conn, count: number): Promise<string> {
  const buffer = new Uint8Array(count);
  let got = 0;
  for (let reads = 0; reads < 100 && got < count; reads++) {
    const read = await conn.read(buffer.subarray(got));
    if (read === null) break;
    got += read;
  }
  return new TextDecoder().decode(buffer.subarray(0, got));
}

// Regression (issue 17 item 2): a client that asked for a large static file,
// read a few bytes and stopped held its connection and the open file forever,
// and such connections counted against no limit.
Deno.test("gateway counts slow static readers against maxSessions and cuts them once they read nothing for the handshake timeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(16 * 1024 * 1024));
    await Deno.writeTextFile(`${dir}/small.txt`, "small");
    await using gateway = await startGateway({
      routes: [],
      staticDir: dir,
      maxSessions: 3,
      maxHandshakesPerIp: 0,
      handshakeTimeoutMs: 400,
    });
    const readers: Deno.Conn[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: gateway.port,
        });
        readers.push(conn);
        await conn.write(
          new TextEncoder().encode(
            "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n",
          ),
        );
        // The response has started: the gateway is writing to this reader.
        const start = await within(readAtLeast(conn, 15), 3000, "15 bytes");
        assert(start.startsWith("HTTP/1.1 200"), start);
      }
      const extra = await Deno.connect({
        hostname: "127.0.0.1",
        port: gateway.port,
      });
      try {
        await extra.write(
          new TextEncoder().encode(
            "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n",
          ),
        );
        const response = await within(readAll(extra), 3000, "the 503");
        assert(response.startsWith("HTTP/1.1 503 "), response);
      } finally {
        extra.close();
      }
      const isCut = (event: GatewayEvent): event is GatewayEvent =>
        event.type === "warning" && event.message === "slow reader cut";
      await within(
        waitUntil(
          () => gateway.events.filter(isCut).length === 3,
          5000,
          () => "three slow readers cut",
        ),
        6000,
        "the cuts",
      );
      const cut = gateway.events.find(isCut);
      assert(
        cut?.type === "warning" && cut.detail?.includes("GET /big.bin"),
        JSON.stringify(cut),
      );
      const after = await Deno.connect({
        hostname: "127.0.0.1",
        port: gateway.port,
      });
      try {
        await after.write(
          new TextEncoder().encode(
            "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n",
          ),
        );
        const response = await within(readAll(after), 3000, "the 200");
        assert(response.startsWith("HTTP/1.1 200 "), response);
        assert(response.endsWith("small"), response);
      } finally {
        after.close();
      }
    } finally {
      for (const conn of readers) conn.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
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
