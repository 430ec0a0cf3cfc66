/**
 * Proof under faults: backends and browsers that misbehave in every way the
 * long-lived-sessions issue lists, against a real in-process gateway on
 * 127.0.0.1:0. For each fault the test asserts the documented close code (or
 * behaviour), that no byte of a completed message is lost or duplicated
 * (every message carries a stream id, a sequence number and a checksum),
 * and that the gateway stays up: a fresh session round-trips afterwards,
 * `sessionCount` returns to 0 and the process's open file descriptors
 * return to the baseline taken before the fault (the gateway runs in this
 * process, so its sockets are counted in `/proc/self/fd`).
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  readOrEof,
  startBackend,
  type TestBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import { assertSequence, checkedMessage } from "../_util/checked_messages.ts";
import { openFdCount, openFdTargets } from "../_util/fd_count.ts";
import {
  type GatewayFixture,
  nextClose,
  startGateway,
} from "../_util/gateway_fixture.ts";
import { startNodeBackend } from "../_util/node_backend.ts";
import { Prng } from "../_util/prng.ts";
import { messagesOf, type ReceivedFrame } from "../_util/raw_ws_client.ts";
import { closeOf, openRaw } from "../_util/raw_session.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { U32beSplitter } from "../_util/u32be_splitter.ts";
import { waitUntil } from "../_util/wait_until.ts";
import {
  binary,
  bytesEqual,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import type { GatewayOptions, RouteOptions } from "../../src/config/config.ts";
import { parseClosePayload } from "../../src/websocket/close_frame.ts";
import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";

// ---- the rig: a gateway with an echo route and a leak baseline ------------

interface Rig extends AsyncDisposable {
  gateway: GatewayFixture;
  /** Open fds after a warm-up session, with every fault backend listening. */
  baselineFds: number;
}

const ECHO_PATH = "/echo";

/**
 * Starts a gateway with `options` plus an echo route, runs one warm-up
 * session (so lazily opened runtime handles are counted) and takes the fd
 * baseline. Start fault backends before the rig: they are in the baseline.
 */
async function startRig(options: GatewayOptions): Promise<Rig> {
  const echo = startU32beBackend();
  const gateway = await startGateway({
    ...options,
    routes: [...options.routes ?? [], {
      path: ECHO_PATH,
      target: echo.target,
    }],
  });
  const rig: Rig = {
    gateway,
    baselineFds: 0,
    async [Symbol.asyncDispose]() {
      await gateway[Symbol.asyncDispose]();
      await echo.close();
    },
  };
  await freshRoundTrip(gateway);
  await waitUntil(
    () => gateway.gateway.sessionCount === 0 && echo.connections.length === 1,
    5000,
    () => "the warm-up session to end",
  );
  await within(echo.connections[0]!.ended, 5000, "warm-up backend EOF");
  // Take the warm-up session's close, so nextClose() sees the fault's.
  assertEquals((await nextClose(gateway)).code, 1000);
  rig.baselineFds = openFdCount();
  return rig;
}

/** A fresh session on the echo route round-trips a checked message. */
async function freshRoundTrip(gateway: GatewayFixture): Promise<void> {
  await using client = await WsTestClient.open(gateway.url(ECHO_PATH));
  const message = checkedMessage(999, 0, 3000);
  client.send(message);
  assert(bytesEqual(binary(await client.next()), message), "echo differs");
  const info = await client.close(1000, "done");
  assertEquals(info.code, 1000);
}

/** The gateway still serves, holds no session and leaks no descriptor. */
async function assertRecovered(rig: Rig): Promise<void> {
  await freshRoundTrip(rig.gateway);
  await waitUntil(
    () => rig.gateway.gateway.sessionCount === 0,
    5000,
    () => `sessionCount 0 (now ${rig.gateway.gateway.sessionCount})`,
  );
  await waitUntil(
    () => openFdCount() <= rig.baselineFds,
    3000,
    () =>
      `open fds back to ${rig.baselineFds} (now ${openFdCount()}: ${
        openFdTargets().join(" ")
      })`,
  );
}

// ---- backends --------------------------------------------------------------

/** A backend whose handler can wait for the test's go-ahead. */
interface ScriptedBackend extends TestBackend {
  /** Lets every waiting handler go on. */
  release(): void;
}

