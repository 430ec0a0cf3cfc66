import {
  assertEquals,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { concat, u32beFrame, writeAll } from "../_util/backends.ts";
import { startDemoBackend } from "../../src/demo/demo_backend.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads u32be frames from `conn` until `count` arrived or EOF. */
async function readFrames(
  conn: Deno.Conn,
  count: number,
): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  for (let reads = 0; frames.length < count && reads < 10_000; reads++) {
    while (pending.length >= 4) {
      const length = new DataView(pending.buffer, pending.byteOffset).getUint32(
        0,
      );
      if (pending.length < 4 + length) break;
      frames.push(pending.slice(4, 4 + length));
      pending = pending.subarray(4 + length);
    }
    if (frames.length >= count) break;
    const n = await within(conn.read(buffer), 5000, "frames");
    if (n === null) break;
    pending = concat([pending, buffer.subarray(0, n)]);
  }
  return frames;
}

Deno.test("startDemoBackend answers each u32be frame with the same frame in ASCII upper case", async () => {
  const backend = startDemoBackend();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.addr.port,
  });
  try {
    const messages = [
      "hello, wsgate!",
      "",
      "MiXeD 123 `{az}`",
      "caf\u00e9 \u00fcber",
    ];
    await writeAll(
      conn,
      concat(messages.map((text) => u32beFrame(encoder.encode(text)))),
    );
    const replies = await readFrames(conn, messages.length);
    assertEquals(replies.map((reply) => decoder.decode(reply)), [
      "HELLO, WSGATE!",
      "",
      "MIXED 123 `{AZ}`",
      // Only ASCII letters change: UTF-8 bytes of other letters pass as is.
      "CAF\u00e9 \u00fcBER",
    ]);
  } finally {
    conn.close();
    await backend.close();
  }
});

Deno.test("startDemoBackend reassembles a frame split across writes", async () => {
  const backend = startDemoBackend({ hostname: "127.0.0.1" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.addr.port,
  });
  try {
    const frame = u32beFrame(encoder.encode("x".repeat(100_000)));
    await writeAll(conn, frame.subarray(0, 2));
    await writeAll(conn, frame.subarray(2, 50_000));
    await writeAll(conn, frame.subarray(50_000));
    const [reply] = await readFrames(conn, 1);
    assertStrictEquals(decoder.decode(reply), "X".repeat(100_000));
  } finally {
    conn.close();
    await backend.close();
  }
});

Deno.test("startDemoBackend serves connections independently", async () => {
  const backend = startDemoBackend();
  const a = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.addr.port,
  });
  const b = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.addr.port,
  });
  try {
    await writeAll(a, u32beFrame(encoder.encode("a")));
    await writeAll(b, u32beFrame(encoder.encode("b")));
    assertStrictEquals(decoder.decode((await readFrames(b, 1))[0]), "B");
    assertStrictEquals(decoder.decode((await readFrames(a, 1))[0]), "A");
  } finally {
    a.close();
    b.close();
    await backend.close();
  }
});

Deno.test("startDemoBackend drops a connection that sends a frame over 16 MiB", async () => {
  const backend = startDemoBackend();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.addr.port,
  });
  try {
    await writeAll(conn, Uint8Array.of(0x7f, 0xff, 0xff, 0xff));
    assertEquals(await readFrames(conn, 1), []);
  } finally {
    conn.close();
    await backend.close();
  }
});

Deno.test("startDemoBackend close stops listening and ends open connections", async () => {
  const backend = startDemoBackend();
  const port = backend.addr.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Make sure the connection was accepted before closing.
    await writeAll(conn, u32beFrame(encoder.encode("ping")));
    await readFrames(conn, 1);
    await backend.close();
    assertEquals(await readFrames(conn, 1), []);
    await assertRejects(
      () => Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    conn.close();
  }
});
