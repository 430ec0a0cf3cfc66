import { assert, assertEquals } from "../_util/assert.ts";
import {
  WriteStalledError,
  writeWithProgress,
} from "../../src/io/write_progress.ts";

Deno.test("writeWithProgress closes the connection and throws WriteStalledError when the peer stops reading", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  try {
    let caught: unknown;
    try {
      // Far more than the socket buffers hold; the client never reads.
      await writeWithProgress(server, new Uint8Array(64 * 1024 * 1024), 200, 0);
    } catch (error) {
      caught = error;
    }
    assert(caught instanceof WriteStalledError, String(caught));
    assertEquals(caught.idleMs, 200);
    assert(caught.bytesWritten > 0);
    // The server side is closed: writing again fails.
    let isClosed = false;
    try {
      await server.write(new Uint8Array(1));
    } catch {
      isClosed = true;
    }
    assert(isClosed);
  } finally {
    client.close();
    listener.close();
  }
});

Deno.test("writeWithProgress writes everything to a reading peer and returns the running total", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const server = await listener.accept();
  try {
    const size = 4 * 1024 * 1024;
    const reading = (async () => {
      const buffer = new Uint8Array(65536);
      let got = 0;
      for (let reads = 0; reads < 100_000 && got < size; reads++) {
        const count = await client.read(buffer);
        if (count === null) break;
        got += count;
      }
      return got;
    })();
    const total = await writeWithProgress(
      server,
      new Uint8Array(size),
      2000,
      10,
    );
    assertEquals(total, size + 10);
    assertEquals(await reading, size);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
