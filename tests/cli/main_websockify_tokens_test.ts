/**
 * websockify's token plugins through `wsgate websockify`, each against its
 * real source: TokenRedis on a redis-server the test starts, JWTTokenApi
 * with a key file and tokens signed here with WebCrypto, JSONTokenApi on a
 * `Deno.serve` API, and `--host-token`.
 */

import { assertEquals } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";
import { encodeBase64Url } from "../../src/security/base64url.ts";
import { signJwt } from "../_util/jwt.ts";
import { echoedUpgradeStatus as upgradeStatus } from "../_util/raw_session.ts";

Deno.test("websockify --token-plugin TokenRedis reads host:port or JSON under namespace: in the source's db, with its password", async () => {
  await using redis = await startRedisServer({ password: "s3cret" });
  await using backend = startEchoBackend();
  await using writer = new RedisClient(
    parseStoreUrl(`redis://:s3cret@127.0.0.1:${redis.port}/2`),
  );
  await using wsgate = spawnWsgate([
    "websockify",
    "--token-plugin",
    "TokenRedis",
    "--token-source",
    `127.0.0.1:${redis.port}:2:s3cret:vnc`,
    "127.0.0.1:0",
  ]);
  const { port } = await wsgate.listening(15000);
  assertEquals(await upgradeStatus(port, "/websockify?token=desk"), 404);
  await writer.send(["SET", "vnc:desk", backend.target]);
  await writer.send([
    "SET",
    "vnc:json",
    JSON.stringify({ host: backend.target }),
  ]);
  await writer.send(["SET", "desk", backend.target]);
  assertEquals(await upgradeStatus(port, "/websockify?token=desk"), 101);
  assertEquals(await upgradeStatus(port, "/?token=json"), 101);
  await writer.send(["DEL", "vnc:desk"]);
  assertEquals(
    await upgradeStatus(port, "/websockify?token=desk"),
    404,
    "the key without the namespace is not read",
  );
  assertEquals(backend.accepted, 2);
});

Deno.test("websockify --token-plugin TokenRedis answers 503 while Redis is down", async () => {
  const redis = await startRedisServer();
  const redisPort = redis.port;
  await redis.stop();
  await using wsgate = spawnWsgate([
    "websockify",
    "--token-plugin",
    "TokenRedis",
    "--token-source",
    `127.0.0.1:${redisPort}`,
    "127.0.0.1:0",
  ]);
  const { port } = await wsgate.listening(15000);
  assertEquals(await upgradeStatus(port, "/?token=desk"), 503);
  await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("store_unavailable"),
    5000,
  );
});

Deno.test("websockify --token-plugin JWTTokenApi opens a signed token's host and port, honouring nbf and exp", async () => {
  await using backend = startEchoBackend();
  const dir = await Deno.makeTempDir({ prefix: "wsgate_jwt_" });
  try {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const keyFile = `${dir}/jwt.key`;
    await Deno.writeTextFile(keyFile, encodeBase64Url(secret));
    await using wsgate = spawnWsgate([
      "websockify",
      "--token-plugin",
      "JWTTokenApi",
      "--token-source",
      keyFile,
      "127.0.0.1:0",
    ]);
    const { port } = await wsgate.listening(15000);
    const nowSec = Math.floor(Date.now() / 1000);
    const target = { host: "127.0.0.1", port: backend.port };
    const cases: [string, Record<string, unknown>, Uint8Array, number][] = [
      ["valid", { ...target, exp: nowSec + 300 }, secret, 101],
      ["port as text", { ...target, port: String(backend.port) }, secret, 101],
      ["expired", { ...target, exp: nowSec - 300 }, secret, 404],
      ["not yet valid", { ...target, nbf: nowSec + 300 }, secret, 404],
      ["another key", target, new Uint8Array(32), 404],
      ["no port", { host: "127.0.0.1" }, secret, 404],
    ];
    for (const [name, claims, key, status] of cases) {
      const token = await signJwt(claims, key);
      assertEquals(
        await upgradeStatus(port, `/websockify?token=${token}`),
        status,
        name,
      );
    }
    assertEquals(backend.accepted, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("websockify --token-plugin JSONTokenApi asks the URL and fails closed with 503 when the API is down", async () => {
  await using backend = startEchoBackend();
  const api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/targets/desk"
        ? Response.json({ host: "127.0.0.1", port: backend.port })
        : new Response("unknown", { status: 404 }),
  );
  try {
    await using wsgate = spawnWsgate([
      "websockify",
      "--token-plugin",
      "JSONTokenApi",
      "--token-source",
      `http://127.0.0.1:${api.addr.port}/targets/%s`,
      "127.0.0.1:0",
    ]);
    const { port } = await wsgate.listening(15000);
    assertEquals(await upgradeStatus(port, "/websockify?token=desk"), 101);
    assertEquals(await upgradeStatus(port, "/websockify?token=other"), 404);
    await api.shutdown();
    assertEquals(await upgradeStatus(port, "/websockify?token=desk"), 503);
    assertEquals(backend.accepted, 1);
  } finally {
    await api.shutdown();
  }
});

Deno.test("websockify --host-token takes the token from the Host header without its port", async () => {
  await using backend = startEchoBackend();
  const dir = await Deno.makeTempDir({ prefix: "wsgate_host_token_" });
  try {
    const tokens = `${dir}/tokens.cfg`;
    await Deno.writeTextFile(tokens, `desk.example: ${backend.target}\n`);
    await using wsgate = spawnWsgate([
      "websockify",
      "--token-plugin",
      "TokenFile",
      "--token-source",
      tokens,
      "--host-token",
      "127.0.0.1:0",
    ]);
    const { port } = await wsgate.listening(15000);
    assertEquals(
      await upgradeStatus(port, "/websockify", {
        Host: `desk.example:${port}`,
      }),
      101,
    );
    assertEquals(
      await upgradeStatus(port, "/websockify?token=desk.example", {
        Host: `other.example:${port}`,
      }),
      404,
      "?token= is not read with --host-token",
    );
    assertEquals(backend.accepted, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
