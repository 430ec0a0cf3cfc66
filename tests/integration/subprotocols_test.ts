/**
 * The subprotocol cases issue 16 lists, on a real gateway over real
 * sockets: a route without configured subprotocols relays transparently
 * (nothing offered, `binary`, `binary, base64`, only `base64`, `mqtt`, two
 * unknown ones), and the CLI's `--subprotocols` makes the `--target` route
 * strict. Chromium's side (binary, mqtt) is in browser_test.ts.
 *
 * @module
 */

import { assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { utf8 } from "../_util/web_socket_client.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";

/** The `Sec-WebSocket-Protocol` of a response head, if any. */
function answeredProtocol(head: string): string | undefined {
  const match = /^sec-websocket-protocol:[ \t]*(.*?)[ \t]*\r?$/im.exec(head);
  return match === null ? undefined : match[1];
}

/**
 * Offers `offer` (no header when undefined); returns the status and the
 * answered protocol, after checking one echo when upgraded.
 */
async function offer(
  port: number,
  offered: string | undefined,
): Promise<{ status: number; protocol: string | undefined }> {
  const { client, response } = await RawWsClient.connect(
    port,
    "/",
    offered === undefined ? {} : { "Sec-WebSocket-Protocol": offered },
  );
  await using _client = client;
  if (response.status === 101) {
    await client.send(utf8("hello"));
    assertEquals(await client.next(5000), {
      kind: "message",
      isText: false,
      payload: utf8("hello"),
    });
  }
  return {
    status: response.status,
    protocol: answeredProtocol(response.head),
  };
}

Deno.test("a route without subprotocols answers each offer as websockify would and relays", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    routes: [{ path: "/", target: backend.target, framing: "raw" }],
  });
  const cases: [string, string | undefined, number, string | undefined][] = [
    ["nothing offered: 101 without the header", undefined, 101, undefined],
    ["binary: binary", "binary", 101, "binary"],
    ["binary, base64: binary", "binary, base64", 101, "binary"],
    ["only base64: 400", "base64", 400, undefined],
    ["mqtt: echoed for the end-to-end protocol", "mqtt", 101, "mqtt"],
    ["two unknown ones: the first", "foo.v1, bar.v2", 101, "foo.v1"],
  ];
  for (const [name, offered, status, protocol] of cases) {
    await t.step(name, async () => {
      assertEquals(await offer(gateway.port, offered), { status, protocol });
    });
  }
});

Deno.test("wsgate --subprotocols makes the --target route accept only the listed ones", async (t) => {
  await using backend = startEchoBackend();
  await using wsgate = spawnWsgate([
    "--listen",
    "127.0.0.1:0",
    "--target",
    backend.target,
    "--framing",
    "raw",
    "--subprotocols",
    "mqtt",
    "--allow-origin",
    "*",
    "--quiet",
  ]);
  const { port } = await wsgate.listening(15000);
  const cases: [string, string | undefined, number, string | undefined][] = [
    ["mqtt: accepted", "mqtt", 101, "mqtt"],
    ["an unknown one before mqtt: mqtt", "foo, mqtt", 101, "mqtt"],
    ["binary alone: 400 on a strict route", "binary", 400, undefined],
    ["two unknown ones: 400", "foo, bar", 400, undefined],
    ["nothing offered: 101 without the header", undefined, 101, undefined],
  ];
  for (const [name, offered, status, protocol] of cases) {
    await t.step(name, async () => {
      assertEquals(await offer(port, offered), { status, protocol });
    });
  }
  assertStrictEquals((await wsgate.stop("SIGTERM", 10000)).code, 0);
});
