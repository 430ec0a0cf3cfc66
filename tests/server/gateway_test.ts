import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
  within,
} from "../_util/assert.ts";
import { startEchoBackend, writeAll } from "../_util/backends.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { waitUntil } from "../_util/wait_until.ts";
import { createGateway, type Gateway } from "../../src/server/gateway.ts";
import { ConfigError } from "../../src/errors.ts";
import { importTicketKey, signTicket } from "../../src/security/ticket.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { upgradeStatus } from "../_util/raw_session.ts";

/** Sends one request line and reads the response to EOF: status line and body. */
async function rawGet(
  port: number,
  path: string,
): Promise<{ statusLine: string; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`),
    );
    const chunks: number[] = [];
    const buffer = new Uint8Array(16 * 1024);
    const readAll = async () => {
      for (let reads = 0; reads < 1000; reads++) {
        const count = await conn.read(buffer);
        if (count === null) return;
        chunks.push(...buffer.subarray(0, count));
      }
    };
    await within(readAll(), 5000, `response to GET ${path}`);
    const text = new TextDecoder().decode(new Uint8Array(chunks));
    const end = text.indexOf("\r\n\r\n");
    return {
      statusLine: text.slice(0, text.indexOf("\r\n")),
      body: text.slice(end + 4),
    };
  } finally {
    conn.close();
  }
}

/** Opens a session on `path` and checks one echo round trip. */
async function assertRoundTrip(port: number, path: string): Promise<void> {
  const { client, response } = await RawWsClient.connect(port, path);
  try {
    assertStrictEquals(response.status, 101, response.head);
    await client.send(new TextEncoder().encode("ping"));
    const frame = await client.next();
    assert(frame?.kind === "message", JSON.stringify(frame));
    assertStrictEquals(new TextDecoder().decode(frame.payload), "ping");
    await client.sendClose(1000);
    const close = await client.nextClose();
    assertStrictEquals(close?.code, 1000);
  } finally {
    await client.close();
  }
}

Deno.test("createGateway throws ConfigError at once for invalid options and opens nothing", () => {
  assertThrows(
    () => createGateway({ port: 0, routes: [{ path: "x", target: "nope" }] }),
    (error: unknown) => {
      assert(error instanceof ConfigError);
      assertStrictEquals(error.problems.length, 2);
      return true;
    },
  );
});

Deno.test("Gateway.addr throws before listen and is the bound address after", async () => {
  await using gateway = createGateway({ port: 0 });
  assertThrows(() => gateway.addr, {
    name: "TypeError",
    message: "Cannot read address as the gateway is not listening",
  });
  const addr = await gateway.listen();
  assertEquals(gateway.addr, addr);
  assertStrictEquals(addr.transport, "tcp");
  assertStrictEquals(addr.hostname, "127.0.0.1");
  assert(addr.port > 0);
});

Deno.test("Gateway.listen rejects a second call and keeps the first listener", async () => {
  await using gateway = createGateway({ port: 0 });
  const addr = await gateway.listen();
  await assertRejects(() => gateway.listen(), TypeError, "already listening");
  assertEquals(gateway.addr, addr);
  assertStrictEquals((await rawGet(addr.port, "/healthz")).body, "ok\n");
});

Deno.test("Gateway.listen emits listening with the bound port", async () => {
  const events: GatewayEvent[] = [];
  await using gateway = createGateway({
    port: 0,
    onEvent: (event) => events.push(event),
  });
  const addr = await gateway.listen();
  assertEquals(events, [{
    type: "listening",
    hostname: "127.0.0.1",
    port: addr.port,
    tls: false,
  }]);
});

Deno.test("Gateway.listen rejects with ConfigError when a token file is missing, opening no socket", async () => {
  const gateway = createGateway({
    port: 0,
    routes: [{ path: "/t", tokens: "/nonexistent/wsgate/tokens" }],
  });
  await assertRejects(() => gateway.listen(), ConfigError);
  assertThrows(() => gateway.addr, TypeError);
  await gateway.close();
});

Deno.test("Gateway.listen rejects when the port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const gateway = createGateway({ port: taken.addr.port });
  await assertRejects(() => gateway.listen(), Deno.errors.AddrInUse);
  await gateway.close();
});

Deno.test("Gateway.close is idempotent, also before listen", async (t) => {
  await t.step("before listen", async () => {
    const gateway = createGateway({ port: 0 });
    const first = gateway.close();
    assertStrictEquals(gateway.close(), first);
    await first;
    assertStrictEquals(gateway.isDraining, true);
  });
  await t.step("after listen", async () => {
    const gateway = createGateway({ port: 0 });
    const { port } = await gateway.listen();
    assertStrictEquals(gateway.isDraining, false);
    const first = gateway.close();
    const second = gateway.close();
    assertStrictEquals(first, second);
    await Promise.all([first, second, gateway[Symbol.asyncDispose]()]);
    assertStrictEquals(gateway.isDraining, true);
    // The port is released.
    await assertRejects(
      () => Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
  });
});

Deno.test("Gateway.close ends an open session with 1001 and resolves once it is gone", async () => {
  await using backend = startEchoBackend();
  const gateway = createGateway({
    port: 0,
    routes: [{ path: "/", target: backend.target }],
  });
  const { port } = await gateway.listen();
  const { client, response } = await RawWsClient.connect(port, "/");
  try {
    assertStrictEquals(response.status, 101);
    assertStrictEquals(gateway.sessionCount, 1);
    const closing = gateway.close();
    const close = await client.nextClose();
    assertEquals([close?.code, close?.reason], [1001, "gateway shutting down"]);
    await client.sendClose(1001);
    await within(closing, 5000, "close()");
    assertStrictEquals(gateway.sessionCount, 0);
  } finally {
    await client.close();
    await gateway.close();
  }
});

Deno.test("Gateway.reload swaps routes for new sessions", async () => {
  await using backend = startEchoBackend();
  await using gateway = createGateway({
    port: 0,
    routes: [{ path: "/old", target: backend.target }],
  });
  const { port } = await gateway.listen();
  await assertRoundTrip(port, "/old");
  await gateway.reload({
    port: 12345,
    routes: [{ path: "/new", target: backend.target }],
  });
  // The listen address is not changed by a reload.
  assertStrictEquals(gateway.addr.port, port);
  await assertRoundTrip(port, "/new");
  assertStrictEquals(await upgradeStatus(port, "/old"), 404);
});

Deno.test("Gateway.reload keeps an open session on its old route undisturbed", async () => {
  await using backend = startEchoBackend();
  await using gateway = createGateway({
    port: 0,
    routes: [{ path: "/old", target: backend.target }],
  });
  const { port } = await gateway.listen();
  const { client, response } = await RawWsClient.connect(port, "/old");
  try {
    assertStrictEquals(response.status, 101);
    await gateway.reload({ routes: [] });
    await client.send(new TextEncoder().encode("still here"));
    const frame = await client.next();
    assert(frame?.kind === "message");
    assertStrictEquals(new TextDecoder().decode(frame.payload), "still here");
    await client.sendClose(1000);
    assertStrictEquals((await client.nextClose())?.code, 1000);
  } finally {
    await client.close();
  }
});

Deno.test("Gateway.reload rejects an invalid configuration and keeps serving the old one", async (t) => {
  await using backend = startEchoBackend();
  await using gateway = createGateway({
    port: 0,
    routes: [{ path: "/", target: backend.target }],
  });
  const { port } = await gateway.listen();
  await t.step("invalid options", async () => {
    await assertRejects(
      () => gateway.reload({ routes: [{ path: "/", target: "nope" }] }),
      ConfigError,
    );
    await assertRoundTrip(port, "/");
  });
  await t.step("a token file that cannot be loaded", async () => {
    await assertRejects(
      () =>
        gateway.reload({ routes: [{ path: "/t", tokens: "/nonexistent/t" }] }),
      ConfigError,
    );
    await assertRoundTrip(port, "/");
    assertStrictEquals(await upgradeStatus(port, "/t"), 404);
  });
});

Deno.test("Gateway keeps serving when its onEvent sink throws", async () => {
  await using backend = startEchoBackend();
  await using gateway = createGateway({
    port: 0,
    routes: [{ path: "/", target: backend.target }],
    onEvent: () => {
      throw new Error("faulty sink");
    },
  });
  const { port } = await gateway.listen();
  await assertRoundTrip(port, "/");
  assertStrictEquals(await upgradeStatus(port, "/nope"), 404);
});

Deno.test("Gateway serves metricsRenderer's text at /metrics, and nothing there with metricsOnGatewayPort false", async () => {
  {
    await using gateway = createGateway({
      port: 0,
      metricsRenderer: () => "summed_metric 42\n",
    });
    const { port } = await gateway.listen();
    assertStrictEquals(
      (await rawGet(port, "/metrics")).body,
      "summed_metric 42\n",
    );
    assert(gateway.renderMetrics().includes("wsgate_"));
  }
  {
    await using gateway = createGateway({
      port: 0,
      metricsOnGatewayPort: false,
    });
    const { port } = await gateway.listen();
    assertStrictEquals(
      (await rawGet(port, "/metrics")).statusLine,
      "HTTP/1.1 404 Not Found",
    );
  }
});

Deno.test("Gateway sessionCount and /_console/stats count an open session and its bytes", async () => {
  await using backend = startEchoBackend();
  await using gateway = createGateway({
    port: 0,
    routes: [{ path: "/", target: backend.target }],
  });
  const { port } = await gateway.listen();
  assertStrictEquals(gateway.sessionCount, 0);
  const { client } = await RawWsClient.connect(port, "/");
  try {
    await client.send(new TextEncoder().encode("12345"));
    await client.next();
    assertStrictEquals(gateway.sessionCount, 1);
    const stats = JSON.parse((await rawGet(port, "/_console/stats")).body);
    assertStrictEquals(stats.sessionsOpen, 1);
    assertStrictEquals(stats.bytesToBackend, 5);
    assertStrictEquals(stats.bytesToBrowser, 5);
    await client.sendClose(1000);
    await client.nextClose();
  } finally {
    await client.close();
  }
});

Deno.test({
  // Regression: two listen() calls in the same turn both pass the
  // "already listening" check (it runs before an await), open two
  // listeners, and close() then waits forever for the first accept loop.
  name: "Gateway.listen called twice at once rejects the second call",
  async fn() {
    const gateway: Gateway = createGateway({ port: 0 });
    const results = await Promise.allSettled([
      gateway.listen(),
      gateway.listen(),
    ]);
    assertEquals(results.map((result) => result.status).sort(), [
      "fulfilled",
      "rejected",
    ]);
    await within(gateway.close(), 5000, "close()");
  },
});

const RELOAD_SECRET = "0123456789abcdef0123456789abcdef-reload";

async function singleUseTicket(): Promise<string> {
  const key = await importTicketKey(RELOAD_SECRET);
  return await signTicket({
    exp: Date.now() / 1000 + 60,
    route: "/",
    jti: crypto.randomUUID(),
  }, key);
}

Deno.test("Gateway.reload keeps open-session counts and used ticket ids, and a full gateway does not burn a ticket", async () => {
  // Regression: every reload built new counts and a new replay cache, so a
  // second session opened past maxSessions and a used ticket worked again;
  // and the ticket id was spent before the capacity check, so a 503 burned it.
  await using backend = startEchoBackend();
  const options = {
    port: 0,
    maxSessions: 1,
    ticketSecret: RELOAD_SECRET,
    routes: [{
      path: "/",
      target: backend.target,
      requireTicket: true,
      singleUseTickets: true,
    }],
  };
  await using gateway = createGateway(options);
  const { port } = await gateway.listen();
  const used = await singleUseTicket();
  const { client, response } = await RawWsClient.connect(
    port,
    `/?ticket=${used}`,
  );
  try {
    assertStrictEquals(response.status, 101, response.head);
    const waiting = await singleUseTicket();
    assertStrictEquals(await upgradeStatus(port, `/?ticket=${waiting}`), 503);
    await gateway.reload(options);
    assertStrictEquals(
      await upgradeStatus(port, `/?ticket=${waiting}`),
      503,
      "the open session still counts after the reload",
    );
    await client.sendClose(1000);
    assertStrictEquals((await client.nextClose())?.code, 1000);
    await client.close();
    // The session's slot is given back when its close path ends.
    await waitUntil(
      () => gateway.sessionCount === 0,
      5000,
      () => `${gateway.sessionCount} sessions to end`,
    );
    const status = await upgradeStatus(port, `/?ticket=${waiting}`);
    assertStrictEquals(status, 101, "the ticket refused with 503 still works");
    assertStrictEquals(
      await upgradeStatus(port, `/?ticket=${used}`),
      401,
      "a ticket used before the reload stays used",
    );
  } finally {
    await client.close();
  }
});