function startScripted(
  handler: (conn: Deno.TcpConn, released: Promise<void>) => Promise<void>,
): ScriptedBackend {
  const released = Promise.withResolvers<void>();
  const backend = startBackend((conn) => handler(conn, released.promise));
  const stop = backend.close;
  const close = () => {
    released.resolve();
    return stop();
  };
  return Object.assign(backend, {
    release: () => released.resolve(),
    close,
    [Symbol.asyncDispose]: close,
  });
}

/** Reads and splits u32be frames until EOF, calling `onFrame` for each. */
async function readFrames(
  conn: Deno.Conn,
  onFrame: (payload: Uint8Array) => void | Promise<void>,
): Promise<number> {
  const splitter = new U32beSplitter();
  const buffer = new Uint8Array(64 * 1024);
  for (let reads = 0; reads < 1_000_000; reads++) {
    const count = await readOrEof(conn, buffer);
    if (count === null) break;
    for (const payload of splitter.push(buffer.subarray(0, count))) {
      await onFrame(payload);
    }
  }
  return splitter.pendingBytes;
}

// ---- a browser that reads only when told -----------------------------------

/** A WebSocket client over TCP that reads nothing until asked to. */
class LazyReader implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly frames: ReceivedFrame[] = [];
  #parser: WsFrameParser;
  #isEof = false;

  constructor(conn: Deno.TcpConn, leftover: Uint8Array) {
    this.conn = conn;
    this.#parser = new WsFrameParser({
      onMessage: (isText, payload) =>
        this.frames.push({ kind: "message", isText, payload: payload.slice() }),
      onControl: (opcode, payload) => {
        if (opcode === Opcode.CLOSE) {
          this.frames.push({ kind: "close", ...parseClosePayload(payload) });
        } else {
          this.frames.push({
            kind: opcode === Opcode.PING ? "ping" : "pong",
            payload: payload.slice(),
          });
        }
      },
    }, { expectMasked: false, maxMessageBytes: 1 << 30, validateUtf8: false });
    if (leftover.length > 0) this.#parser.push(leftover);
  }

  /** Connects and upgrades; reads no further than the response head. */
  static async connect(port: number, path: string): Promise<LazyReader> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(
      conn,
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    const buffer = new Uint8Array(4096);
    let filled = 0;
    for (let reads = 0; reads < 100; reads++) {
      const count = await within(
        conn.read(buffer.subarray(filled)),
        5000,
        "101",
      );
      if (count === null) break;
      filled += count;
      const text = new TextDecoder("latin1").decode(buffer.subarray(0, filled));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        assert(text.startsWith("HTTP/1.1 101"), text);
        return new LazyReader(conn, buffer.slice(end + 4, filled));
      }
    }
    conn.close();
    throw new Error("No upgrade response");
  }

  /** Reads until `isDone(frames)` or EOF, with a deadline. */
  async readUntil(
    isDone: (frames: readonly ReceivedFrame[]) => boolean,
    timeoutMs = 5000,
  ): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    const reading = (async () => {
      for (let reads = 0; reads < 1_000_000; reads++) {
        if (isDone(this.frames) || this.#isEof) return;
        const count = await readOrEof(this.conn, buffer);
        if (count === null) {
          this.#isEof = true;
          return;
        }
        this.#parser.push(buffer.subarray(0, count));
      }
    })();
    reading.catch(() => {});
    await within(reading, timeoutMs, "frames from the gateway");
  }

  get isEof(): boolean {
    return this.#isEof;
  }

  send(payload: Uint8Array): Promise<void> {
    return writeAll(this.conn, encodeClientFrame(Opcode.BINARY, payload));
  }

  sendClose(code: number): Promise<void> {
    return writeAll(
      this.conn,
      encodeClientFrame(Opcode.CLOSE, new Uint8Array([code >> 8, code & 255])),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    return Promise.resolve();
  }
}

/** Reads the `wsgate_buffered_bytes` gauge. */
function bufferedBytes(gateway: GatewayFixture): number {
  const line = gateway.gateway.renderMetrics().split("\n").find((text) =>
    text.startsWith("wsgate_buffered_bytes ")
  );
  return Number(line?.split(" ")[1] ?? NaN);
}

/**
 * A route whose only job is a short idle timer, so the shared sweep (which
 * also refreshes the buffered-bytes gauge) runs every 10 ms.
 */
function fastSweepRoute(target: string): RouteOptions {
  return { path: "/fast-sweep", target, idleTimeoutMs: 40 };
}

