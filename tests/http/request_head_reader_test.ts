import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { writeAll } from "../_util/backends.ts";
import { readRequestHead } from "../../src/http/request_head_reader.ts";

const encoder = new TextEncoder();

/** A connected client/server pair on 127.0.0.1; both ends closed on dispose. */
async function connectedPair(): Promise<
  { client: Deno.TcpConn; server: Deno.TcpConn } & Disposable
> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return {
    client,
    server,
    [Symbol.dispose]() {
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // Already closed by the test.
        }
      }
    },
  };
}

function head(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: gw\r\n${extra}\r\n`;
}

Deno.test("readRequestHead returns the head and no leftover when the head is all there is", async () => {
  using pair = await connectedPair();
  await writeAll(pair.client, encoder.encode(head("/a?x=1")));
  const read = await within(readRequestHead(pair.server, 8192), 5000, "head");
  assertStrictEquals(read.kind, "head");
  if (read.kind !== "head") return;
  assertStrictEquals(read.head.path, "/a");
  assertStrictEquals(read.head.query.get("x"), "1");
  assertStrictEquals(read.head.headers.get("host"), "gw");
  assertStrictEquals(read.leftover, undefined);
});

Deno.test("readRequestHead keeps the bytes after the head as a copy", async () => {
  using pair = await connectedPair();
  const early = Uint8Array.of(0x82, 0x80, 1, 2, 3, 4, 0, 0xff);
  const bytes = new Uint8Array([...encoder.encode(head("/")), ...early]);
  await writeAll(pair.client, bytes);
  const read = await within(readRequestHead(pair.server, 8192), 5000, "head");
  assert(read.kind === "head");
  assertEquals(read.leftover, early);
  // A copy, not a view of a larger read buffer.
  assertStrictEquals(read.leftover!.byteOffset, 0);
  assertStrictEquals(read.leftover!.buffer.byteLength, early.length);
});

Deno.test("readRequestHead assembles a head that arrives in pieces, split inside the final CRLFCRLF", async (t) => {
  const text = head("/split", "X-Long: " + "v".repeat(100) + "\r\n");
  for (const cut of [1, 20, text.length - 3, text.length - 1]) {
    await t.step(`cut at ${cut} of ${text.length}`, async () => {
      using pair = await connectedPair();
      const reading = readRequestHead(pair.server, 8192);
      await writeAll(pair.client, encoder.encode(text.slice(0, cut)));
      await writeAll(pair.client, encoder.encode(text.slice(cut) + "AB"));
      const read = await within(reading, 5000, "head");
      assert(read.kind === "head");
      assertStrictEquals(read.head.path, "/split");
      assertStrictEquals(read.head.headers.get("x-long"), "v".repeat(100));
      assertEquals(read.leftover, encoder.encode("AB"));
    });
  }
});

Deno.test("readRequestHead assembles a head written one byte at a time", async () => {
  using pair = await connectedPair();
  const reading = readRequestHead(pair.server, 8192);
  for (const byte of encoder.encode(head("/bytes"))) {
    await writeAll(pair.client, Uint8Array.of(byte));
  }
  const read = await within(reading, 5000, "head");
  assert(read.kind === "head");
  assertStrictEquals(read.head.path, "/bytes");
});

Deno.test("readRequestHead grows past its first 2 KiB buffer for a head under the limit", async () => {
  using pair = await connectedPair();
  const text = head("/big", "X-Pad: " + "p".repeat(6000) + "\r\n");
  const tail = encoder.encode("x".repeat(3000));
  const reading = readRequestHead(pair.server, 8192);
  await writeAll(
    pair.client,
    new Uint8Array([...encoder.encode(text), ...tail]),
  );
  const read = await within(reading, 5000, "head");
  assert(read.kind === "head");
  assertStrictEquals(read.head.headLength, text.length);
  assertStrictEquals(read.head.headers.get("x-pad")?.length, 6000);
  // What fitted in the last buffer after the head; the rest stays unread.
  assert(read.leftover !== undefined);
  assertEquals(read.leftover, tail.subarray(0, read.leftover.length));
});

Deno.test("readRequestHead accepts a head of exactly maxHeadBytes and refuses one byte more with 431", async (t) => {
  const exact = head("/", "X-Pad: " + "p".repeat(50) + "\r\n");
  await t.step("exactly the limit", async () => {
    using pair = await connectedPair();
    await writeAll(pair.client, encoder.encode(exact));
    const read = await within(
      readRequestHead(pair.server, exact.length),
      5000,
      "head",
    );
    assertStrictEquals(read.kind, "head");
  });
  await t.step("one byte over", async () => {
    using pair = await connectedPair();
    await writeAll(pair.client, encoder.encode(exact));
    const read = await within(
      readRequestHead(pair.server, exact.length - 1),
      5000,
      "refusal",
    );
    assertEquals(read, {
      kind: "refused",
      refusal: { status: 431, body: "Request head too large" },
    });
  });
  await t.step("an unterminated head reaching the limit", async () => {
    using pair = await connectedPair();
    const reading = readRequestHead(pair.server, 100);
    await writeAll(
      pair.client,
      encoder.encode("GET / HTTP/1.1\r\nX: " + "y".repeat(200)),
    );
    const read = await within(reading, 5000, "refusal");
    assertStrictEquals(read.kind, "refused");
    if (read.kind === "refused") assertStrictEquals(read.refusal.status, 431);
  });
});

Deno.test("readRequestHead refuses a malformed head with the parser's 400", async () => {
  using pair = await connectedPair();
  await writeAll(pair.client, encoder.encode("GET nothing HTTP/1.1\r\n\r\n"));
  const read = await within(
    readRequestHead(pair.server, 8192),
    5000,
    "refusal",
  );
  assertEquals(read, {
    kind: "refused",
    refusal: { status: 400, body: "Malformed request line" },
  });
});

Deno.test("readRequestHead reports closed when the client ends before the head is complete", async (t) => {
  await t.step("with half a head", async () => {
    using pair = await connectedPair();
    await writeAll(
      pair.client,
      encoder.encode("GET / HTTP/1.1\r\nHost: gw\r\n"),
    );
    await pair.client.closeWrite();
    const read = await within(readRequestHead(pair.server, 8192), 5000, "EOF");
    assertEquals(read, { kind: "closed" });
  });
  await t.step("with nothing", async () => {
    using pair = await connectedPair();
    await pair.client.closeWrite();
    const read = await within(readRequestHead(pair.server, 8192), 5000, "EOF");
    assertEquals(read, { kind: "closed" });
  });
});

Deno.test("readRequestHead rejects when the connection is closed under the read", async () => {
  using pair = await connectedPair();
  const reading = readRequestHead(pair.server, 8192);
  pair.server.close();
  await assertRejects(within(reading, 5000, "rejection"));
});

/**
 * The server end of `pair` read at most `sizes[i]` bytes by the i-th read
 * (the last size repeats), recording what each read returned. The bytes
 * still come off the real socket; only the read size is chosen, so a test
 * can name how the head is cut into reads.
 */
function cappedReads(
  conn: Deno.Conn,
  sizes: number[],
): Pick<Deno.Conn, "read"> & { counts: (number | null)[] } {
  const counts: (number | null)[] = [];
  return {
    counts,
    async read(buffer: Uint8Array): Promise<number | null> {
      const size = sizes[Math.min(counts.length, sizes.length - 1)]!;
      const count = await conn.read(buffer.subarray(0, size));
      counts.push(count);
      return count;
    },
  };
}

Deno.test("readRequestHead parses a head delivered one byte per read", async () => {
  using pair = await connectedPair();
  // Past the first 2 KiB buffer, so the search also spans its growth.
  const text = head("/bytes", "X-Pad: " + "p".repeat(3000) + "\r\n");
  // Written whole before reading starts: loopback queues it at once, so
  // every capped read returns exactly one byte.
  await writeAll(pair.client, encoder.encode(text + "AB"));
  const conn = cappedReads(pair.server, [1]);
  const read = await within(readRequestHead(conn, 8192), 5000, "head");
  assert(read.kind === "head");
  assertStrictEquals(read.head.path, "/bytes");
  assertStrictEquals(read.head.headers.get("x-pad"), "p".repeat(3000));
  assertStrictEquals(read.head.headLength, text.length);
  // It stops reading at the terminator: the early bytes stay in the socket.
  assertStrictEquals(read.leftover, undefined);
  assertEquals(conn.counts, new Array(text.length).fill(1));
});

Deno.test("readRequestHead finds a terminator split across two reads at each position", async (t) => {
  const text = head("/split");
  const end = text.indexOf("\r\n\r\n");
  // The first read ends before the terminator, or after its 1st, 2nd or
  // 3rd byte; the second read brings the rest and two early bytes.
  for (let cut = end; cut < end + 4; cut++) {
    await t.step(`first read of ${cut} bytes`, async () => {
      using pair = await connectedPair();
      await writeAll(pair.client, encoder.encode(text + "AB"));
      const conn = cappedReads(pair.server, [cut, 8192]);
      const read = await within(readRequestHead(conn, 8192), 5000, "head");
      assert(read.kind === "head");
      assertStrictEquals(read.head.path, "/split");
      assertStrictEquals(read.head.headLength, text.length);
      assertEquals(read.leftover, encoder.encode("AB"));
      assertEquals(conn.counts, [cut, text.length + 2 - cut]);
    });
  }
});

Deno.test("readRequestHead keeps the head limit and its 431 when the head arrives in small reads", async (t) => {
  const exact = head("/", "X-Pad: " + "p".repeat(50) + "\r\n");
  await t.step("exactly the limit, three bytes per read", async () => {
    using pair = await connectedPair();
    await writeAll(pair.client, encoder.encode(exact));
    const conn = cappedReads(pair.server, [3]);
    const read = await within(
      readRequestHead(conn, exact.length),
      5000,
      "head",
    );
    assert(read.kind === "head");
    assertStrictEquals(read.head.headLength, exact.length);
  });
  await t.step("one byte over, one byte per read", async () => {
    using pair = await connectedPair();
    await writeAll(pair.client, encoder.encode(exact));
    const conn = cappedReads(pair.server, [1]);
    const read = await within(
      readRequestHead(conn, exact.length - 1),
      5000,
      "refusal",
    );
    assertEquals(read, {
      kind: "refused",
      refusal: { status: 431, body: "Request head too large" },
    });
    // Refused as the limit is reached, not after reading on.
    assertStrictEquals(conn.counts.length, exact.length - 1);
  });
  await t.step("an unterminated head, seven bytes per read", async () => {
    using pair = await connectedPair();
    await writeAll(
      pair.client,
      encoder.encode("GET / HTTP/1.1\r\nX: " + "y".repeat(200)),
    );
    const conn = cappedReads(pair.server, [7]);
    const read = await within(readRequestHead(conn, 100), 5000, "refusal");
    assertEquals(read, {
      kind: "refused",
      refusal: { status: 431, body: "Request head too large" },
    });
    assertStrictEquals(conn.counts.length, Math.ceil(100 / 7));
  });
});

// Regression (issue 17 item 10): RFC 9112 section 2.2 says to ignore empty
// lines before the request line; they were answered 400.
Deno.test("readRequestHead ignores empty lines before the request line, in pieces", async (t) => {
  const text = "\r\n\r\n" + head("/after");
  for (const cut of [1, 2, 3, 4, 5]) {
    await t.step(`cut at ${cut}`, async () => {
      using pair = await connectedPair();
      const reading = readRequestHead(pair.server, 8192);
      await writeAll(pair.client, encoder.encode(text.slice(0, cut)));
      await writeAll(pair.client, encoder.encode(text.slice(cut) + "AB"));
      const read = await within(reading, 5000, "head");
      assert(read.kind === "head", JSON.stringify(read));
      assertStrictEquals(read.head.path, "/after");
      assertEquals(read.leftover, encoder.encode("AB"));
    });
  }
});
