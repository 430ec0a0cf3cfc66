/**
 * A fleet as an operator runs it: wsgate child processes started by the CLI,
 * sharing one Debian `redis-server` (`--store`), or one process with
 * `--workers 2` and no store. Single-use tickets, per-IP caps and a store
 * outage are checked with real sockets end to end.
 *
 * @module
 */

import { assert, assertEquals } from "../_util/assert.ts";
import { assertSequence, checkedMessage } from "../_util/checked_messages.ts";
import {
  httpGet,
  mintTicket,
  retryUntil,
  startFleetGateway,
  upgradeAt,
  type UpgradeResult,
  writeFleetConfig,
} from "../_util/fleet.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { messagesOf } from "../_util/raw_ws_client.ts";

/** Attempts with one ticket, all at once, spread over `ports`. */
async function concurrentAttempts(
  ports: number[],
  ticket: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<UpgradeResult[]> {
  return await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        upgradeAt(ports[i % ports.length]!, `/t?ticket=${ticket}`, headers),
    ),
  );
}

function statusCounts(results: UpgradeResult[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of results) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

async function closeAll(results: UpgradeResult[]): Promise<void> {
  await Promise.all(results.map((result) => result[Symbol.asyncDispose]()));
}

Deno.test("two gateways sharing Redis: a ticket used at A is refused at B, and 30 concurrent attempts with one ticket over A and B open exactly one session", async () => {
  await using redis = await startRedisServer();
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    store: redis.url,
  });
  const a = await startFleetGateway(config);
  await using _a = a.process;
  const b = await startFleetGateway(config);
  await using _b = b.process;

  const ticket = await mintTicket();
  {
    await using first = await upgradeAt(a.port, `/t?ticket=${ticket}`);
    assertEquals(first.status, 101, first.head);
    await using replayed = await upgradeAt(b.port, `/t?ticket=${ticket}`);
    assertEquals(replayed.status, 401, replayed.head);
  }

  const shared = await mintTicket();
  const results = await concurrentAttempts([a.port, b.port], shared, 30);
  try {
    assertEquals(statusCounts(results), { 101: 1, 401: 29 });
  } finally {
    await closeAll(results);
  }
  assertEquals(backend.connections.length, 2);
});

Deno.test("per-IP cap 2 holds across two gateways sharing Redis; a slot frees when a session ends, and within the lease when an instance is killed with SIGKILL", async () => {
  await using redis = await startRedisServer();
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    store: redis.url,
    maxSessionsPerIp: 2,
    storeLease: "2s",
  });
  const a = await startFleetGateway(config);
  await using _a = a.process;
  const b = await startFleetGateway(config);
  await using _b = b.process;

  await using atA = await upgradeAt(a.port, "/");
  assertEquals(atA.status, 101, atA.head);
  const atB = await upgradeAt(b.port, "/");
  await using _atB = atB;
  assertEquals(atB.status, 101, atB.head);
  for (const port of [a.port, b.port]) {
    await using third = await upgradeAt(port, "/");
    assertEquals(third.status, 429, third.head);
  }

  // A session that ends frees its slot at once.
  await atA.client.sendClose(1000);
  await atA.client.waitForEof();
  const again = await retryUntil(
    async () => {
      const attempt = await upgradeAt(b.port, "/");
      if (attempt.status === 101) return attempt;
      await attempt[Symbol.asyncDispose]();
    },
    5000,
    "a slot freed by a closed session",
  );
  await using _again = again;

  // B dies holding two sessions: they count until their lease runs out.
  const killedAtMs = Date.now();
  await b.process.stop("SIGKILL");
  {
    await using early = await upgradeAt(a.port, "/");
    assertEquals(early.status, 429, "the killed instance's slots still count");
  }
  // Both of its slots expire (each at its own last refresh plus the lease).
  const freed: UpgradeResult[] = [];
  try {
    for (const slot of [1, 2]) {
      freed.push(
        await retryUntil(
          async () => {
            const attempt = await upgradeAt(a.port, "/");
            if (attempt.status === 101) return attempt;
            await attempt[Symbol.asyncDispose]();
          },
          8000,
          `slot ${slot} of the killed instance to expire`,
        ),
      );
    }
    const waitedMs = Date.now() - killedAtMs;
    assert(waitedMs < 2000 + 3000, `freed after ${waitedMs} ms (lease 2 s)`);
    await using capped = await upgradeAt(a.port, "/");
    assertEquals(capped.status, 429, capped.head);
  } finally {
    await closeAll(freed);
  }
});

