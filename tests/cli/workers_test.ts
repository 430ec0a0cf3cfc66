import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { startWorkers } from "../../src/cli/workers.ts";
import { ConfigError } from "../../src/errors.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { upgradeStatus } from "../_util/raw_session.ts";

async function healthz(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  await response.body?.cancel();
  return response.status;
}

Deno.test("startWorkers runs 2 gateways on one port that relay a round trip, and close() stops both", async () => {
  await using backend = startEchoBackend();
  const events: GatewayEvent[] = [];
  const pool = await within(
    startWorkers(
      {
        hostname: "127.0.0.1",
        port: 0,
        routes: [{ path: "/", target: backend.target }],
      },
      2,
      (event) => events.push(event),
    ),
    20000,
    "two workers",
  );
  let isClosed = false;
  try {
    assertStrictEquals(pool.addr.hostname, "127.0.0.1");
    assert(pool.addr.port > 0);
    // Both workers announced the same port.
    const listening = events.filter((event) => event.type === "listening");
    assertStrictEquals(listening.length, 2);
    for (const event of listening) {
      assert(event.type === "listening" && event.port === pool.addr.port);
    }

    const { client, response } = await RawWsClient.connect(pool.addr.port, "/");
    try {
      assertStrictEquals(response.status, 101, response.head);
      await client.send(new TextEncoder().encode("through a worker"));
      const frame = await client.next();
      assert(frame?.kind === "message", JSON.stringify(frame));
      assertStrictEquals(
        new TextDecoder().decode(frame.payload),
        "through a worker",
      );
      await client.sendClose(1000);
      assertStrictEquals((await client.nextClose())?.code, 1000);
    } finally {
      await client.close();
    }

    assertStrictEquals(pool.isDraining(), false);
    assertStrictEquals(typeof pool.renderMetrics(), "string");
    await within(pool.close(), 10000, "pool.close()");
    isClosed = true;
    assertStrictEquals(pool.isDraining(), true);
    await assertRejects(
      () => Deno.connect({ hostname: "127.0.0.1", port: pool.addr.port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    if (!isClosed) await pool.close();
  }
});

Deno.test("startWorkers reload rejects an invalid configuration with ConfigError and keeps serving", async () => {
  const pool = await within(
    startWorkers({ hostname: "127.0.0.1", port: 0 }, 1, () => {}),
    20000,
    "one worker",
  );
  try {
    await assertRejects(
      () => pool.reload({ routes: [{ path: "/", target: "nope" }] }),
      (error: unknown) => {
        assert(error instanceof ConfigError, String(error));
        assertStrictEquals(
          error.problems[0],
          'routes[0].target: Cannot parse target "nope": expected HOST:PORT',
        );
        return true;
      },
    );
    assertStrictEquals(await healthz(pool.addr.port), 200);
    await pool.reload({ routes: [] });
  } finally {
    await pool.close();
  }
});

Deno.test("startWorkers rejects with the worker's ConfigError when the gateway cannot start", async () => {
  await assertRejects(
    () =>
      within(
        startWorkers(
          {
            hostname: "127.0.0.1",
            port: 0,
            routes: [{ path: "/t", tokens: "/nonexistent/wsgate/tokens" }],
          },
          2,
          () => {},
        ),
        20000,
        "start failure",
      ),
    (error: unknown) => {
      assert(error instanceof ConfigError, String(error));
      assert(
        error.problems[0]!.startsWith("route /t: tokens: "),
        error.problems[0],
      );
      return true;
    },
  );
});

/**
 * The statuses of `count` upgrades to `path`, each on a new connection (the
 * kernel spreads them over the workers by the client port).
 */
async function upgradeStatuses(
  port: number,
  path: string,
  count: number,
): Promise<Set<number>> {
  const statuses = new Set<number>();
  for (let i = 0; i < count; i++) {
    statuses.add(await upgradeStatus(port, path));
  }
  return statuses;
}

Deno.test("startWorkers reload that fails in one worker returns the others to the old configuration", async () => {
  await using backend = startEchoBackend();
  const oldRoutes = [{ path: "/old", target: backend.target }];
  const newRoutes = [{ path: "/new", target: backend.target }];
  const pool = await within(
    startWorkers(
      { hostname: "127.0.0.1", port: 0, routes: oldRoutes },
      2,
      () => {},
      { failFirstReloadInForTest: 0 },
    ),
    20000,
    "two workers",
  );
  try {
    await assertRejects(
      () => pool.reload({ routes: newRoutes }),
      (error: unknown) => {
        assert(error instanceof ConfigError, String(error));
        assertStrictEquals(
          error.problems.join("; "),
          "reload failed in this worker (test hook)",
        );
        return true;
      },
    );
    // 32 connections reach both workers but with odds of 2^-31; every one
    // of them must see the old routes.
    const connections = 32;
    assertEquals(
      [...await upgradeStatuses(pool.addr.port, "/new", connections)],
      [404],
    );
    assertEquals(
      [...await upgradeStatuses(pool.addr.port, "/old", connections)],
      [101],
    );
    // The hook fails one reload only: the same options now reach every
    // worker.
    await pool.reload({ routes: newRoutes });
    assertEquals(
      [...await upgradeStatuses(pool.addr.port, "/new", connections)],
      [101],
    );
    assertEquals(
      [...await upgradeStatuses(pool.addr.port, "/old", connections)],
      [404],
    );
  } finally {
    await pool.close();
  }
});
