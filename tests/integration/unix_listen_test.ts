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
import { startEchoBackend } from "../_util/backends.ts";
import { WsClientConnection } from "../_util/ws_client_connection.ts";
import { createGateway } from "../../src/server/gateway.ts";
import type { GatewayOptions } from "../../src/config/config.ts";

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

/** A gateway on a Unix socket in a fresh directory; removed on dispose. */
async function startUnixGateway(
  options: GatewayOptions,
): Promise<{ socket: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_unix_limits_" });
  const socket = `${dir}/wsgate.sock`;
  const gateway = createGateway({ ...options, unixSocket: socket });
  try {
    await gateway.listen();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  return {
    socket,
    async [Symbol.asyncDispose]() {
      await gateway.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Upgrades over the Unix socket; the caller closes the client. */
async function upgradeOverUnix(
  socket: string,
  headers: Record<string, string> = {},
): Promise<{ client: WsClientConnection<Deno.UnixConn>; status: number }> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const client = new WsClientConnection(conn);
  const response = await client.upgrade({
    host: "localhost",
    path: "/",
    headers,
  });
  return { client, status: response.status };
}

Deno.test("a gateway on a Unix socket counts per-IP sessions by the X-Forwarded-For address and not the proxy's connections as one client", async () => {
  await using backend = startEchoBackend();
  await using gateway = await startUnixGateway({
    routes: [{ path: "/", target: backend.target }],
    maxSessionsPerIp: 1,
  });
  const clients: WsClientConnection<Deno.UnixConn>[] = [];
  const statusOf = async (headers: Record<string, string> = {}) => {
    const { client, status } = await upgradeOverUnix(gateway.socket, headers);
    clients.push(client);
    return status;
  };
  try {
    // The proxy naming no client: not one address, no per-IP cap.
    assertEquals([await statusOf(), await statusOf()], [101, 101]);
    // The client the proxy names is counted.
    const first = { "X-Forwarded-For": "192.0.2.7" };
    assertEquals([await statusOf(first), await statusOf(first)], [101, 429]);
    assertEquals(await statusOf({ "X-Forwarded-For": "192.0.2.8" }), 101);
  } finally {
    for (const client of clients) await client.close();
  }
});

Deno.test("a gateway on a Unix socket does not cap the proxy's pending handshakes as one address", async () => {
  await using backend = startEchoBackend();
  // Two unfinished handshakes are half of maxSessions: the per-address
  // handshake cap of 1 would apply to a TCP peer from now on.
  await using gateway = await startUnixGateway({
    routes: [{ path: "/", target: backend.target }],
    maxSessions: 4,
    maxHandshakesPerIp: 1,
  });
  const silent: Deno.UnixConn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      silent.push(
        await Deno.connect({ transport: "unix", path: gateway.socket }),
      );
    }
    const { client, status } = await upgradeOverUnix(gateway.socket);
    await client.close();
    assertStrictEquals(status, 101);
  } finally {
    for (const conn of silent) conn.close();
  }
});
