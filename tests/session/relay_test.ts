import {
  assert,
  assertEquals,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { concat, u32beFrame, writeAll } from "../_util/backends.ts";
import { WsClientConnection } from "../_util/ws_client_connection.ts";
import { RelaySession } from "../../src/session/relay.ts";
import type {
  RelaySessionOptions,
  SessionSummary,
  SessionTimers,
} from "../../src/session/relay_options.ts";
import {
  NO_TRAFFIC,
  SIZE_BUCKET_COUNT,
  sizeBucket,
} from "../../src/session/relay_stats.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../../src/framing/create_codec.ts";
import { parseFramingSpec } from "../../src/framing/spec.ts";
import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";
import { readRequestHead } from "../../src/http/request_head_reader.ts";
import { waitUntil } from "../_util/wait_until.ts";

const START_MS = 1_000_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A clock the test moves by hand. */
interface Clock {
  ms: number;
}

/** A relay session between a raw WebSocket client and a test backend socket. */
interface Harness extends AsyncDisposable {
  session: RelaySession;
  /** The browser's end. */
  browser: WsClientConnection<Deno.TcpConn>;
  /** The backend's end. */
  backend: Deno.TcpConn;
  clock: Clock;
  summaries: SessionSummary[];
  traffic: [string, string][];
  /** Reads `count` u32be frames from the backend's end. */
  backendFrames(count: number): Promise<Uint8Array[]>;
}

type HarnessOptions =
  & Partial<Omit<RelaySessionOptions, "timers">>
  & { timers?: Partial<SessionTimers>; start?: boolean };

async function connectedPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Relay options for tests: u32be, a 64 KiB mark, every timer off. */
function sessionOptions(
  timers: Partial<SessionTimers> = {},
): RelaySessionOptions {
  const spec = parseFramingSpec("u32be");
  return {
    id: "t1",
    encoder: createFrameEncoder(spec),
    decoder: createFrameDecoder(spec),
    isTextToBrowser: false,
    maxMessageBytes: 1 << 20,
    highWaterBytes: 64 * 1024,
    closeTimeoutMs: 2000,
    timers: {
      pingIntervalMs: 0,
      pingTimeoutMs: 0,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      backendHeartbeatMs: 0,
      backendSilenceMs: 0,
      stallTimeoutMs: 0,
      ...timers,
    },
    heartbeatMessage: undefined,
    initialBrowserBytes: undefined,
    now: () => START_MS,
    onClose: () => {},
  };
}

async function openRelay(options: HarnessOptions = {}): Promise<Harness> {
  const [browserEnd, gatewayBrowser] = await connectedPair();
  const [gatewayBackend, backend] = await connectedPair();
  const browser = new WsClientConnection(browserEnd);
  // The handshake is the gateway's business: answer 101 by hand.
  const upgrading = browser.upgrade({ host: "gw", path: "/", headers: {} });
  const read = await within(
    readRequestHead(gatewayBrowser, 8192),
    5000,
    "head",
  );
  assertStrictEquals(read.kind, "head");
  await writeAll(
    gatewayBrowser,
    encoder.encode("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
  );
  assertStrictEquals((await upgrading).status, 101);

  const clock: Clock = { ms: START_MS };
  const summaries: SessionSummary[] = [];
  const traffic: [string, string][] = [];
  const { timers, start = true, ...rest } = options;
  const session = new RelaySession(gatewayBrowser, gatewayBackend, {
    ...sessionOptions(timers),
    now: () => clock.ms,
    onClose: (summary) => summaries.push(summary),
    onTraffic: (direction, message) =>
      traffic.push([direction, decoder.decode(message)]),
    ...rest,
  });
  if (start) session.start();

  let pending: Uint8Array = new Uint8Array(0);
  const backendBuffer = new Uint8Array(64 * 1024);
  return {
    session,
    browser,
    backend,
    clock,
    summaries,
    traffic,
    async backendFrames(count) {
      const frames: Uint8Array[] = [];
      for (let reads = 0; frames.length < count && reads < 1000; reads++) {
        for (;;) {
          if (pending.length < 4) break;
          const length = new DataView(pending.buffer, pending.byteOffset)
            .getUint32(0);
          if (pending.length < 4 + length) break;
          frames.push(pending.slice(4, 4 + length));
          pending = pending.subarray(4 + length);
          if (frames.length === count) return frames;
        }
        const n = await within(
          backend.read(backendBuffer),
          5000,
          "backend bytes",
        );
        if (n === null) break;
        pending = concat([pending, backendBuffer.subarray(0, n)]);
      }
      return frames;
    },
    async [Symbol.asyncDispose]() {
      closeQuietly(backend);
      await browser.close();
      await within(session.abort(1001, "test over"), 5000, "session end");
    },
  };
}

/** Reads the browser's next data message as text. */
async function nextText(harness: Harness): Promise<string> {
  const frame = await harness.browser.next();
  assert(frame?.kind === "message", JSON.stringify(frame));
  return decoder.decode(frame.payload);
}

/**
 * Plays a well-behaved backend at the end: reads (and drops) until the
 * gateway shuts its write side, then closes. Resolves with the summary.
 */
async function ended(harness: Harness): Promise<SessionSummary> {
  const buffer = new Uint8Array(64 * 1024);
  for (let reads = 0; reads < 1000; reads++) {
    const count = await within(
      harness.backend.read(buffer).catch(() => null),
      5000,
      "backend EOF",
    );
    if (count === null) break;
  }
  closeQuietly(harness.backend);
  return await within(harness.session.ended, 5000, "session end");
}

/** Ends a session the gateway closed: reads its close frame and answers it. */
async function answerClose(
  harness: Harness,
): Promise<{ code: number; reason: string }> {
  const close = await harness.browser.nextClose();
  assert(close !== undefined, "no close frame");
  await harness.browser.sendClose(close.code);
  await ended(harness);
  return { code: close.code, reason: close.reason };
}

Deno.test("RelaySession frames browser messages for the backend and backend frames as binary messages", async () => {
  await using relay = await openRelay();
  await relay.browser.send("hello");
  await relay.browser.send(new Uint8Array(0));
  assertEquals(
    (await relay.backendFrames(2)).map((frame) => decoder.decode(frame)),
    ["hello", ""],
  );
  await writeAll(
    relay.backend,
    concat([
      u32beFrame(encoder.encode("one")),
      u32beFrame(encoder.encode("two")),
    ]),
  );
  const frame = await relay.browser.next();
  assert(frame?.kind === "message" && !frame.isText);
  assertStrictEquals(decoder.decode(frame.payload), "one");
  assertStrictEquals(await nextText(relay), "two");
});

Deno.test("RelaySession sends backend messages as text frames with isTextToBrowser", async () => {
  await using relay = await openRelay({ isTextToBrowser: true });
  await writeAll(relay.backend, u32beFrame(encoder.encode("h\u00e9")));
  const frame = await relay.browser.next();
  assert(frame?.kind === "message" && frame.isText);
  assertStrictEquals(decoder.decode(frame.payload), "h\u00e9");
});

Deno.test("RelaySession.takeStats returns the shared NO_TRAFFIC while idle and the deltas since the previous call", async () => {
  await using relay = await openRelay();
  assertStrictEquals(relay.session.takeStats(), NO_TRAFFIC);
  await relay.browser.send(new Uint8Array(16));
  await relay.browser.send(new Uint8Array(17));
  await relay.backendFrames(2);
  await writeAll(relay.backend, u32beFrame(new Uint8Array(5000)));
  await relay.browser.next();
  const first = relay.session.takeStats();
  const toBackend = new Array(SIZE_BUCKET_COUNT).fill(0);
  toBackend[sizeBucket(16)]++;
  toBackend[sizeBucket(17)]++;
  const toBrowser = new Array(SIZE_BUCKET_COUNT).fill(0);
  toBrowser[sizeBucket(5000)]++;
  assertEquals(first, {
    bytesToBackend: 33,
    bytesToBrowser: 5000,
    messagesToBackend: 2,
    messagesToBrowser: 1,
    sizesToBackend: toBackend,
    sizesToBrowser: toBrowser,
  });
  assertStrictEquals(relay.session.takeStats(), NO_TRAFFIC);
  await relay.browser.send(new Uint8Array(1));
  await relay.backendFrames(1);
  const second = relay.session.takeStats();
  assertStrictEquals(second.bytesToBackend, 1);
  assertStrictEquals(second.messagesToBrowser, 0);
  // A direction without messages since the last call shares the zero buckets.
  assertStrictEquals(second.sizesToBrowser, NO_TRAFFIC.sizesToBrowser);
  assertEquals(relay.session.traffic, { toBackend: 34, toBrowser: 5000 });
});

Deno.test("RelaySession reports every relayed message to onTraffic, in order", async () => {
  await using relay = await openRelay();
  await relay.browser.send("up");
  await relay.backendFrames(1);
  await writeAll(relay.backend, u32beFrame(encoder.encode("down")));
  await relay.browser.next();
  assertEquals(relay.traffic, [["to_backend", "up"], ["to_browser", "down"]]);
});

Deno.test("RelaySession relays initialBrowserBytes before what it reads later", async () => {
  const early = concat([
    encodeClientFrame(Opcode.BINARY, encoder.encode("early-1")),
    encodeClientFrame(Opcode.BINARY, encoder.encode("early-2")),
  ]);
  await using relay = await openRelay({ initialBrowserBytes: early });
  await relay.browser.send("later");
  assertEquals(
    (await relay.backendFrames(3)).map((frame) => decoder.decode(frame)),
    ["early-1", "early-2", "later"],
  );
});

Deno.test("RelaySession.bufferedBytes is 0 once everything is written", async () => {
  await using relay = await openRelay();
  assertStrictEquals(relay.session.bufferedBytes, 0);
  await relay.browser.send(new Uint8Array(1000));
  await relay.backendFrames(1);
  assertStrictEquals(relay.session.bufferedBytes, 0);
});

Deno.test("RelaySession.close sends the code, waits for the browser's answer, ends the backend and reports once", async () => {
  await using relay = await openRelay();
  relay.clock.ms += 1234;
  const closing = relay.session.close(4321, "bye now");
  const close = await answerClose(relay);
  assertEquals(close, { code: 4321, reason: "bye now" });
  const summary = await within(closing, 5000, "close()");
  assertEquals(summary, {
    code: 4321,
    reason: "bye now",
    detail: undefined,
    initiator: "gateway",
    bytesToBackend: 0,
    bytesToBrowser: 0,
    messagesToBackend: 0,
    messagesToBrowser: 0,
    durationMs: 1234,
  });
  assertStrictEquals(await relay.session.ended, summary);
  assertStrictEquals(await relay.session.close(1000, "again"), summary);
  assertEquals(relay.summaries, [summary]);
});

Deno.test("RelaySession.abort cuts both sockets without a close frame and reports the given code", async () => {
  await using relay = await openRelay();
  const summary = await within(
    relay.session.abort(1001, "gateway shutting down"),
    5000,
    "abort()",
  );
  assertEquals(
    [summary.code, summary.reason, summary.initiator, summary.detail],
    [
      1001,
      "gateway shutting down",
      "gateway",
      "aborted after the drain deadline",
    ],
  );
  // No close frame: the browser only sees the connection end.
  assertStrictEquals(await relay.browser.nextClose(), undefined);
  const buffer = new Uint8Array(16);
  const read = await within(
    relay.backend.read(buffer).catch(() => null),
    5000,
    "backend end",
  );
  assertStrictEquals(read, null);
  assertStrictEquals(relay.summaries.length, 1);
});

Deno.test("RelaySession.tick closes with 4002 once maxLifetimeMs has passed on the session clock", async () => {
  await using relay = await openRelay({
    timers: { maxLifetimeMs: 1000, idleTimeoutMs: 1000 },
  });
  relay.session.tick(START_MS + 999);
  relay.clock.ms = START_MS + 1000;
  // Lifetime is checked before the idle timeout.
  relay.session.tick(START_MS + 1000);
  const close = await answerClose(relay);
  assertEquals(close, { code: 4002, reason: "session lifetime exceeded" });
  const summary = await ended(relay);
  assertStrictEquals(summary.initiator, "gateway");
  assertStrictEquals(summary.detail, "session older than 1000 ms");
});

Deno.test("RelaySession.tick closes with 4001 after idleTimeoutMs without data, counting from the last message", async () => {
  await using relay = await openRelay({ timers: { idleTimeoutMs: 1000 } });
  relay.clock.ms = START_MS + 600;
  await relay.browser.send("activity");
  await relay.backendFrames(1);
  relay.session.tick(START_MS + 1000);
  relay.session.tick(START_MS + 1599);
  relay.session.tick(START_MS + 1600);
  assertEquals(await answerClose(relay), {
    code: 4001,
    reason: "idle timeout",
  });
});

Deno.test("RelaySession.tick counts backend messages as activity for idleTimeoutMs", async () => {
  await using relay = await openRelay({ timers: { idleTimeoutMs: 1000 } });
  relay.clock.ms = START_MS + 800;
  await writeAll(relay.backend, u32beFrame(encoder.encode("x")));
  await relay.browser.next();
  relay.session.tick(START_MS + 1500);
  relay.session.tick(START_MS + 1800);
  assertEquals(await answerClose(relay), {
    code: 4001,
    reason: "idle timeout",
  });
});

Deno.test("RelaySession.tick closes with 4000 when the backend sends nothing for backendSilenceMs", async () => {
  await using relay = await openRelay({ timers: { backendSilenceMs: 500 } });
  // Browser traffic does not count as hearing from the backend.
  relay.clock.ms = START_MS + 400;
  await relay.browser.send("anyone?");
  await relay.backendFrames(1);
  relay.session.tick(START_MS + 499);
  relay.session.tick(START_MS + 500);
  assertEquals(await answerClose(relay), {
    code: 4000,
    reason: "backend silent",
  });
  assertStrictEquals(
    (await ended(relay)).initiator,
    "backend",
  );
});

Deno.test("RelaySession.tick pings once after pingIntervalMs of browser silence and ends as browser gone without a pong", async () => {
  await using relay = await openRelay({
    timers: { pingIntervalMs: 100, pingTimeoutMs: 50 },
  });
  relay.session.tick(START_MS + 99);
  relay.session.tick(START_MS + 100);
  // A second tick while the ping is outstanding sends nothing more.
  relay.session.tick(START_MS + 120);
  const ping = await relay.browser.next();
  assertEquals(ping, { kind: "ping", payload: new Uint8Array(0) });
  relay.session.tick(START_MS + 150);
  const summary = await ended(relay);
  assertEquals(
    [summary.code, summary.reason, summary.initiator, summary.detail],
    [1006, "browser gone", "browser", "no pong within 50 ms"],
  );
  // No second ping, and no close frame to a browser considered gone.
  assertStrictEquals(await relay.browser.next(), undefined);
});

Deno.test("RelaySession.tick accepts a pong as the answer to its ping", async () => {
  await using relay = await openRelay({
    timers: { pingIntervalMs: 100, pingTimeoutMs: 50 },
  });
  relay.session.tick(START_MS + 100);
  assertStrictEquals((await relay.browser.next())?.kind, "ping");
  relay.clock.ms = START_MS + 110;
  await relay.browser.sendRaw(
    encodeClientFrame(Opcode.PONG, new Uint8Array(0)),
  );
  // A message after the pong: once it reaches the backend, the pong was read.
  await relay.browser.send("after pong");
  await relay.backendFrames(1);
  relay.session.tick(START_MS + 160);
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
  assertStrictEquals(
    (await ended(relay)).code,
    1000,
  );
});

Deno.test("RelaySession.tick sends the framed heartbeat after backendHeartbeatMs without backend-bound traffic", async () => {
  await using relay = await openRelay({
    timers: { backendHeartbeatMs: 100 },
    heartbeatMessage: Uint8Array.of(0xc0, 0xff, 0xee),
  });
  const heartbeat = Uint8Array.of(0xc0, 0xff, 0xee);
  relay.session.tick(START_MS + 99);
  relay.session.tick(START_MS + 100);
  assertEquals(await relay.backendFrames(1), [heartbeat]);
  // The interval restarts from the heartbeat...
  relay.session.tick(START_MS + 150);
  // ...and from each browser message.
  relay.clock.ms = START_MS + 170;
  await relay.browser.send("data");
  assertEquals(await relay.backendFrames(1), [encoder.encode("data")]);
  relay.session.tick(START_MS + 250);
  relay.session.tick(START_MS + 270);
  assertEquals(await relay.backendFrames(1), [heartbeat]);
  // Heartbeats are not messages of the browser.
  assertStrictEquals(relay.session.traffic.toBackend, 4);
});

Deno.test("RelaySession.tick sends an empty heartbeat message when none is configured", async () => {
  await using relay = await openRelay({ timers: { backendHeartbeatMs: 10 } });
  relay.session.tick(START_MS + 10);
  assertEquals(await relay.backendFrames(1), [new Uint8Array(0)]);
});

Deno.test("RelaySession.tick does nothing once the session is ending", async () => {
  await using relay = await openRelay({
    timers: {
      maxLifetimeMs: 10,
      idleTimeoutMs: 10,
      pingIntervalMs: 10,
      pingTimeoutMs: 10,
    },
  });
  const closing = relay.session.close(4999, "first");
  relay.session.tick(START_MS + 1000);
  relay.session.tick(START_MS + 2000);
  const close = await relay.browser.nextClose();
  assertEquals([close?.code, close?.reason, close?.before], [
    4999,
    "first",
    [],
  ]);
  await relay.browser.sendClose(4999);
  assertStrictEquals((await ended(relay)).code, 4999);
  assertStrictEquals(await closing, await relay.session.ended);
});

Deno.test("RelaySession echoes the browser's close code and reports the browser as initiator", async () => {
  await using relay = await openRelay();
  relay.clock.ms += 50;
  await relay.browser.sendClose(4100, "page left");
  const close = await relay.browser.nextClose();
  assertEquals([close?.code, close?.reason], [4100, "page left"]);
  const summary = await ended(relay);
  assertEquals(
    [summary.code, summary.reason, summary.initiator, summary.durationMs],
    [4100, "page left", "browser", 50],
  );
});

Deno.test("RelaySession answers only the latest ping while the browser is not reading, so pongs stay bounded", async () => {
  const [browser, gatewayBrowser] = await connectedPair();
  const [gatewayBackend, backend] = await connectedPair();
  const highWaterBytes = 64 * 1024;
  const session = new RelaySession(gatewayBrowser, gatewayBackend, {
    ...sessionOptions(),
    id: "pings",
  });
  session.start();
  try {
    // 24 MB of 125-byte pings, numbered, then one message: more than the
    // loopback socket buffers hold, so without coalescing the gateway would
    // queue megabytes of pongs for a browser that reads nothing.
    const pingCount = 190_000;
    const pingBytes = 6 + 125;
    const stream = new Uint8Array(pingCount * pingBytes);
    const payload = new Uint8Array(125);
    const view = new DataView(payload.buffer);
    for (let i = 0; i < pingCount; i++) {
      view.setUint32(0, i);
      stream.set(encodeClientFrame(Opcode.PING, payload), i * pingBytes);
    }
    await writeAll(browser, stream);
    await writeAll(
      browser,
      encodeClientFrame(Opcode.BINARY, encoder.encode("end")),
    );
    // The message reaches the backend after every ping before it was read.
    const buffer = new Uint8Array(64);
    let got = 0;
    for (let reads = 0; got < 4 + 3 && reads < 100; reads++) {
      const count = await within(
        backend.read(buffer.subarray(got)),
        5000,
        "end",
      );
      if (count === null) break;
      got += count;
    }
    assertEquals(decoder.decode(buffer.subarray(4, got)), "end");
    assert(
      session.bufferedBytes <= highWaterBytes + 2 * pingBytes,
      `${session.bufferedBytes} bytes queued for the browser`,
    );
    // Reading again: pongs arrive in order, fewer than the pings, and the
    // last one answers the last ping.
    const parser = new WsFrameParser({
      onMessage: () => {},
      onControl: (opcode, pong) => {
        assertEquals(opcode, Opcode.PONG);
        pongs.push(new DataView(pong.buffer, pong.byteOffset).getUint32(0));
      },
    }, { expectMasked: false });
    const pongs: number[] = [];
    const readBuffer = new Uint8Array(256 * 1024);
    for (
      let reads = 0;
      pongs.at(-1) !== pingCount - 1 && reads < 10_000;
      reads++
    ) {
      const count = await within(browser.read(readBuffer), 5000, "pongs");
      if (count === null) break;
      parser.push(readBuffer.subarray(0, count));
    }
    assertEquals(pongs.at(-1), pingCount - 1);
    assert(pongs.length < pingCount, `${pongs.length} pongs`);
    assert(pongs.every((n, i) => i === 0 || n > pongs[i - 1]!), "pong order");
  } finally {
    closeQuietly(browser);
    closeQuietly(backend);
    await within(session.abort(1001, "test over"), 5000, "session end");
  }
});

Deno.test("RelaySession ends within closeTimeoutMs when the backend stopped reading", async () => {
  // The runtime's closeWrite waits behind a pending write: a backend that
  // reads nothing must get a plain close after the drain deadline.
  const closeTimeoutMs = 300;
  await using relay = await openRelay({
    closeTimeoutMs,
    timers: { maxLifetimeMs: 10_000 },
  });
  // More than the loopback socket buffers hold: the gateway's queue for
  // the backend fills past its mark and it stops reading the browser.
  const frame = encodeClientFrame(Opcode.BINARY, new Uint8Array(512 * 1024));
  const sending = (async () => {
    for (let i = 0; i < 96; i++) await writeAll(relay.browser.conn, frame);
  })().catch(() => {});
  await waitUntil(
    () => relay.session.bufferedBytes >= 64 * 1024,
    10_000,
    () => `${relay.session.bufferedBytes} bytes buffered`,
  );
  relay.session.tick(START_MS + 10_000);
  const summary = await within(
    relay.session.ended,
    closeTimeoutMs + 3000,
    "session end",
  );
  assertEquals(summary.code, 4002);
  closeQuietly(relay.backend);
  closeQuietly(relay.browser.conn);
  await sending;
});

Deno.test("RelaySession.tick counts part of a message as activity for idleTimeoutMs", async () => {
  await using relay = await openRelay({ timers: { idleTimeoutMs: 100 } });
  const frame = u32beFrame(encoder.encode("x".repeat(100)));
  relay.clock.ms = START_MS + 90;
  await writeAll(relay.backend, frame.subarray(0, 10));
  await waitUntil(
    () => relay.session.bufferedBytes > 0,
    5000,
    () => "the gateway to read the first part",
  );
  // 150 ms after the last whole message, 60 ms after the last bytes.
  relay.session.tick(START_MS + 150);
  await writeAll(relay.backend, frame.subarray(10));
  assertEquals(await nextText(relay), "x".repeat(100));
  // Had the tick ended the session, its 4001 would win over this close.
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
});

Deno.test("RelaySession.tick keeps the session open until idleTimeoutMs after the last browser message", async () => {
  // The "counting from the last message" test above closes with 4001 with
  // or without the reset; this one fails when a browser message does not
  // reset the idle clock, because a tick would then end it early.
  await using relay = await openRelay({ timers: { idleTimeoutMs: 1000 } });
  relay.clock.ms = START_MS + 600;
  await relay.browser.send("activity");
  await relay.backendFrames(1);
  relay.session.tick(START_MS + 1000);
  relay.session.tick(START_MS + 1599);
  // Had a tick ended the session, its 4001 would win over this close.
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
});

Deno.test("RelaySession.tick keeps the session open until idleTimeoutMs after the last backend message", async () => {
  // Same for the other direction: a backend message resets the idle clock.
  await using relay = await openRelay({ timers: { idleTimeoutMs: 1000 } });
  relay.clock.ms = START_MS + 800;
  await writeAll(relay.backend, u32beFrame(encoder.encode("x")));
  await relay.browser.next();
  relay.session.tick(START_MS + 1500);
  relay.session.tick(START_MS + 1799);
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
});

Deno.test("RelaySession delivers every message queued for the backend before closing it when the browser closes", async () => {
  // Regression guard: closing the backend without draining its queue lost
  // the tail of what the browser sent; only integration tests noticed.
  // A high-water mark above the whole transfer lets the gateway read
  // everything, close frame included, while the backend reads nothing.
  await using relay = await openRelay({
    closeTimeoutMs: 10_000,
    highWaterBytes: 64 * 1024 * 1024,
  });
  // More than the loopback socket buffers hold, so most of it is still in
  // the gateway's queue when the close frame arrives.
  const messageBytes = 512 * 1024;
  const messages = 64;
  const frame = encodeClientFrame(
    Opcode.BINARY,
    new Uint8Array(messageBytes).fill(7),
  );
  for (let i = 0; i < messages; i++) {
    await writeAll(relay.browser.conn, frame);
  }
  await relay.browser.sendClose(1000);
  assertStrictEquals((await relay.browser.nextClose(20_000))?.code, 1000);
  // The gateway closes the browser socket right before it ends the
  // backend, so from here on a backend closed without draining shows.
  assertStrictEquals(await relay.browser.next(10_000), undefined);
  const buffer = new Uint8Array(1024 * 1024);
  let received = 0;
  for (let reads = 0; reads < 100_000; reads++) {
    const count = await within(
      relay.backend.read(buffer).catch(() => null),
      10_000,
      "backend bytes",
    );
    if (count === null) break;
    received += count;
  }
  assertStrictEquals(received, messages * (4 + messageBytes));
  closeQuietly(relay.backend);
  const summary = await within(relay.session.ended, 10_000, "session end");
  assertStrictEquals(summary.code, 1000);
});

Deno.test("RelaySession.tick does not count backend silence while the browser's backlog keeps it from reading the backend", async () => {
  // Issue #17 item 5: a backend writing continuously to a slow browser was
  // closed 4000 "backend silent" because wsgate itself had stopped reading.
  const [browser, gatewayBrowser] = await connectedPair();
  const [gatewayBackend, backend] = await connectedPair();
  const session = new RelaySession(gatewayBrowser, gatewayBackend, {
    ...sessionOptions({ backendSilenceMs: 500 }),
  });
  session.start();
  const frame = u32beFrame(new Uint8Array(16 * 1024));
  const flood = (async () => {
    // The browser reads nothing: this blocks once every buffer is full.
    for (let i = 0; i < 4096; i++) await writeAll(backend, frame);
  })().catch(() => {});
  try {
    // Above the high-water mark the backend pump stops reading.
    await waitUntil(
      () => session.isBackendPaused,
      10_000,
      () => `the backend pump to pause (${session.bufferedBytes} bytes held)`,
    );
    session.tick(START_MS + 500);
    session.tick(START_MS + 5000);
    // Had a tick ended the session, its 4000 would win over this abort.
    const summary = await within(
      session.abort(1001, "test over"),
      5000,
      "abort",
    );
    assertStrictEquals(summary.code, 1001);
  } finally {
    closeQuietly(browser);
    closeQuietly(backend);
    await within(session.abort(1001, "test over"), 5000, "session end");
    await flood;
  }
});

Deno.test("RelaySession.tick ends with 4003 a session stalled both ways: backend not reading, browser sending until blocked", async () => {
  // Issue #17 item 12: the browser's FIN sits behind data the gateway is
  // not reading (the backend reads nothing), so it cannot be seen: the
  // stall timeout bounds such a session instead.
  const stallTimeoutMs = 1000;
  await using relay = await openRelay({
    timers: { stallTimeoutMs },
    closeTimeoutMs: 200,
  });
  const conn = relay.browser.conn;
  const frame = encodeClientFrame(Opcode.BINARY, new Uint8Array(64 * 1024));
  let isEnded = false;
  relay.session.ended.then(() => isEnded = true);
  const sending = (async () => {
    // Until a write blocks for good (every buffer on the way is full) and
    // the session ends; then FIN. Deno's closeWrite waits behind a blocked
    // write, so this FIN, like a browser's, would sit behind the data.
    for (let i = 0; i < 4096 && !isEnded; i++) await writeAll(conn, frame);
    await conn.closeWrite();
  })().catch(() => {});
  // Each poll moves the session clock on by a quarter of the timeout: the
  // session must end once nothing has moved for a whole timeout.
  await waitUntil(
    () => {
      relay.clock.ms += stallTimeoutMs / 4;
      relay.session.tick(relay.clock.ms);
      return isEnded;
    },
    10_000,
    () =>
      `the stalled session to end (${relay.session.bufferedBytes} bytes held)`,
  );
  const summary = relay.summaries[0]!;
  assertEquals(
    [summary.code, summary.reason, summary.initiator],
    [4003, "session stalled", "gateway"],
  );
  closeQuietly(relay.backend);
  closeQuietly(conn);
  await sending;
});

Deno.test("RelaySession.tick does not call a session stalled while its backend still reads", async () => {
  await using relay = await openRelay({ timers: { stallTimeoutMs: 1000 } });
  relay.session.tick(START_MS + 5000);
  relay.clock.ms = START_MS + 5000;
  await relay.browser.send("still here");
  await relay.backendFrames(1);
  relay.session.tick(START_MS + 10_000);
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
});

Deno.test("RelaySession sends its ping ahead of data queued for a congested browser, and times it from when it reached the socket", async () => {
  // Issue #17 item 4: the ping waited behind everything queued, so a slow
  // but live browser was declared gone.
  const [browser, gatewayBrowser] = await connectedPair();
  const [gatewayBackend, backend] = await connectedPair();
  const clock: Clock = { ms: START_MS };
  const session = new RelaySession(gatewayBrowser, gatewayBackend, {
    ...sessionOptions({ pingIntervalMs: 100, pingTimeoutMs: 50 }),
    highWaterBytes: 64 * 1024 * 1024,
    now: () => clock.ms,
  });
  session.start();
  try {
    const messageBytes = 16 * 1024;
    const frame = u32beFrame(new Uint8Array(messageBytes).fill(1));
    // 40 MB: far more than the loopback buffers hold, all read by the
    // gateway (below its mark) and queued for a browser that reads nothing.
    const messages = 2560;
    for (let i = 0; i < messages; i++) await writeAll(backend, frame);
    await waitUntil(
      () => session.bufferedBytes > 24 * 1024 * 1024,
      10_000,
      () => `${session.bufferedBytes} bytes queued`,
    );
    const queued = session.bufferedBytes;
    session.tick(START_MS + 100);
    let bytesBeforePing = 0;
    let isPingSeen = false;
    const parser = new WsFrameParser({
      onMessage: (_isText, payload) => {
        if (!isPingSeen) bytesBeforePing += payload.length;
      },
      onControl: (opcode) => {
        if (opcode === Opcode.PING) isPingSeen = true;
      },
    }, { expectMasked: false, maxMessageBytes: 1 << 20 });
    const buffer = new Uint8Array(256 * 1024);
    for (let reads = 0; !isPingSeen && reads < 100_000; reads++) {
      const count = await within(browser.read(buffer), 5000, "browser bytes");
      if (count === null) break;
      parser.push(buffer.subarray(0, count));
    }
    assert(isPingSeen, "no ping");
    assert(
      bytesBeforePing < queued,
      `${bytesBeforePing} bytes came before the ping; ${queued} were queued`,
    );
    // Had a tick ended the session (no pong), its 1006 would win here.
    const summary = await within(
      session.abort(1001, "test over"),
      5000,
      "abort",
    );
    assertStrictEquals(summary.code, 1001);
  } finally {
    closeQuietly(browser);
    closeQuietly(backend);
    await within(session.abort(1001, "test over"), 5000, "session end");
  }
});

Deno.test("RelaySession closes with 1008 a browser that sends more pings than maxControlFramesPerSecond allows, and answers those within it", async () => {
  // Issue #17 item 11: nothing limited pings, so one client could keep the
  // gateway busy answering them for as long as it liked.
  await using relay = await openRelay({ maxControlFramesPerSecond: 10 });
  // The burst is twice the rate; the clock stands still, so nothing refills.
  const pings = Array.from(
    { length: 21 },
    (_, i) => encodeClientFrame(Opcode.PING, Uint8Array.of(i)),
  );
  await relay.browser.sendRaw(concat(pings));
  const pongs: number[] = [];
  let close: { code: number; reason: string } | undefined;
  for (let i = 0; i < 30 && close === undefined; i++) {
    const frame = await relay.browser.next();
    if (frame === undefined) break;
    if (frame.kind === "pong") pongs.push(frame.payload[0]!);
    if (frame.kind === "close") close = frame;
  }
  assertEquals(pongs, Array.from({ length: 20 }, (_, i) => i));
  assertEquals(
    [close?.code, close?.reason],
    [1008, "too many control frames"],
  );
  const summary = await ended(relay);
  assertEquals([summary.code, summary.initiator], [1008, "browser"]);
});

Deno.test("RelaySession refills the control frame budget as the clock moves", async () => {
  await using relay = await openRelay({ maxControlFramesPerSecond: 10 });
  for (let round = 0; round < 3; round++) {
    relay.clock.ms += 2000;
    const pings = Array.from(
      { length: 20 },
      () => encodeClientFrame(Opcode.PING, new Uint8Array(0)),
    );
    await relay.browser.sendRaw(concat(pings));
    for (let i = 0; i < 20; i++) {
      assertStrictEquals((await relay.browser.next())?.kind, "pong");
    }
  }
  relay.session.close(1000, "done");
  assertEquals(await answerClose(relay), { code: 1000, reason: "done" });
});