/**
 * How many messages of `messageBytes` to offer so that the kernel buffers
 * on a two-hop loopback path (two send buffers and the gateway's receive
 * buffer, each able to grow to its sysctl maximum) cannot absorb them all,
 * and the sender must be held back by the gateway.
 */
function overflowingCount(messageBytes: number): number {
  const maxOf = (file: string, fallback: number) => {
    try {
      const fields = Deno.readTextFileSync(file).trim().split(/\s+/);
      return Number(fields.at(-1)) || fallback;
    } catch {
      return fallback;
    }
  };
  const receive = maxOf("/proc/sys/net/ipv4/tcp_rmem", 32 << 20);
  const send = maxOf("/proc/sys/net/ipv4/tcp_wmem", 4 << 20);
  const bytes = Math.min(receive + 2 * send, 128 << 20) + (8 << 20);
  return Math.ceil(bytes / messageBytes);
}

/** Resolves when `progress()` has not changed for `quietMs` (bounded). */
async function waitForStall(
  progress: () => number,
  quietMs: number,
  what: string,
): Promise<void> {
  let last = progress();
  let lastChange = Date.now();
  await waitUntil(
    () => {
      const now = progress();
      if (now !== last) {
        last = now;
        lastChange = Date.now();
      }
      return Date.now() - lastChange >= quietMs;
    },
    10_000,
    () => `${what} to stall`,
  );
}

// ---- backends that fail ----------------------------------------------------

Deno.test("gateway survives a backend that closes mid-frame: 1011, completed frames delivered once", async () => {
  const complete = Array.from(
    { length: 30 },
    (_, seq) => checkedMessage(1, seq, seq === 15 ? 100_000 : 40 + seq),
  );
  await using backend = startScripted(async (conn) => {
    await writeAll(
      conn,
      concat([
        ...complete.map(u32beFrame),
        u32beFrame(checkedMessage(1, 30, 5000)).subarray(0, 2000),
      ]),
    );
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target }],
  });
  await using client = await WsTestClient.open(rig.gateway.url("/"));
  const info = await client.waitClosed();
  assertEquals([info.code, info.reason], [1011, "backend closed mid-frame"]);
  assertEquals(info.unread.length, complete.length);
  assertSequence(info.unread.map(binary), 1, "to browser");
  assertEquals((await nextClose(rig.gateway)).code, 1011);
  await assertRecovered(rig);
});

Deno.test("gateway survives a backend that resets: 1011, completed frames delivered once", async () => {
  const echoes = 5;
  const received: Uint8Array[] = [];
  // Echoes the first frames, then resets (SO_LINGER 0) on the next data.
  await using backend = await startNodeBackend((socket) => {
    const splitter = new U32beSplitter();
    socket.on("data", (chunk: Uint8Array) => {
      for (const payload of splitter.push(new Uint8Array(chunk))) {
        if (received.length === echoes) {
          socket.resetAndDestroy();
          return;
        }
        received.push(payload);
        socket.write(u32beFrame(payload));
      }
    });
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target }],
  });
  await using client = await openRaw(rig.gateway, "/");
  const sent = Array.from(
    { length: echoes },
    (_, seq) => checkedMessage(2, seq, 100 + seq * 1000),
  );
  for (const message of sent) await client.send(message);
  const echoed: Uint8Array[] = [];
  for (let i = 0; i < echoes; i++) {
    const frame = await client.next();
    assert(frame?.kind === "message", `echo ${i}: ${frame?.kind}`);
    echoed.push(frame.payload);
  }
  await client.send(checkedMessage(2, echoes, 500));
  const close = await closeOf(client);
  assertEquals([close.code, close.reason], [1011, "backend connection reset"]);
  assertEquals(close.before, []);
  assertSequence(echoed, 2, "to browser");
  assertSequence(received, 2, "to backend");
  assertEquals(received.length, echoes);
  assertEquals((await nextClose(rig.gateway)).code, 1011);
  await assertRecovered(rig);
});

