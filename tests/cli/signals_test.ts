/**
 * Signals to a spawned `deno run -A mod.ts`: SIGTERM drains (open sessions
 * get 1001 after the data in flight, then the process exits 0 within the
 * drain timeout), `/healthz` answers 503 while a slow drain runs, and a
 * second SIGTERM or SIGINT during that drain ends the process at once.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  startBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import { RawWsClient, type ReceivedFrame } from "../_util/raw_ws_client.ts";
import { patternBytes } from "../_util/web_socket_client.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

/** A backend whose first connection the test drives by hand. */
interface HeldBackend extends AsyncDisposable {
  readonly target: string;
  /** Resolves with the first accepted connection. */
  readonly connection: Promise<Deno.TcpConn>;
}

function startHeldBackend(): HeldBackend {
  const released = Promise.withResolvers<void>();
  const first = Promise.withResolvers<Deno.TcpConn>();
  const backend = startBackend(async (conn) => {
    first.resolve(conn);
    await released.promise;
  });
  return {
    target: backend.target,
    connection: within(first.promise, 5000, "the backend connection"),
    async [Symbol.asyncDispose]() {
      released.resolve();
      await backend.close();
    },
  };
}

/** Reads exactly `length` bytes, with a deadline. */
function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const reading = (async () => {
    let filled = 0;
    while (filled < length) {
      const count = await conn.read(out.subarray(filled));
      if (count === null) throw new Error(`EOF after ${filled} bytes`);
      filled += count;
    }
    return out;
  })();
  reading.catch(() => {});
  return within(reading, 5000, `${length} bytes on the backend`);
}

/** Reads until EOF (or a reset), with a deadline. */
function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const reading = (async () => {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let reads = 0; reads < 100_000; reads++) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) break;
      chunks.push(buffer.slice(0, count));
    }
    return concat(chunks);
  })();
  reading.catch(() => {});
  return within(reading, 10_000, "the backend connection to end");
}

function messagesOf(frames: readonly ReceivedFrame[]): Uint8Array[] {
  return frames.flatMap((frame) =>
    frame.kind === "message" ? [frame.payload] : []
  );
}

/** `GET /healthz` over a plain socket; resolves with the status code. */
async function healthz(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      new TextEncoder().encode(
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
      ),
    );
    const head = new TextDecoder().decode(await readToEnd(conn));
    return Number(head.split(" ")[1]);
  } finally {
    conn.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 20 ms until it returns true or `timeoutMs` passes. */
async function pollUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let polls = 0; polls < 10_000; polls++) {
    if (await probe()) return;
    if (Date.now() >= deadline) break;
    await delay(20);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

Deno.test("wsgate closes an open session with 1001 after the data in flight and exits 0 within the drain timeout on SIGTERM", async () => {
  const drainTimeoutMs = 3000;
  await using backend = startHeldBackend();
  await using wsgate = spawnWsgate([
    "--listen",
    "127.0.0.1:0",
    "--target",
    backend.target,
    "--drain-timeout",
    `${drainTimeoutMs}ms`,
  ]);
  const { port } = await wsgate.listening();
  const { client, response } = await RawWsClient.connect(port, "/");
  await using _client = client;
  assertEquals(response.status, 101, response.head);
  const conn = await backend.connection;
  // One round each way, so the session is relaying.
  await client.send(patternBytes(10, 1));
  assertEquals(await readExactly(conn, 14), u32beFrame(patternBytes(10, 1)));
  await writeAll(conn, u32beFrame(patternBytes(10, 2)));
  assertEquals(messagesOf([(await client.next())!]), [patternBytes(10, 2)]);
  // In flight both ways as the signal arrives.
  const toBackend = patternBytes(3000, 3);
  const toBrowser = patternBytes(3000, 4);
  await Promise.all([
    client.send(toBackend),
    writeAll(conn, u32beFrame(toBrowser)),
  ]);
  const signalled = performance.now();
  wsgate.child.kill("SIGTERM");
  const backendBytes = readToEnd(conn);
  const close = await client.nextClose();
  assert(close !== undefined, "EOF instead of a close frame");
  assertEquals([close.code, close.reason], [1001, "gateway shutting down"]);
  assertEquals(messagesOf(close.before), [toBrowser]);
  await client.sendClose(1001);
  await client.waitForEof();
  assertEquals(await backendBytes, u32beFrame(toBackend));
  conn.close(); // like a server that closes at EOF
  const status = await within(
    wsgate.status,
    drainTimeoutMs + 2000,
    "wsgate to exit",
  );
  const elapsed = performance.now() - signalled;
  assertEquals([status.code, status.signal], [0, null]);
  assert(elapsed < drainTimeoutMs, `exited ${elapsed} ms after SIGTERM`);
  // A normal shutdown is news, not a problem: INFO shutting_down.
  const shutdown = wsgate.stderrLines.filter((line) =>
    line.includes("shutting_down") || line.includes(" warning ")
  );
  assertEquals(shutdown.length, 1, wsgate.stderrLines.join("\n"));
  assert(
    shutdown[0]!.endsWith(" INFO  shutting_down cause=SIGTERM"),
    shutdown[0],
  );
});

for (const second of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`wsgate answers /healthz 503 during a slow drain and exits at once on a second signal (${second})`, async () => {
    // The backend reads nothing, so the bytes the gateway holds for it keep
    // the session (and the drain) open until the close timeout.
    await using backend = startHeldBackend();
    await using wsgate = spawnWsgate([
      "--listen",
      "127.0.0.1:0",
      "--target",
      backend.target,
      "--buffer",
      "64k",
      "--close-timeout",
      "30s",
      "--drain-timeout",
      "30s",
    ]);
    const { port } = await wsgate.listening();
    assertEquals(await healthz(port), 200);
    const { client, response } = await RawWsClient.connect(port, "/");
    await using _client = client;
    assertEquals(response.status, 101, response.head);
    await backend.connection;
    let sentBytes = 0;
    const sending = (async () => {
      const frame = encodeClientFrame(Opcode.BINARY, patternBytes(60_000, 5));
      for (let messages = 0; messages < 2000; messages++) {
        let rest = frame;
        while (rest.length > 0) {
          const written = await client.conn.write(rest);
          rest = rest.subarray(written);
          sentBytes += written;
        }
      }
    })();
    sending.catch(() => {});
    // Wait until the browser's writes stall: the gateway holds data it
    // cannot hand to the backend.
    let last = -1;
    let lastChange = Date.now();
    await pollUntil(
      () => {
        if (sentBytes !== last) {
          last = sentBytes;
          lastChange = Date.now();
        }
        return Promise.resolve(Date.now() - lastChange >= 200);
      },
      10_000,
      "the browser's writes to stall",
    );
    wsgate.child.kill("SIGTERM");
    await pollUntil(
      async () => await healthz(port) === 503,
      5000,
      "/healthz to answer 503",
    );
    assertEquals(await healthz(port), 503);
    const signalled = performance.now();
    wsgate.child.kill(second);
    const status = await within(wsgate.status, 5000, "wsgate to exit");
    const elapsed = performance.now() - signalled;
    // It exits by itself (not killed by the signal's default action).
    assertEquals(status.signal, null);
    assert(elapsed < 1000, `exited ${elapsed} ms after the second signal`);
    await client.close();
  });
}
