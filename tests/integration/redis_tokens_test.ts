/**
 * `"tokens": "redis"` end to end: gateways sharing one real redis-server,
 * tokens written and deleted with Debian's redis-cli as an operator does.
 */

import { assert, assertEquals } from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { type GatewayFixture, startGateway } from "../_util/gateway_fixture.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { echoedUpgradeStatus as upgradeStatus } from "../_util/raw_session.ts";

type Refused = Extract<GatewayEvent, { type: "handshake_refused" }>;

/** Runs Debian's redis-cli against the test's server. */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdin: "null",
    stderr: "null",
  }).output();
  assert(output.success, `redis-cli ${args.join(" ")} failed`);
  return new TextDecoder().decode(output.stdout).trim();
}

/** `redis-cli -x SET key` with the value on stdin (too long for argv). */
async function redisCliSet(
  port: number,
  key: string,
  value: string,
): Promise<void> {
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(port), "-x", "SET", key],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(value));
  await writer.close();
  assert((await child.status).success, `redis-cli -x SET ${key} failed`);
}

/** The body of a plain GET of `path`. */
async function httpGet(port: number, path: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return await response.text();
}

/** The `handshake_refused` events of `gateway` seen so far. */
function refusals(gateway: GatewayFixture): Refused[] {
  return gateway.events.filter((event): event is Refused =>
    event.type === "handshake_refused"
  );
}

Deno.test("a token written with redis-cli SET opens at once at two gateways and is refused at both after DEL", async () => {
  await using redis = await startRedisServer();
  await using backend = startEchoBackend();
  const options = {
    store: redis.url,
    routes: [{ path: "/vnc", tokens: "redis", tokenPrefix: "vnc:" }],
  };
  await using a = await startGateway(options);
  await using b = await startGateway(options);
  assertEquals(await upgradeStatus(a.port, "/vnc?token=vm1"), 404);
  await redisCli(redis.port, "SET", "vnc:vm1", backend.target);
  assertEquals(await upgradeStatus(a.port, "/vnc?token=vm1"), 101);
  assertEquals(await upgradeStatus(b.port, "/vnc?token=vm1"), 101);
  await redisCli(
    redis.port,
    "SET",
    "vnc:vm2",
    JSON.stringify({ host: "127.0.0.1", port: backend.port }),
  );
  await redisCli(
    redis.port,
    "SET",
    "vnc:vm3",
    JSON.stringify({ host: backend.target }),
  );
  assertEquals(await upgradeStatus(b.port, "/vnc?token=vm2"), 101);
  assertEquals(await upgradeStatus(a.port, "/vnc?token=vm3"), 101);
  assertEquals(backend.accepted, 4);
  await redisCli(redis.port, "DEL", "vnc:vm1");
  assertEquals(await upgradeStatus(a.port, "/vnc?token=vm1"), 404);
  assertEquals(await upgradeStatus(b.port, "/vnc?token=vm1"), 404);
  assertEquals(backend.accepted, 4);
  const last = refusals(b).at(-1)!;
  assertEquals(last.reason, "Unknown token");
  assertEquals(last.detail, 'unknown token "vm1": no such key in the store');
});

Deno.test("garbage token values in Redis get 404 with the reason in the log and the gateway goes on", async (t) => {
  await using redis = await startRedisServer();
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    store: redis.url,
    routes: [{ path: "/", tokens: "redis" }],
  });
  const cases: [string, string][] = [
    ["{not json", "bad_json"],
    ["127.0.0.1", "no_port"],
    ["127.0.0.1:70000", "bad_port"],
    ['{"host":"127.0.0.1","port":0}', "bad_port"],
    ["x".repeat(1_000_000), "too_large"],
  ];
  for (const [value, reason] of cases) {
    await t.step(reason, async () => {
      await redisCliSet(redis.port, "bad", value);
      assertEquals(await upgradeStatus(gateway.port, "/?token=bad"), 404);
      const detail = refusals(gateway).at(-1)!.detail;
      assert(detail.startsWith(`unknown token "bad": ${reason}: `), detail);
      assert(detail.length < 400, `log detail of ${detail.length} chars`);
    });
  }
  await t.step("a list instead of a string", async () => {
    await redisCli(redis.port, "DEL", "bad");
    await redisCli(redis.port, "RPUSH", "bad", backend.target);
    assertEquals(await upgradeStatus(gateway.port, "/?token=bad"), 404);
  });
  await redisCli(redis.port, "SET", "good", backend.target);
  assertEquals(await upgradeStatus(gateway.port, "/?token=good"), 101);
  assertEquals(backend.accepted, 1);
});