Deno.test("gateway holds a browser back while its backend stops reading, then delivers every message once", async () => {
  const bufferBytes = 64 * 1024;
  const messageBytes = 16 * 1024;
  const count = overflowingCount(messageBytes);
  const received: Uint8Array[] = [];
  let backendConn: Deno.TcpConn | undefined;
  await using backend = startScripted(async (conn, released) => {
    backendConn = conn;
    await released; // reads nothing until the test says so
    await readFrames(conn, (payload) => {
      received.push(payload);
    });
  });
  await using rig = await startRig({
    bufferBytes,
    routes: [
      { path: "/", target: backend.target },
      fastSweepRoute(backend.target),
    ],
  });
  await using client = await openRaw(rig.gateway, "/");
  let sentBytes = 0;
  let sentMessages = 0;
  const sending = (async () => {
    for (let seq = 0; seq < count; seq++) {
      const frame = encodeClientFrame(
        Opcode.BINARY,
        checkedMessage(3, seq, messageBytes),
      );
      let rest = frame;
      while (rest.length > 0) {
        const written = await client.conn.write(rest);
        rest = rest.subarray(written);
        sentBytes += written;
      }
      sentMessages++;
    }
  })();
  sending.catch(() => {});
  await waitForStall(() => sentBytes, 150, "the browser's writes");
  assert(backendConn !== undefined, "backend connected");
  assert(sentMessages < count, "the gateway took everything: no backpressure");
  // The gateway holds at most its high-water mark plus one read's worth.
  const held = bufferedBytes(rig.gateway);
  assert(held <= bufferBytes + 512 * 1024, `gateway holds ${held} bytes`);
  backend.release();
  await within(sending, 10_000, "the browser's writes to finish");
  await waitUntil(
    () => received.length === count,
    10_000,
    () => `${count} messages at the backend (now ${received.length})`,
  );
  assertSequence(received, 3, "to backend");
  await client.sendClose(1000);
  const close = await client.nextClose();
  assertEquals(close?.code, 1000);
  await client.waitForEof();
  await client.close();
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.framesToBackend], [1000, count]);
  await assertRecovered(rig);
});

Deno.test("gateway closes a session whose backend stalls after accept: 4000 backend silent", async () => {
  await using backend = startScripted(async (_conn, released) => {
    await released; // accepts, then neither reads nor writes
  });
  await using rig = await startRig({
    // The backend will not read our FIN either: bound the close.
    closeTimeoutMs: 300,
    routes: [{ path: "/", target: backend.target, backendSilenceMs: 80 }],
  });
  await using client = await openRaw(rig.gateway, "/");
  for (let seq = 0; seq < 5; seq++) {
    await client.send(checkedMessage(4, seq, 1000));
  }
  const close = await closeOf(client);
  assertEquals([close.code, close.reason], [4000, "backend silent"]);
  assertEquals(close.before, []);
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.framesToBackend], [4000, 5]);
  backend.release();
  await assertRecovered(rig);
});

Deno.test("gateway closes a session whose backend accepts and never answers: 4001 idle, every message delivered once", async () => {
  const received: Uint8Array[] = [];
  await using backend = startScripted(async (conn) => {
    await readFrames(conn, (payload) => {
      received.push(payload);
    });
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target, idleTimeoutMs: 80 }],
  });
  await using client = await WsTestClient.open(rig.gateway.url("/"));
  const sent = Array.from(
    { length: 50 },
    (_, seq) => checkedMessage(5, seq, 10 + seq * 97),
  );
  for (const message of sent) client.send(message);
  const info = await client.waitClosed();
  assertEquals([info.code, info.reason], [4001, "idle timeout"]);
  assertEquals(info.unread.length, 0);
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.framesToBackend], [4001, sent.length]);
  await waitUntil(
    () => backend.accepted === 1 && received.length === sent.length,
    5000,
    () => `every message at the backend (${received.length})`,
  );
  assertSequence(received, 5, "to backend");
  await assertRecovered(rig);
});

