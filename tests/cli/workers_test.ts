import {
  assert,
  assertRejects,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { startWorkers } from "../../src/cli/workers.ts";
import { ConfigError } from "../../src/errors.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";

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
