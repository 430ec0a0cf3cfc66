import { assertEquals } from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { RedisTokens } from "../../src/store/redis_tokens.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";

/** Runs Debian's redis-cli, as an operator writes tokens. */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("RedisTokens finds a token written with redis-cli at once, and refuses it after DEL", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const tokens = new RedisTokens(client, { tokenPrefix: "vnc:" });
  assertEquals(await tokens.lookup("vm1"), { kind: "unknown" });
  await redisCli(server.port, "SET", "vnc:vm1", '{"host": "10.0.0.5:5901"}');
  assertEquals(await tokens.lookup("vm1"), {
    kind: "target",
    target: { transport: "tcp", hostname: "10.0.0.5", port: 5901 },
  });
  await redisCli(server.port, "DEL", "vnc:vm1");
  assertEquals(await tokens.lookup("vm1"), { kind: "unknown" });
});

Deno.test("RedisTokens refuses garbage values with a reason", async (t) => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const tokens = new RedisTokens(client);
  const cases: [string, string][] = [
    ["{oops", "bad_json"],
    ["10.0.0.5", "no_port"],
    ["10.0.0.5:70000", "bad_port"],
    ["x".repeat(5000), "too_large"],
  ];
  for (const [value, reason] of cases) {
    await t.step(reason, async () => {
      await client.send(["SET", `t-${reason}`, value]);
      const lookup = await tokens.lookup(`t-${reason}`);
      assertEquals(lookup.kind, "malformed");
      if (lookup.kind === "malformed") assertEquals(lookup.reason, reason);
    });
  }
  await client.send(["RPUSH", "t-list", "a"]);
  const wrongType = await tokens.lookup("t-list").catch((e) => e);
  assertEquals((wrongType as Error).name, "StoreReplyError");
});

Deno.test("RedisTokens with cacheTtlMs reuses a lookup until it expires", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  let nowMs = 0;
  const tokens = new RedisTokens(client, { cacheTtlMs: 100, now: () => nowMs });
  await client.send(["SET", "a", "h:1"]);
  assertEquals((await tokens.lookup("a")).kind, "target");
  await client.send(["DEL", "a"]);
  assertEquals((await tokens.lookup("a")).kind, "target", "cached");
  nowMs = 100;
  assertEquals((await tokens.lookup("a")).kind, "unknown");
});