Deno.test("gateway closes sessions whose backend sends garbage with the framing's code", async (t) => {
  const prng = new Prng(0x5eed);
  const garbage = prng.bytes(4096);
  garbage[0] = 0xf0; // a u32be length far above the 16 MiB default
  const good = checkedMessage(6, 0, 500);
  const cases = [
    {
      framing: "u32be",
      bytes: concat([u32beFrame(good), garbage]),
      before: good,
      code: 1009,
      reason: "backend frame too big",
    },
    {
      framing: "varint",
      // Eleven continuation bytes cannot start a length.
      bytes: concat([
        new Uint8Array([3, 1, 2, 3]),
        new Uint8Array(11).fill(0xff),
        garbage,
      ]),
      before: new Uint8Array([1, 2, 3]),
      code: 1002,
      reason: "malformed backend frame",
    },
    {
      framing: "u32be,text",
      bytes: concat([
        u32beFrame(new TextEncoder().encode("ok")),
        u32beFrame(concat([new Uint8Array([0xff]), garbage])),
      ]),
      before: new TextEncoder().encode("ok"),
      code: 1007,
      reason: "invalid backend message",
    },
  ];
  let index = 0;
  await using backend = startScripted(async (conn) => {
    // A good frame, then the garbage, in one write.
    await writeAll(conn, cases[index++]!.bytes);
    await readFrames(conn, () => {});
  });
  await using rig = await startRig({
    routes: cases.map(({ framing }, i) => ({
      path: `/${i}`,
      target: backend.target,
      framing,
    })),
  });
  for (const [i, { framing, before, code, reason }] of cases.entries()) {
    await t.step(`${framing}: ${code} ${reason}`, async () => {
      await using client = await openRaw(rig.gateway, `/${i}`);
      const close = await closeOf(client);
      assertEquals([close.code, close.reason], [code, reason]);
      assertEquals(messagesOf(close.before), [before]);
      assertEquals((await nextClose(rig.gateway)).code, code);
    });
  }
  await assertRecovered(rig);
});

// ---- browsers that fail ----------------------------------------------------

Deno.test("gateway survives browsers that vanish without a close frame: backend gets every message once, then EOF", async () => {
  const logs: { received: Uint8Array[]; ended: Promise<void> }[] = [];
  await using backend = startScripted(async (conn) => {
    const ended = Promise.withResolvers<void>();
    const log = { received: [] as Uint8Array[], ended: ended.promise };
    logs.push(log);
    try {
      await readFrames(conn, (payload) => {
        log.received.push(payload);
      });
    } finally {
      ended.resolve();
    }
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target }],
  });
  for (const [i, vanish] of ["FIN", "close"].entries()) {
    const client = await openRaw(rig.gateway, "/");
    const sent = Array.from(
      { length: 20 },
      (_, seq) => checkedMessage(7, seq, seq === 10 ? 300_000 : 50),
    );
    for (const message of sent) await client.send(message);
    if (vanish === "FIN") {
      await client.conn.closeWrite();
      await client.waitForEof();
    }
    await client.close();
    await waitUntil(() => logs.length > i, 5000, () => "backend connection");
    await within(logs[i]!.ended, 5000, "backend EOF");
    assertEquals(logs[i]!.received.length, sent.length);
    assertSequence(logs[i]!.received, 7, `to backend (${vanish})`);
    const event = await nextClose(rig.gateway);
    assertEquals([event.code, event.reason], [1006, "browser gone"]);
  }
  await assertRecovered(rig);
});

Deno.test("gateway holds a backend back while the browser stops reading, then delivers every frame once", async () => {
  const bufferBytes = 64 * 1024;
  const messageBytes = 16 * 1024;
  const count = overflowingCount(messageBytes);
  let written = 0;
  await using backend = startScripted(async (conn) => {
    for (let seq = 0; seq < count; seq++) {
      await writeAll(conn, u32beFrame(checkedMessage(8, seq, messageBytes)));
      written++;
    }
    await readFrames(conn, () => {});
  });
  await using rig = await startRig({
    bufferBytes,
    routes: [
      { path: "/", target: backend.target },
      fastSweepRoute(backend.target),
    ],
  });
  await using client = await LazyReader.connect(rig.gateway.port, "/");
  await waitForStall(() => written, 150, "the backend's writes");
  assert(written < count, "the gateway took everything: no backpressure");
  const held = bufferedBytes(rig.gateway);
  assert(held <= bufferBytes + 512 * 1024, `gateway holds ${held} bytes`);
  await client.readUntil(
    (frames) => messagesOf(frames).length === count,
    10_000,
  );
  assertSequence(messagesOf(client.frames), 8, "to browser");
  await client.sendClose(1000);
  await client.readUntil((frames) => frames.at(-1)?.kind === "close");
  assertEquals(client.frames.at(-1), { kind: "close", code: 1000, reason: "" });
  await client.readUntil(() => false);
  assert(client.isEof);
  await client[Symbol.asyncDispose]();
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.framesToBrowser], [1000, count]);
  await assertRecovered(rig);
});

