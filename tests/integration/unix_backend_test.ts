import { assertEquals } from "../_util/assert.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { WsTestClient } from "../_util/web_socket_client.ts";

Deno.test("gateway relays to a Unix socket backend named unix:/path", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/backend.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    // An echo backend: every u32be frame comes back as it was sent.
    for await (const conn of listener) {
      const buffer = new Uint8Array(4096);
      try {
        for (;;) {
          const count = await conn.read(buffer);
          if (count === null) break;
          let rest = buffer.subarray(0, count);
          while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
        }
      } finally {
        conn.close();
      }
    }
  })();
  try {
    await using gateway = await startGateway({
      routes: [{ path: "/", target: `unix:${path}` }],
    });
    await using client = await WsTestClient.open(gateway.url("/"));
    client.send(new Uint8Array([1, 2, 3]));
    assertEquals(await client.next(), new Uint8Array([1, 2, 3]));
    client.send("over a unix socket");
    assertEquals(
      await client.next(),
      new TextEncoder().encode("over a unix socket"),
    );
    const close = await client.close();
    assertEquals(close.code, 1000);
    const event = await gateway.nextClose();
    assertEquals(event.target, `unix:${path}`);
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
