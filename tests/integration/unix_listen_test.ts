/**
 * `--listen unix:/path` behind Debian's nginx: the wsgate CLI listens on a
 * Unix socket (mode 0660, removed on exit), nginx's upstream names that
 * socket, and a WebSocket session runs through both end to end. Skipped
 * only when nginx is missing and `CI` is unset.
 *
 * @module
 */

import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { nginxSkipReason, startNginx } from "../_util/nginx.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import {
  bytesEqual,
  patternBytes,
  utf8,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import { runWsgate, spawnWsgate } from "../_util/wsgate_process.ts";

const SKIP_REASON = nginxSkipReason();

async function isPresent(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "nginx relays a WebSocket session to wsgate listening on a Unix socket, which is removed at exit" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wsgate_unix_listen_" });
    const socket = `${dir}/wsgate.sock`;
    try {
      await using backend = startU32beBackend();
      await using wsgate = spawnWsgate([
        "--listen",
        `unix:${socket}`,
        "--target",
        backend.target,
        "--quiet",
      ]);
      await wsgate.waitForLine(
        "stdout",
        (line) => line === `wsgate listening on unix:${socket}`,
        15000,
      );
      assertEquals((await Deno.lstat(socket)).mode! & 0o777, 0o660);
      await using nginx = await startNginx({ servers: [`unix:${socket}`] });
      {
        await using client = await WsTestClient.open(
          `ws://127.0.0.1:${nginx.port}/`,
        );
        const big = patternBytes(128 * 1024, 3);
        client.send("over a unix socket");
        client.send(big);
        const [text, binary] = await client.take(2, 10000);
        assertEquals(text, utf8("over a unix socket"));
        assert(binary instanceof Uint8Array && bytesEqual(binary, big));
        const info = await client.close(1000, "done");
        assertEquals([info.code, info.wasClean], [1000, true]);
      }
      {
        // A page served through nginx has nginx's origin; the Host nginx
        // passes on names the same host and port.
        const { client, response } = await RawWsClient.connect(
          nginx.port,
          "/",
          { Origin: `http://127.0.0.1:${nginx.port}` },
        );
        await using _client = client;
        assertStrictEquals(response.status, 101, response.head);
        const crossOrigin = await RawWsClient.connect(nginx.port, "/", {
          Origin: "http://evil.example",
        });
        await crossOrigin.client.close();
        assertStrictEquals(crossOrigin.response.status, 403);
      }
      assertStrictEquals(backend.connections.length, 2);
      await wsgate.waitForLine(
        "stderr",
        (line) => line.includes("session_close"),
        10000,
      );
      const status = await wsgate.stop("SIGTERM", 10000);
      assertStrictEquals(status.code, 0, wsgate.stderrLines.join("\n"));
      assertEquals(await isPresent(socket), false);
      const log = await nginx.errorLog();
      assert(!/\[(emerg|alert|crit)\]/.test(log), log);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("wsgate refuses to listen on a Unix socket another wsgate is listening on, and leaves it working", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_unix_listen_" });
  const socket = `${dir}/wsgate.sock`;
  try {
    const args = ["--listen", `unix:${socket}`, "--target", "127.0.0.1:9"];
    await using first = spawnWsgate([...args, "--quiet"]);
    await first.waitForLine(
      "stdout",
      (line) => line.startsWith("wsgate listening on unix:"),
      15000,
    );
    const second = await runWsgate(args, 15000);
    assertStrictEquals(second.code, 1, second.stderr);
    assert(
      second.stderr.includes("another process is listening on it"),
      second.stderr,
    );
    assert(await isPresent(socket), "the live socket file was removed");
    const conn = await Deno.connect({ transport: "unix", path: socket });
    conn.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