Deno.test("gateway releases the backend of a browser that stops reading and answering pings", async () => {
  let written = 0;
  const backendEnded = Promise.withResolvers<void>();
  await using backend = startScripted(async (conn) => {
    try {
      for (let seq = 0; seq < 100_000; seq++) {
        await writeAll(conn, u32beFrame(checkedMessage(9, seq, 16 * 1024)));
        written++;
      }
    } catch {
      // The gateway closed the connection.
    } finally {
      backendEnded.resolve();
    }
  });
  await using rig = await startRig({
    bufferBytes: 64 * 1024,
    // The backend never stops talking: bound the close.
    closeTimeoutMs: 300,
    pingIntervalMs: 50,
    pingTimeoutMs: 100,
    routes: [{ path: "/", target: backend.target }],
  });
  await using client = await LazyReader.connect(rig.gateway.port, "/");
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.reason], [1006, "browser gone"]);
  await within(backendEnded.promise, 5000, "the backend to be released");
  assert(written < 100_000);
  // What did arrive is an intact prefix, with no close frame after it.
  await client.readUntil(() => false);
  assertSequence(messagesOf(client.frames), 9, "to browser");
  assert(client.frames.every((frame) => frame.kind !== "close"));
  await client[Symbol.asyncDispose]();
  await assertRecovered(rig);
});

Deno.test("gateway ignores data a browser sends after its close frame", async () => {
  const received: Uint8Array[] = [];
  const ended = Promise.withResolvers<void>();
  await using backend = startScripted(async (conn) => {
    await readFrames(conn, (payload) => {
      received.push(payload);
    });
    ended.resolve();
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target }],
  });
  await using client = await openRaw(rig.gateway, "/");
  const before = Array.from(
    { length: 10 },
    (_, seq) => checkedMessage(10, seq, 200),
  );
  const after = concat(
    Array.from(
      { length: 10 },
      (_, seq) =>
        encodeClientFrame(Opcode.BINARY, checkedMessage(10, 10 + seq, 200)),
    ),
  );
  await client.sendRaw(
    concat([
      ...before.map((message) => encodeClientFrame(Opcode.BINARY, message)),
      encodeClientFrame(Opcode.CLOSE, new Uint8Array([0x03, 0xe8])),
      after,
      encodeClientFrame(Opcode.PING, new Uint8Array([1])),
    ]),
  );
  // Keep sending while the gateway closes; writes may fail once it has.
  await client.sendRaw(after).catch(() => {});
  const close = await client.nextClose();
  assertEquals(close?.code, 1000);
  assert(close.before.every((frame) => frame.kind !== "pong"));
  await client.waitForEof();
  await within(ended.promise, 5000, "backend EOF");
  assertEquals(received.length, before.length);
  assertSequence(received, 10, "to backend");
  const event = await nextClose(rig.gateway);
  assertEquals([event.code, event.framesToBackend], [1000, before.length]);
  await client.close();
  await assertRecovered(rig);
});

Deno.test("gateway delivers every message to a backend that is still answering when the browser closes", async () => {
  // The backend answers each frame and reads until EOF. A gateway that
  // closes its backend socket while answers are unread makes the kernel
  // send a reset, which discards the bytes still in its send queue.
  const logs: { received: Uint8Array[]; error: string }[] = [];
  const ends: Promise<void>[] = [];
  await using backend = startScripted(async (conn) => {
    const log = { received: [] as Uint8Array[], error: "" };
    logs.push(log);
    const ended = Promise.withResolvers<void>();
    ends.push(ended.promise);
    const splitter = new U32beSplitter();
    const buffer = new Uint8Array(64 * 1024);
    let canAnswer = true;
    try {
      for (let reads = 0; reads < 1_000_000; reads++) {
        const count = await conn.read(buffer);
        if (count === null) break;
        const payloads = splitter.push(buffer.subarray(0, count));
        log.received.push(...payloads);
        if (!canAnswer) continue;
        await writeAll(conn, concat(payloads.map(u32beFrame))).catch(() => {
          canAnswer = false;
        });
      }
    } catch (error) {
      log.error = String(error);
    } finally {
      ended.resolve();
    }
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target }],
  });
  for (let round = 0; round < 3; round++) {
    const count = 400;
    await using client = await openRaw(rig.gateway, "/");
    await client.sendRaw(
      concat([
        ...Array.from(
          { length: count },
          (_, seq) =>
            encodeClientFrame(Opcode.BINARY, checkedMessage(14, seq, 2000)),
        ),
        encodeClientFrame(Opcode.CLOSE, new Uint8Array([0x03, 0xe8])),
      ]),
    );
    const close = await client.nextClose();
    assertEquals(close?.code, 1000);
    assertSequence(messagesOf(close.before), 14, "to browser");
    await client.waitForEof();
    await client.close();
    await within(ends[round]!, 5000, "backend EOF");
    const log = logs[round]!;
    assertEquals(log.error, "", `round ${round}: the backend saw a reset`);
    assertEquals(
      log.received.length,
      count,
      `round ${round}: the backend got ${log.received.length} of ${count}`,
    );
    assertSequence(log.received, 14, `round ${round} to backend`);
    assertEquals((await nextClose(rig.gateway)).code, 1000);
  }
  await assertRecovered(rig);
});

