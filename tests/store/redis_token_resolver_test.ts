import { assert, assertEquals, within } from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { RedisTokenResolver } from "../../src/store/redis_token_resolver.ts";
import { STORE_UNAVAILABLE_BODY } from "../../src/store/store_errors.ts";
import { RedisTokens } from "../../src/store/redis_tokens.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";
import type { TokenResolution } from "../../src/routing/token_resolver.ts";

/** `status detail` of a refusal, or `target host:port`. */
function summary(resolution: TokenResolution): string {
  if (resolution.kind === "refuse") {
    return `${resolution.status} ${resolution.detail}`;
  }
  const { target } = resolution;
  return target.transport === "tcp"
    ? `target ${target.hostname}:${target.port}`
    : `target unix:${target.path}`;
}

Deno.test("RedisTokenResolver answers the stored target, and 404 for a missing key", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const resolver = new RedisTokenResolver(
    new RedisTokens(client, { tokenPrefix: "vnc:" }),
  );
  await client.send(["SET", "vnc:vm1", '{"host":"10.0.0.5","port":5901}']);
  assertEquals(summary(await resolver.resolve("vm1")), "target 10.0.0.5:5901");
  assertEquals(
    summary(await resolver.resolve("vm2")),
    '404 unknown token "vm2": no such key in the store',
  );
});

Deno.test("RedisTokenResolver refuses malformed values and non-strings with 404 naming the reason", async (t) => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const resolver = new RedisTokenResolver(new RedisTokens(client));
  const cases: [string, string][] = [
    ["{oops", "bad_json"],
    ['{"port": 5901}', "bad_json"],
    ["10.0.0.5", "no_port"],
    ["10.0.0.5:0", "bad_port"],
    ['{"host":"10.0.0.5","port":65536}', "bad_port"],
    ["::1:5900", "bad_host"],
    ["x".repeat(100_000), "too_large"],
  ];
  for (const [value, reason] of cases) {
    await t.step(`${reason}: ${value.slice(0, 32)}`, async () => {
      await client.send(["SET", "t", value]);
      const found = summary(await resolver.resolve("t"));
      assert(found.startsWith(`404 unknown token "t": ${reason}: `), found);
    });
  }
  await t.step("a list", async () => {
    await client.send(["DEL", "t"]);
    await client.send(["RPUSH", "t", "10.0.0.5:5901"]);
    assertEquals(
      summary(await resolver.resolve("t")),
      '404 unknown token "t": its key in the store holds no string',
    );
  });
});

Deno.test("RedisTokenResolver refuses 503 store_unavailable when the store is down", async () => {
  const server = await startRedisServer();
  const url = server.url;
  await server.stop();
  await using client = new RedisClient(parseStoreUrl(url));
  const resolution = await new RedisTokenResolver(new RedisTokens(client))
    .resolve("vm1");
  assert(resolution.kind === "refuse", summary(resolution));
  assertEquals(resolution.status, 503);
  assertEquals(resolution.body, STORE_UNAVAILABLE_BODY);
  assertEquals(resolution.headers, { "retry-after": "1" });
  assert(
    resolution.detail.startsWith("store_unavailable: token lookup: "),
    resolution.detail,
  );
});

Deno.test("RedisTokenResolver refuses 503 within timeoutMs when the store accepts but never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const { port } = listener.addr as Deno.NetAddr;
    // The client's own deadlines are far later: the resolver's bound acts.
    await using client = new RedisClient(
      parseStoreUrl(`redis://127.0.0.1:${port}`),
      { connectTimeoutMs: 60_000, commandTimeoutMs: 60_000 },
    );
    const resolver = new RedisTokenResolver(new RedisTokens(client), {
      timeoutMs: 200,
    });
    const started = Date.now();
    const resolution = await within(
      resolver.resolve("vm1"),
      5000,
      "the token lookup deadline",
    );
    const elapsedMs = Date.now() - started;
    assert(resolution.kind === "refuse", summary(resolution));
    assertEquals(resolution.status, 503);
    assert(
      resolution.detail.includes("no answer within 200 ms"),
      resolution.detail,
    );
    assert(elapsedMs >= 150 && elapsedMs < 3000, `elapsed ${elapsedMs} ms`);
    await client.close();
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});
