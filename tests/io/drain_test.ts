import { assert, assertStrictEquals } from "../_util/assert.ts";
import { drainUntilEof, type Reader } from "../../src/io/drain.ts";

Deno.test("drainUntilEof reads until the peer closes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  listener.close();
  await client.write(new Uint8Array(10000));
  client.close();
  await drainUntilEof(server, 5000);
  assertStrictEquals(await server.read(new Uint8Array(1)), null);
  server.close();
});

Deno.test("drainUntilEof stops after maxReads reads", async () => {
  let reads = 0;
  const reader = {
    read: (_buffer: Uint8Array) => Promise.resolve(++reads),
  };
  await drainUntilEof(reader, 5000, { maxReads: 7 });
  assertStrictEquals(reads, 7);
});

Deno.test("drainUntilEof stops once its clock passes the deadline", async () => {
  let clockMs = 0;
  let reads = 0;
  const reader = {
    read: (_buffer: Uint8Array) => {
      clockMs += 10;
      return Promise.resolve(++reads);
    },
  };
  await drainUntilEof(reader, 25, { maxReads: 1000, now: () => clockMs });
  assertStrictEquals(reads, 3);
});

/** A peer that always has a full buffer ready: every read resolves at once. */
function fastPeer(): { reader: Reader; reads: () => number } {
  let reads = 0;
  return {
    reader: {
      read: (buffer: Uint8Array) => {
        reads++;
        return Promise.resolve(buffer.length);
      },
    },
    reads: () => reads,
  };
}

Deno.test("drainUntilEof gives the event loop a turn after each MiB from a peer that keeps sending", async () => {
  const peer = fastPeer();
  let readsWhenTimerRan: number | undefined;
  const timer = setTimeout(() => readsWhenTimerRan = peer.reads(), 0);
  try {
    await drainUntilEof(peer.reader, 60000, { maxReads: 2000 });
  } finally {
    clearTimeout(timer);
  }
  assertStrictEquals(peer.reads(), 2000);
  // 1 MiB is 256 reads of 4 KiB: the timer ran after those, not after all.
  assertStrictEquals(readsWhenTimerRan, 256);
});

Deno.test("drainUntilEof stops reading a peer that keeps sending at its deadline on the runtime clock", async () => {
  const peer = fastPeer();
  const maxReads = 1_000_000;
  await drainUntilEof(peer.reader, 20, { maxReads });
  // Each yield is a timer turn: 1,000,000 reads would take thousands of
  // turns, far past 20 ms.
  assert(peer.reads() < maxReads, `read ${peer.reads()} times`);
  // And the loop has ended: no reads after the drain resolved.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const after = peer.reads();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertStrictEquals(peer.reads(), after);
});