Deno.test("gateway closes with 1009 on a huge browser message without buffering it", async (t) => {
  const received: Uint8Array[] = [];
  await using backend = startScripted(async (conn) => {
    await readFrames(conn, (payload) => {
      received.push(payload);
    });
  });
  await using rig = await startRig({
    routes: [{ path: "/", target: backend.target, framing: "u32be,max=1m" }],
  });
  await t.step("a real 2 MiB message from Deno's WebSocket", async () => {
    await using client = await WsTestClient.open(rig.gateway.url("/"));
    client.send(checkedMessage(11, 0, 1000));
    client.send(checkedMessage(11, 1, 2 * 1024 * 1024));
    const info = await client.waitClosed();
    assertEquals([info.code, info.reason], [1009, "message too big"]);
    assertEquals((await nextClose(rig.gateway)).code, 1009);
  });
  await t.step("a frame header announcing 1 TiB", async () => {
    await using client = await openRaw(rig.gateway, "/");
    await client.send(checkedMessage(12, 0, 1000));
    const header = new Uint8Array([
      0x82,
      0xff,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      1,
      2,
      3,
      4,
    ]);
    await client.sendRaw(concat([header, new Uint8Array(60_000)]));
    const close = await closeOf(client);
    assertEquals([close.code, close.reason], [1009, "message too big"]);
    assertEquals((await nextClose(rig.gateway)).code, 1009);
  });
  await waitUntil(
    () => received.length === 2,
    5000,
    () => "both small messages at the backend",
  );
  assertSequence(received.slice(0, 1), 11, "to backend");
  assertSequence(received.slice(1), 12, "to backend");
  await assertRecovered(rig);
});

Deno.test("gateway survives browsers that open and close in a tight loop", async () => {
  const rounds = 120;
  await using backend = startU32beBackend();
  await using rig = await startRig({
    handshakeTimeoutMs: 200,
    routes: [{ path: "/", target: backend.target }],
  });
  const port = rig.gateway.port;
  const ways = [
    "close handshake",
    "TCP close after upgrade",
    "close mid-request",
    "connect and close",
  ] as const;
  for (let round = 0; round < rounds; round += 4) {
    await Promise.all(ways.map(async (way, i) => {
      const seq = round + i;
      switch (way) {
        case "close handshake": {
          await using client = await openRaw(rig.gateway, "/");
          const message = checkedMessage(13, seq, 64);
          await client.send(message);
          const echo = await client.next();
          assert(echo?.kind === "message" && bytesEqual(echo.payload, message));
          await client.sendClose(1000);
          assertEquals((await client.nextClose())?.code, 1000);
          await client.waitForEof();
          return;
        }
        case "TCP close after upgrade": {
          const client = await openRaw(rig.gateway, "/");
          await client.close();
          return;
        }
        case "close mid-request": {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          await writeAll(
            conn,
            new TextEncoder().encode("GET / HTTP/1.1\r\nHo"),
          );
          conn.close();
          return;
        }
        case "connect and close": {
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          conn.close();
          return;
        }
      }
    }));
  }
  await waitUntil(
    () => rig.gateway.gateway.sessionCount === 0,
    5000,
    () => `sessionCount 0 (now ${rig.gateway.gateway.sessionCount})`,
  );
  const upgraded = rounds / 2;
  // The upgraded rounds and the warm-up session on the echo route.
  await waitUntil(
    () =>
      rig.gateway.events.filter((event) => event.type === "session_close")
        .length === upgraded + 1,
    5000,
    () => "every session_close",
  );
  assertEquals(backend.connections.length, upgraded);
  for (const log of backend.connections) {
    await within(log.ended, 5000, "backend EOF");
    assertEquals(log.trailing.length, 0);
  }
  await assertRecovered(rig);
});
