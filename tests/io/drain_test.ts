import { assertStrictEquals } from "../_util/assert.ts";
import { drainUntilEof } from "../../src/io/drain.ts";

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