Deno.test("with Redis stopped, tickets get 503 store_unavailable within the store timeout while a session opened before keeps relaying checksummed data both ways; Redis back, new sessions work and /healthz answers 200 again", async () => {
  const redis = await startRedisServer();
  await using _redis = redis;
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    store: redis.url,
    storeTimeout: "500ms",
  });
  const a = await startFleetGateway(config, ["--log-format", "json"]);
  await using _a = a.process;
  assertEquals((await httpGet(a.port, "/healthz")).status, 200);

  await using open = await upgradeAt(a.port, `/t?ticket=${await mintTicket()}`);
  assertEquals(open.status, 101, open.head);
  const stream = 7;
  let seq = 0;
  async function exchange(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await open.client.send(checkedMessage(stream, seq++, 4096));
    }
  }
  await exchange(10);

  await redis.stop();
  const startedMs = performance.now();
  const refused = await upgradeAt(a.port, `/t?ticket=${await mintTicket()}`);
  const elapsedMs = performance.now() - startedMs;
  assertEquals(refused.status, 503, refused.head);
  assert(elapsedMs < 500 + 400, `answered after ${elapsedMs} ms`);
  await a.process.waitForLine(
    "stderr",
    (line) => line.includes("store_unavailable"),
  );
  const health = await httpGet(a.port, "/healthz");
  assertEquals(health.status, 503);
  assert(health.body.startsWith("store unavailable: "), health.body);
  const metrics = await httpGet(a.port, "/metrics");
  assert(
    /wsgate_handshake_refusals_total\{reason="Store unavailable",status="503"\} [1-9]/
      .test(metrics.body),
    metrics.body,
  );
  // A route that needs nothing from the store still opens sessions.
  {
    await using plain = await upgradeAt(a.port, "/");
    assertEquals(plain.status, 101, plain.head);
  }
  // The session opened before the outage relays on.
  await exchange(10);
  const echoed: Uint8Array[] = [];
  for (let i = 0; i < 1000 && echoed.length < seq; i++) {
    const frame = await open.client.next(5000);
    assert(frame !== undefined, `echo ${echoed.length} missing`);
    echoed.push(...messagesOf([frame]));
  }
  assertSequence(echoed, stream, "to browser");
  assertSequence(backend.connections[0]!.payloads, stream, "to backend");
  assertEquals(backend.connections[0]!.payloads.length, seq);

  await using _restarted = await startRedisServer({ port: redis.port });
  const back = await retryUntil(
    async () => {
      const attempt = await upgradeAt(
        a.port,
        `/t?ticket=${await mintTicket()}`,
      );
      if (attempt.status === 101) return attempt;
      await attempt[Symbol.asyncDispose]();
    },
    10_000,
    "a ticket session once Redis is back",
  );
  await using _back = back;
  assertEquals((await httpGet(a.port, "/healthz")).status, 200);
});

Deno.test("--workers 2 without a store: 30 concurrent attempts with one single-use ticket open exactly one session, and the per-IP cap holds across workers", async () => {
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    workers: 2,
    maxSessionsPerIp: 2,
    // Each part of the test comes from its own client address.
    trustProxy: ["127.0.0.1/32"],
  });
  const gateway = await startFleetGateway(config);
  await using _gateway = gateway.process;

  const results = await concurrentAttempts(
    [gateway.port],
    await mintTicket(),
    30,
    { "X-Forwarded-For": "198.51.100.1" },
  );
  try {
    assertEquals(statusCounts(results), { 101: 1, 401: 29 });
  } finally {
    await closeAll(results);
  }
  // Six sessions at once over both workers: only two are admitted.
  const sessions = await Promise.all(
    Array.from(
      { length: 6 },
      () => upgradeAt(gateway.port, "/", { "X-Forwarded-For": "198.51.100.2" }),
    ),
  );
  try {
    assertEquals(statusCounts(sessions), { 101: 2, 429: 4 });
  } finally {
    await closeAll(sessions);
  }
});

Deno.test("--admin-listen /healthz follows the store: 503 with the reason while Redis is stopped, 200 once it is back (--workers 2, the main thread's store)", async () => {
  const redis = await startRedisServer();
  await using _redis = redis;
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    store: redis.url,
    storeTimeout: "500ms",
    workers: 2,
  });
  const a = await startFleetGateway(config, ["--admin-listen", "127.0.0.1:0"]);
  await using _a = a.process;
  const line = await a.process.waitForLine(
    "stdout",
    (text) => text.includes("(admin: http://"),
  );
  const admin = /\(admin: http:\/\/127\.0\.0\.1:(\d+)\/metrics\)/.exec(line);
  assert(admin !== null, line);
  const adminPort = Number(admin[1]);
  assertEquals((await httpGet(adminPort, "/healthz")).status, 200);
  await redis.stop();
  const down = await httpGet(adminPort, "/healthz");
  assertEquals(down.status, 503, down.body);
  assert(down.body.startsWith("store unavailable: "), down.body);
  await using _restarted = await startRedisServer({ port: redis.port });
  await retryUntil(
    async () =>
      (await httpGet(adminPort, "/healthz")).status === 200 || undefined,
    10_000,
    "/healthz 200 once Redis is back",
  );
});