Deno.test("a route's dynamic allow-list also bounds the targets of tokens in Redis", async () => {
  await using redis = await startRedisServer();
  await using allowed = startEchoBackend();
  await using decoy = startEchoBackend();
  await using gateway = await startGateway({
    store: redis.url,
    routes: [{
      path: "/",
      tokens: "redis",
      dynamic: { cidrs: ["127.0.0.1/32"], ports: [allowed.port] },
    }],
  });
  await redisCli(redis.port, "SET", "ok", allowed.target);
  await redisCli(redis.port, "SET", "port", decoy.target);
  await redisCli(redis.port, "SET", "addr", `127.0.0.2:${allowed.port}`);
  assertEquals(await upgradeStatus(gateway.port, "/?token=ok"), 101);
  assertEquals(await upgradeStatus(gateway.port, "/?token=port"), 403);
  assertEquals(await upgradeStatus(gateway.port, "/?token=addr"), 403);
  assertEquals([allowed.accepted, decoy.accepted], [1, 0]);
});

Deno.test("tokenCacheTtl keeps serving a looked-up token for its time after DEL", async () => {
  await using redis = await startRedisServer();
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    store: redis.url,
    routes: [{ path: "/", tokens: "redis", tokenCacheTtlMs: 60_000 }],
  });
  await redisCli(redis.port, "SET", "vm1", backend.target);
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm1"), 101);
  await redisCli(redis.port, "DEL", "vm1");
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm1"), 101);
});

Deno.test("a token route answers 503 store_unavailable within storeTimeout when Redis is down, and works once it is back", async () => {
  const redis = await startRedisServer();
  const port = redis.port;
  await using backend = startEchoBackend();
  await using gateway = await startGateway({
    store: redis.url,
    storeTimeoutMs: 500,
    routes: [
      { path: "/vnc", tokens: "redis" },
      { path: "/fixed", target: backend.target },
    ],
  });
  await redisCli(port, "SET", "vm1", backend.target);
  assertEquals(await upgradeStatus(gateway.port, "/vnc?token=vm1"), 101);
  await redis.stop();
  const started = Date.now();
  assertEquals(await upgradeStatus(gateway.port, "/vnc?token=vm1"), 503);
  const elapsedMs = Date.now() - started;
  assert(elapsedMs < 3000, `503 after ${elapsedMs} ms`);
  const refused = refusals(gateway).at(-1)!;
  assertEquals(refused.status, 503);
  assert(refused.detail.startsWith("store_unavailable: "), refused.detail);
  const metrics = await httpGet(gateway.port, "/metrics");
  assert(
    /wsgate_handshake_refusals_total\{reason="Store unavailable",status="503"\} 1\b/
      .test(metrics),
    metrics,
  );
  assertEquals(
    await upgradeStatus(gateway.port, "/fixed"),
    101,
    "a route that needs no store keeps working",
  );
  await using again = await startRedisServer({ port });
  await redisCli(again.port, "SET", "vm1", backend.target);
  // The client reconnects after a backoff of at most 2 s, which has no
  // event to wait for: poll, bounded in count and time.
  const deadline = Date.now() + 10_000;
  let status = 0;
  for (let i = 0; i < 100 && status !== 101 && Date.now() < deadline; i++) {
    status = await upgradeStatus(gateway.port, "/vnc?token=vm1");
    if (status !== 101) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assertEquals(status, 101);
});

Deno.test("a reload changes tokenPrefix for new handshakes and keeps reaching the same Redis", async () => {
  await using redis = await startRedisServer();
  await using backend = startEchoBackend();
  const options = (tokenPrefix: string) => ({
    store: redis.url,
    routes: [{ path: "/", tokens: "redis", tokenPrefix }],
  });
  await using gateway = await startGateway(options("old:"));
  await redisCli(redis.port, "SET", "old:vm1", backend.target);
  await redisCli(redis.port, "SET", "new:vm2", backend.target);
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm1"), 101);
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm2"), 404);
  await gateway.gateway.reload({
    ...options("new:"),
    hostname: "127.0.0.1",
    port: 0,
  });
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm1"), 404);
  assertEquals(await upgradeStatus(gateway.port, "/?token=vm2"), 101);
  assertEquals(backend.accepted, 2);
});
