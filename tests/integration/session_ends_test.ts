/**
 * Every end of a session, one step per row of the README's "Ends of a
 * session" table: a real gateway on 127.0.0.1:0 between a WebSocket client
 * (raw or Deno's) and loopback TCP backends that misbehave on cue. Each step
 * asserts the close code and reason the browser sees, the `session_close`
 * event, and what reached each side before the end. Timers run with tens of
 * milliseconds; the steps wait for events and for socket reads with
 * deadlines, never for fixed sleeps.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  readOrEof,
  startBackend,
  startRecordingBackend,
  startScriptedBackend,
  u32beFrame,
  unusedPort,
  writeAll,
} from "../_util/backends.ts";
import { nextClose, startGateway } from "../_util/gateway_fixture.ts";
import { startNodeBackend } from "../_util/node_backend.ts";
import { messagesOf, type ReceivedFrame } from "../_util/raw_ws_client.ts";
import { closeOf, openRaw } from "../_util/raw_session.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import {
  binary,
  bytesEqual,
  patternBytes,
  utf8,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

/** A backend whose connections the test drives by hand. */
interface HeldBackend extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  readonly target: string;
  /** Resolves with the `index`-th accepted connection. */
  connection(index?: number): Promise<Deno.TcpConn>;
}

/** Starts a backend that accepts and holds each connection for the test. */
function startHeldBackend(): HeldBackend {
  const released = Promise.withResolvers<void>();
  const conns: Deno.TcpConn[] = [];
  let waiters: (() => void)[] = [];
  const backend = startBackend(async (conn) => {
    conns.push(conn);
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
    await released.promise;
  });
  return {
    target: backend.target,
    async connection(index = 0) {
      for (let i = 0; i < 100 && conns.length <= index; i++) {
        await within(
          new Promise<void>((resolve) => waiters.push(resolve)),
          5000,
          `backend connection ${index}`,
        );
      }
      return conns[index]!;
    },
    async [Symbol.asyncDispose]() {
      released.resolve();
      await backend.close();
    },
  };
}

/** Reads exactly `length` bytes from `conn`, with a deadline. */
function readExactly(
  conn: Deno.Conn,
  length: number,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const reading = (async () => {
    let filled = 0;
    while (filled < length) {
      const count = await conn.read(out.subarray(filled));
      if (count === null) {
        throw new Error(`EOF after ${filled} of ${length} bytes`);
      }
      filled += count;
    }
    return out;
  })();
  reading.catch(() => {});
  return within(reading, timeoutMs, `${length} bytes on the backend`);
}

/** Reads `conn` until EOF (or a reset), with a deadline. */
function readToEnd(conn: Deno.Conn, timeoutMs = 5000): Promise<Uint8Array> {
  const reading = (async () => {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let reads = 0; reads < 100_000; reads++) {
      const count = await readOrEof(conn, buffer);
      if (count === null) break;
      chunks.push(buffer.slice(0, count));
    }
    return concat(chunks);
  })();
  reading.catch(() => {});
  return within(reading, timeoutMs, "the backend connection to end");
}

