/**
 * wsgate behind Debian's nginx: real nginx (`/usr/sbin/nginx`) with the
 * README's configuration (tests/_util/nginx.ts renders both) balances
 * WebSocket sessions over two in-process gateways. Skipped only when nginx
 * is missing and `CI` is unset.
 *
 * @module
 */

import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { type GatewayFixture, startGateway } from "../_util/gateway_fixture.ts";
import {
  nginxSiteConfig,
  nginxSkipReason,
  startNginx,
} from "../_util/nginx.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import {
  bytesEqual,
  patternBytes,
  utf8,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import {
  mintTicket,
  startFleetGateway,
  upgradeAt,
  writeFleetConfig,
} from "../_util/fleet.ts";
import { startRedisServer } from "../_util/redis_server.ts";

const SKIP_REASON = nginxSkipReason();
const README_URL = new URL("../../README.md", import.meta.url);
/** The instances the README's example names (text only, never contacted). */
const README_SERVERS = ["10.0.0.11:8080", "10.0.0.12:8080"];
const SESSIONS = 4;

type OpenEvent = Extract<GatewayEvent, { type: "session_open" }>;

function opens(gateway: GatewayFixture): OpenEvent[] {
  return gateway.events.filter((event): event is OpenEvent =>
    event.type === "session_open"
  );
}

async function startTwoGateways(
  target: string,
): Promise<[GatewayFixture, GatewayFixture]> {
  const options = {
    routes: [{ path: "/", target, framing: "u32be" }],
    trustedProxies: ["127.0.0.1/32"],
  };
  const first = await startGateway(options);
  try {
    return [first, await startGateway(options)];
  } catch (error) {
    await first[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test({
  name:
    "nginx spreads WebSocket sessions over two wsgate instances and relays both ways" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using backend = startU32beBackend();
    const [first, second] = await startTwoGateways(backend.target);
    await using _first = first;
    await using _second = second;
    await using nginx = await startNginx({
      servers: [`127.0.0.1:${first.port}`, `127.0.0.1:${second.port}`],
    });
    const clients: WsTestClient[] = [];
    try {
      for (let i = 0; i < SESSIONS; i++) {
        clients.push(
          await WsTestClient.open(`ws://127.0.0.1:${nginx.port}/`),
        );
      }
      // All sessions are open at once, so each is its own upstream
      // connection and round robin must use both instances.
      for (const [i, client] of clients.entries()) {
        const big = patternBytes(256 * 1024, i);
        client.send(`hello ${i}`);
        client.send(big);
        const [text, binary] = await client.take(2, 10000);
        assertEquals(text, utf8(`hello ${i}`));
        assert(
          binary instanceof Uint8Array && bytesEqual(binary, big),
          `session ${i}: the 256 KiB echo differs`,
        );
      }
      const counts = [opens(first).length, opens(second).length];
      assertStrictEquals(counts[0]! + counts[1]!, SESSIONS);
      assert(
        counts[0]! > 0 && counts[1]! > 0,
        `sessions per instance: ${counts.join(" and ")}\n${nginx.config}`,
      );
      for (const client of clients) {
        const info = await client.close(1000, "done");
        assertEquals([info.code, info.wasClean], [1000, true]);
      }
    } finally {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
    }
    assertEquals(backend.connections.length, SESSIONS);
    const log = await nginx.errorLog();
    assert(!/\[(emerg|alert|crit)\]/.test(log), log);
  },
});

Deno.test({
  name:
    "nginx passes the Host with its port and X-Forwarded-For, so same-origin and client addresses work behind it" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using backend = startU32beBackend();
    const [first, second] = await startTwoGateways(backend.target);
    await using _first = first;
    await using _second = second;
    await using nginx = await startNginx({
      servers: [`127.0.0.1:${first.port}`, `127.0.0.1:${second.port}`],
    });
    // A page served by the proxy has the proxy's origin, on a port that is
    // not the scheme's default.
    const sameOrigin = await RawWsClient.connect(nginx.port, "/", {
      Origin: `http://127.0.0.1:${nginx.port}`,
      "X-Forwarded-For": "198.51.100.7",
    });
    await using client = sameOrigin.client;
    assertStrictEquals(
      sameOrigin.response.status,
      101,
      sameOrigin.response.head,
    );
    await client.send("through nginx");
    const reply = await client.next(5000);
    assertEquals(reply, {
      kind: "message",
      isText: false,
      payload: utf8("through nginx"),
    });
    const open = [...opens(first), ...opens(second)];
    assertStrictEquals(open.length, 1);
    assert(
      open[0]!.client.startsWith("198.51.100.7 (via 127.0.0.1:"),
      `client address seen by wsgate: ${open[0]!.client}`,
    );
    const other = await RawWsClient.connect(nginx.port, "/", {
      Origin: "http://evil.example",
    });
    await using _refused = other.client;
    assertStrictEquals(other.response.status, 403, other.response.head);
    await client.sendClose(1000, "done");
    const closed = await client.nextClose(5000);
    assertStrictEquals(closed?.code, 1000);
  },
});

Deno.test("README shows the nginx configuration this test runs", async () => {
  const readme = await Deno.readTextFile(README_URL);
  const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  const tested = nginxSiteConfig({ listen: "80", servers: README_SERVERS });
  assertStrictEquals(
    block,
    tested,
    "the README's nginx block must equal nginxSiteConfig() from " +
      "tests/_util/nginx.ts (paste its output for listen 80 and " +
      `${README_SERVERS.join(", ")})`,
  );
});

Deno.test({
  name:
    "nginx in front of two wsgate instances sharing Redis: one single-use ticket opens one session in 30 attempts, and the per-IP cap holds across both" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using redis = await startRedisServer();
    await using backend = startU32beBackend();
    await using config = await writeFleetConfig({
      target: backend.target,
      store: redis.url,
      maxSessionsPerIp: 2,
      trustProxy: ["127.0.0.1/32"],
    });
    const a = await startFleetGateway(config);
    await using _a = a.process;
    const b = await startFleetGateway(config);
    await using _b = b.process;
    await using nginx = await startNginx({
      servers: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
    });
    const ticket = await mintTicket();
    const attempts = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) =>
          upgradeAt(nginx.port, `/t?ticket=${ticket}`, {
            "X-Forwarded-For": `198.51.100.${i + 1}`,
          }),
      ),
    );
    const statuses = attempts.map((attempt) => attempt.status);
    await Promise.all(
      attempts.map((attempt) => attempt[Symbol.asyncDispose]()),
    );
    assertEquals(statuses.filter((status) => status === 101).length, 1);
    assertEquals(statuses.filter((status) => status === 401).length, 29);

    // One client address, four sessions at once over both instances.
    const sessions = await Promise.all(
      Array.from(
        { length: 4 },
        () => upgradeAt(nginx.port, "/", { "X-Forwarded-For": "203.0.113.9" }),
      ),
    );
    const capped = sessions.map((session) => session.status).sort();
    await Promise.all(
      sessions.map((session) => session[Symbol.asyncDispose]()),
    );
    assertEquals(capped, [101, 101, 429, 429]);
  },
});