/** Listens on 127.0.0.1 and fills the accept queue, so a further connect hangs. */
async function startFullListener(): Promise<
  { target: string } & AsyncDisposable
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const conns: Deno.Conn[] = [];
  const release = () => {
    for (const conn of conns) conn.close();
    listener.close();
  };
  // Nobody accepts: the kernel queues backlog + 1 handshakes, then drops
  // SYNs. Linux caps the backlog at net.core.somaxconn (4096 by default).
  for (let attempt = 0; attempt <= 70_000; attempt++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 100);
    try {
      conns.push(
        await Deno.connect({
          hostname: "127.0.0.1",
          port,
          signal: controller.signal,
        }),
      );
    } catch {
      break;
    } finally {
      clearTimeout(timer);
    }
    if (attempt === 70_000) {
      release();
      throw new Error("Cannot fill the accept queue of a loopback listener");
    }
  }
  return {
    target: `127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => Promise.resolve(release()),
  };
}

Deno.test("gateway ends each session with the close code of the README table", async (t) => {
  await t.step(
    "backend closed cleanly: 1000 after every frame already received",
    async () => {
      const frames = Array.from(
        { length: 20 },
        (_, i) => patternBytes(i === 10 ? 200_000 : i * 13, i),
      );
      await using backend = startScriptedBackend(
        concat(frames.map(u32beFrame)),
      );
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await WsTestClient.open(gateway.url());
      const info = await client.waitClosed();
      assertEquals(
        [info.code, info.reason, info.wasClean],
        [1000, "backend closed", true],
      );
      assertEquals(info.unread.length, frames.length);
      for (const [i, message] of info.unread.entries()) {
        assert(bytesEqual(binary(message), frames[i]!), `frame ${i} differs`);
      }
      const event = await nextClose(gateway);
      assertEquals([event.code, event.framesToBrowser], [1000, frames.length]);
    },
  );

  await t.step("browser closed: its own code and reason echoed", async () => {
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: backend.target }],
    });
    await using client = await openRaw(gateway);
    await client.send(utf8("last words"));
    await client.sendClose(3001, "user left");
    const close = await client.nextClose();
    assertEquals([close?.code, close?.reason], [3001, "user left"]);
    await client.waitForEof();
    await within(backend.connections[0]!.ended, 5000, "backend EOF");
    assertEquals(backend.connections[0]!.payloads, [utf8("last words")]);
    const event = await nextClose(gateway);
    assertEquals([event.code, event.reason], [3001, "user left"]);
  });

  for (const direction of ["browser to backend", "backend to browser"]) {
    await t.step(
      `gateway shutting down: 1001 after in-flight data is delivered (${direction})`,
      async () => {
        await using backend = startHeldBackend();
        await using gateway = await startGateway({
          routes: [{ path: "/", target: backend.target }],
        });
        await using client = await openRaw(gateway);
        const conn = await backend.connection();
        // One round each way first, so both pumps are running.
        await client.send(patternBytes(10, 1));
        assertEquals(
          await readExactly(conn, 14),
          u32beFrame(patternBytes(10, 1)),
        );
        await writeAll(conn, u32beFrame(patternBytes(10, 2)));
        assertEquals(messagesOf([(await client.next())!]), [
          patternBytes(10, 2),
        ]);
        // In flight: written into the socket just before close(), not yet
        // relayed by the gateway.
        const inFlight = patternBytes(5000, 3);
        const isToBackend = direction === "browser to backend";
        if (isToBackend) await client.send(inFlight);
        else await writeAll(conn, u32beFrame(inFlight));
        const closing = gateway.gateway.close();
        const backendBytes = readToEnd(conn);
        const close = await closeOf(client);
        assertEquals(
          [close.code, close.reason],
          [1001, "gateway shutting down"],
        );
        assertEquals(messagesOf(close.before), isToBackend ? [] : [inFlight]);
        assertEquals(
          await backendBytes,
          isToBackend ? u32beFrame(inFlight) : new Uint8Array(0),
        );
        conn.close(); // like a server that closes at EOF
        await within(closing, 5000, "the gateway to close");
        const event = await nextClose(gateway);
        assertEquals(
          [event.code, event.framesToBackend, event.framesToBrowser],
          [1001, isToBackend ? 2 : 1, isToBackend ? 1 : 2],
        );
      },
    );
  }

  await t.step(
    "browser protocol violation: 1002 protocol error",
    async () => {
      await using backend = startRecordingBackend();
      const ended = backend.ended();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await openRaw(gateway);
      await client.sendRaw(
        encodeClientFrame(Opcode.BINARY, utf8("unmasked"), { masked: false }),
      );
      const close = await closeOf(client);
      assertEquals([close.code, close.reason], [1002, "protocol error"]);
      assertEquals((await nextClose(gateway)).code, 1002);
      await within(ended, 5000, "backend EOF");
      assertEquals(backend.received(), [new Uint8Array(0)]);
    },
  );

  await t.step("malformed backend frame: 1002", async () => {
    await using backend = startHeldBackend();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: backend.target, framing: "varint" }],
    });
    await using client = await openRaw(gateway);
    const conn = await backend.connection();
    // A good frame, then a varint length with a needless continuation byte.
    await writeAll(conn, new Uint8Array([3, 1, 2, 3, 0x80, 0x00]));
    const close = await closeOf(client);
    assertEquals([close.code, close.reason], [1002, "malformed backend frame"]);
    assertEquals(messagesOf(close.before), [new Uint8Array([1, 2, 3])]);
    assertEquals((await nextClose(gateway)).code, 1002);
  });

  await t.step(
    "invalid UTF-8 from the backend with text framing: 1007",
    async () => {
      await using backend = startHeldBackend();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target, framing: "u32be,text" }],
      });
      await using client = await openRaw(gateway);
      const conn = await backend.connection();
      await writeAll(
        conn,
        concat([
          u32beFrame(utf8("fine \u20ac")),
          u32beFrame(new Uint8Array([0x61, 0xff])),
        ]),
      );
      const close = await closeOf(client);
      assertEquals(
        [close.code, close.reason],
        [1007, "invalid backend message"],
      );
      assertEquals(close.before.length, 1);
      const [first] = close.before;
      assert(first?.kind === "message" && first.isText, "a text message");
      assertEquals(first.payload, utf8("fine \u20ac"));
      assertEquals((await nextClose(gateway)).code, 1007);
    },
  );

  await t.step(
    "browser message that cannot be framed: 1007, nothing of it queued",
    async () => {
      await using backend = startRecordingBackend();
      const ended = backend.ended();
      await using gateway = await startGateway({
        // The first 4 bytes of a message go before the length field, so a
        // shorter message has no frame.
        routes: [{
          path: "/",
          target: backend.target,
          framing: "u32be,offset=4",
        }],
      });
      await using client = await openRaw(gateway);
      await client.send(patternBytes(10, 1));
      await client.send(new Uint8Array([1, 2]));
      const close = await closeOf(client);
      assertEquals(
        [close.code, close.reason],
        [1007, "message cannot be framed"],
      );
      await within(ended, 5000, "backend EOF");
      assertEquals(backend.received()[0]!.length, 10 + 4);
      assertEquals((await nextClose(gateway)).code, 1007);
    },
  );

  for (
    const [name, frames] of [
      ["one browser frame", [
        encodeClientFrame(Opcode.BINARY, new Uint8Array(1025)),
      ]],
      ["a fragmented browser message", [
        encodeClientFrame(Opcode.BINARY, new Uint8Array(600), { fin: false }),
        encodeClientFrame(Opcode.CONTINUATION, new Uint8Array(600)),
      ]],
    ] as const
  ) {
    await t.step(`${name} over the limit: 1009 message too big`, async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{
          path: "/",
          target: backend.target,
          framing: "u32be,max=1k",
        }],
      });
      await using client = await openRaw(gateway);
      const fits = patternBytes(1024, 5);
      await client.send(fits);
      for (const frame of frames) await client.sendRaw(frame);
      const close = await closeOf(client);
      assertEquals([close.code, close.reason], [1009, "message too big"]);
      const log = backend.connections[0]!;
      await within(log.ended, 5000, "backend EOF");
      assertEquals(log.payloads, [fits]);
      assertEquals(log.trailing.length, 0);
      assertEquals((await nextClose(gateway)).code, 1009);
    });
  }

  await t.step(
    "backend frame over the limit: 1009 backend frame too big",
    async () => {
      await using backend = startHeldBackend();
      await using gateway = await startGateway({
        routes: [{
          path: "/",
          target: backend.target,
          framing: "u32be,max=1k",
        }],
      });
      await using client = await openRaw(gateway);
      const conn = await backend.connection();
      const fits = patternBytes(1024, 6);
      // The oversize length is refused before any of its payload is sent.
      await writeAll(
        conn,
        concat([u32beFrame(fits), new Uint8Array([0, 0, 4, 1])]),
      );
      const close = await closeOf(client);
      assertEquals([close.code, close.reason], [1009, "backend frame too big"]);
      assertEquals(messagesOf(close.before), [fits]);
      assertEquals((await nextClose(gateway)).code, 1009);
    },
  );

  await t.step("backend unreachable: 1011 backend unreachable", async () => {
    const port = unusedPort();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: `127.0.0.1:${port}` }],
    });
    await using client = await WsTestClient.open(gateway.url());
    const info = await client.waitClosed();
    assertEquals([info.code, info.reason], [1011, "backend unreachable"]);
    assertEquals(info.unread.length, 0);
    assertEquals((await nextClose(gateway)).code, 1011);
  });

  await t.step("connect timeout: 1011 backend unreachable", async () => {
    // Loopback only: a listener whose accept queue is full drops SYNs, so
    // the gateway's connect hangs until connectTimeoutMs.
    await using full = await startFullListener();
    await using gateway = await startGateway({
      connectTimeoutMs: 100,
      routes: [{ path: "/", target: full.target }],
    });
    const started = performance.now();
    await using client = await WsTestClient.open(gateway.url());
    const info = await client.waitClosed();
    const elapsed = performance.now() - started;
    assertEquals([info.code, info.reason], [1011, "backend unreachable"]);
    assert(elapsed >= 95, `closed after ${elapsed} ms, before the timeout`);
    assert(elapsed < 3000, `closed after ${elapsed} ms`);
    const error = gateway.events.find((event) =>
      event.type === "backend_error"
    );
    assert(
      error?.type === "backend_error" && /timed out/.test(error.detail),
      `backend_error: ${JSON.stringify(error)}`,
    );
    assertEquals((await nextClose(gateway)).code, 1011);
  });

  await t.step(
    "backend reset mid-stream: 1011 backend connection reset",
    async () => {
      const first = patternBytes(300, 7);
      // Deno.Conn.close() sends FIN before closing, so the gateway would
      // read a clean EOF; node:net's resetAndDestroy() sets SO_LINGER 0.
      await using backend = await startNodeBackend((socket) => {
        socket.write(u32beFrame(first));
        socket.once("data", () => socket.resetAndDestroy());
      });
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await openRaw(gateway);
      assertEquals(messagesOf([(await client.next())!]), [first]);
      await client.send(patternBytes(1000, 8));
      const close = await closeOf(client);
      assertEquals(
        [close.code, close.reason],
        [1011, "backend connection reset"],
      );
      assertEquals(close.before, []);
      const event = await nextClose(gateway);
      assertEquals([event.code, event.framesToBrowser], [1011, 1]);
    },
  );

  await t.step(
    "backend closed mid-frame: 1011, the partial frame dropped",
    async () => {
      const complete = patternBytes(100, 9);
      await using backend = startScriptedBackend(
        concat([u32beFrame(complete), new Uint8Array([0, 0, 0, 50, 1, 2])]),
      );
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await openRaw(gateway);
      const close = await closeOf(client);
      assertEquals(
        [close.code, close.reason],
        [1011, "backend closed mid-frame"],
      );
      assertEquals(messagesOf(close.before), [complete]);
      assertEquals((await nextClose(gateway)).code, 1011);
    },
  );

  await t.step("backend silent for backendSilenceMs: 4000", async () => {
    // Reads everything, answers nothing, closes at EOF.
    await using backend = startRecordingBackend();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: backend.target, backendSilenceMs: 60 }],
    });
    await using client = await WsTestClient.open(gateway.url());
    // Browser traffic does not count as the backend speaking.
    client.send(utf8("anyone there?"));
    const info = await client.waitClosed();
    assertEquals([info.code, info.reason], [4000, "backend silent"]);
    const event = await nextClose(gateway);
    assertEquals([event.code, event.framesToBackend], [4000, 1]);
    assert(event.durationMs >= 60, `closed after ${event.durationMs} ms`);
  });

  await t.step("no data either way for idleTimeoutMs: 4001", async () => {
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: backend.target, idleTimeoutMs: 60 }],
    });
    await using client = await WsTestClient.open(gateway.url());
    client.send(utf8("hello"));
    assertEquals(binary(await client.next()), utf8("hello"));
    const lastData = performance.now();
    const info = await client.waitClosed();
    const idle = performance.now() - lastData;
    assertEquals([info.code, info.reason], [4001, "idle timeout"]);
    assert(idle >= 55, `closed ${idle} ms after the last data`);
    assertEquals((await nextClose(gateway)).code, 4001);
  });

  await t.step(
    "stuck both ways for stallTimeoutMs (backend reads nothing, browser sent until blocked then half-closed): 4003",
    async () => {
      await using backend = startHeldBackend();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
        bufferBytes: 64 * 1024,
        stallTimeoutMs: 300,
        closeTimeoutMs: 200,
      });
      await using client = await openRaw(gateway);
      await backend.connection();
      const closed = nextClose(gateway, 30_000);
      let isClosed = false;
      closed.then(() => isClosed = true, () => {});
      const frame = encodeClientFrame(Opcode.BINARY, new Uint8Array(65536));
      const sending = (async () => {
        // Until a write blocks (every buffer on the way is full), or the
        // session ends; then FIN, queued behind all of it.
        for (let i = 0; i < 4096 && !isClosed; i++) {
          await writeAll(client.conn, frame);
        }
        await client.conn.closeWrite();
      })().catch(() => {});
      const event = await closed;
      assertEquals([event.code, event.reason], [4003, "session stalled"]);
      assert(event.durationMs >= 300, `closed after ${event.durationMs} ms`);
      client.conn.close();
      await sending;
    },
  );

  await t.step("session older than maxLifetimeMs: 4002", async () => {
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      routes: [{ path: "/", target: backend.target, maxLifetimeMs: 80 }],
    });
    await using client = await WsTestClient.open(gateway.url());
    // Traffic does not extend a lifetime.
    client.send(utf8("busy"));
    assertEquals(binary(await client.next()), utf8("busy"));
    const info = await client.waitClosed();
    assertEquals(
      [info.code, info.reason],
      [4002, "session lifetime exceeded"],
    );
    const event = await nextClose(gateway);
    assertEquals(event.code, 4002);
    assert(event.durationMs >= 80, `closed after ${event.durationMs} ms`);
  });

  await t.step(
    "browser gone (TCP closed without a close frame): backend closed, nothing written after",
    async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await openRaw(gateway);
      const sent = [patternBytes(10, 1), patternBytes(70_000, 2), utf8("bye")];
      for (const message of sent) await client.send(message);
      // FIN without a close frame; the client can still read what follows.
      await client.conn.closeWrite();
      const log = backend.connections[0]!;
      await within(log.ended, 5000, "backend EOF");
      assertEquals(log.payloads, sent);
      assertEquals(log.trailing.length, 0);
      const frames: ReceivedFrame[] = [];
      for (let i = 0; i < 10; i++) {
        const frame = await client.next();
        if (frame === undefined) break;
        frames.push(frame);
      }
      // Echoes in flight may arrive, but no close frame and nothing else.
      assert(frames.every((frame) => frame.kind === "message"));
      const echoed = messagesOf(frames);
      assertEquals(echoed, sent.slice(0, echoed.length));
      const event = await nextClose(gateway);
      assertEquals([event.code, event.reason], [1006, "browser gone"]);
      assertEquals(gateway.gateway.sessionCount, 0);
    },
  );

  await t.step(
    "browser not answering pings: backend closed, no close frame sent",
    async () => {
      await using backend = startU32beBackend();
      await using gateway = await startGateway({
        pingIntervalMs: 40,
        pingTimeoutMs: 40,
        routes: [{ path: "/", target: backend.target }],
      });
      await using client = await openRaw(gateway);
      const frames: ReceivedFrame[] = [];
      for (let i = 0; i < 100; i++) {
        const frame = await client.next();
        if (frame === undefined) break;
        frames.push(frame);
      }
      assert(frames.length >= 1, "no ping arrived");
      assert(
        frames.every((frame) => frame.kind === "ping"),
        `frames: ${JSON.stringify(frames.map((frame) => frame.kind))}`,
      );
      await within(backend.connections[0]!.ended, 5000, "backend EOF");
      const event = await nextClose(gateway);
      assertEquals([event.code, event.reason], [1006, "browser gone"]);
      assert(event.durationMs >= 80, `closed after ${event.durationMs} ms`);
    },
  );

  for (
    const [framing, hex, expected] of [
      ["u16le", "c0ffee00", [4, 0, 0xc0, 0xff, 0xee, 0x00]],
      ["lines", "70696e67", [...utf8("ping\n")]],
      ["u32be", "", [0, 0, 0, 0]],
    ] as const
  ) {
    await t.step(
      `backend heartbeat: "${hex}" framed as ${framing} after the interval`,
      async () => {
        const intervalMs = 40;
        await using backend = startHeldBackend();
        let openedAt = 0;
        await using gateway = await startGateway({
          routes: [{
            path: "/",
            target: backend.target,
            framing,
            backendHeartbeatMs: intervalMs,
            backendHeartbeatHex: hex,
          }],
          onEvent: (event) => {
            if (event.type === "session_open") openedAt = performance.now();
          },
        });
        await using client = await openRaw(gateway);
        const conn = await backend.connection();
        const heartbeat = new Uint8Array(expected);
        for (let beat = 1; beat <= 2; beat++) {
          assertEquals(await readExactly(conn, heartbeat.length), heartbeat);
          const elapsed = performance.now() - openedAt;
          assert(
            elapsed >= beat * intervalMs - 2,
            `heartbeat ${beat} after ${elapsed} ms`,
          );
        }
        await client.sendClose(1000);
        assertEquals((await client.nextClose())?.code, 1000);
        // Nothing but heartbeats reached the backend.
        const rest = await readToEnd(conn);
        conn.close(); // like a server that closes at EOF
        assertEquals(rest.length % heartbeat.length, 0);
        const event = await nextClose(gateway);
        assertEquals([event.code, event.framesToBackend], [1000, 0]);
      },
    );
  }
});

// Regression (issue 18): a text service behind the default u32be framing
// closed with "backend frame too big" and nothing pointed at the framing.
Deno.test("a text backend behind the default u32be framing closes 1009 with a reason and a log detail that suggest --framing raw or lines", async () => {
  await using backend = startScriptedBackend(
    new TextEncoder().encode("+OK redis ready\r\n"),
    { keepOpen: true },
  );
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target }],
  });
  const socket = new WebSocket(`ws://127.0.0.1:${gateway.port}/`);
  const closed = Promise.withResolvers<CloseEvent>();
  socket.onclose = (event) => closed.resolve(event);
  const event = await within(closed.promise, 5000, "the close");
  assertEquals(
    [event.code, event.reason],
    [
      1009,
      "backend sent text, not length-prefixed frames: try --framing raw or lines",
    ],
  );
  const close = await within(gateway.nextClose(), 5000, "session_close");
  assertEquals(close.code, 1009);
  assert(close.detail.includes(`reads as text "+OK "`), close.detail);
  assert(close.detail.includes("--framing raw"), close.detail);
});
