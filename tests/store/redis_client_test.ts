import {
  assert,
  assertEquals,
  assertRejects,
  within,
} from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { TestPki } from "../_util/certificates.ts";
import { RedisClient, StoreScript } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";
import {
  StoreReplyError,
  StoreUnavailableError,
} from "../../src/store/store_errors.ts";

Deno.test("RedisClient pipelines many commands and matches replies in order", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const sends = [];
  for (let i = 0; i < 500; i++) sends.push(client.send(["ECHO", `m${i}`]));
  const replies = await Promise.all(sends);
  assertEquals(replies, Array.from({ length: 500 }, (_, i) => `m${i}`));
  const batch = await client.pipeline([
    ["SET", "k", "v"],
    ["INCR", "k"],
    ["GET", "k"],
  ]);
  assertEquals(batch[0], "OK");
  assert(batch[1] instanceof StoreReplyError);
  assertEquals(batch[2], "v");
});

Deno.test("RedisClient surfaces error replies as StoreReplyError with the prefix", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const error = await client.send(["NOSUCHCOMMAND"]).catch((e) => e);
  assert(error instanceof StoreReplyError);
  assertEquals(error.prefix, "ERR");
  assertEquals(await client.send(["PING"]), "PONG", "the connection goes on");
});

Deno.test("RedisClient authenticates with a password and selects the database", async () => {
  await using server = await startRedisServer({
    password: "pw1",
    isUnixSocket: true,
  });
  await using client = new RedisClient(
    parseStoreUrl(`redis://:pw1@127.0.0.1:${server.port}/3`),
  );
  await client.send(["SET", "in3", "x"]);
  await using other = new RedisClient(
    parseStoreUrl(`unix://${server.socketPath}?db=3`),
    { password: "pw1" },
  );
  assertEquals(await other.send(["GET", "in3"]), "x");
  await using db0 = new RedisClient(parseStoreUrl(server.url));
  assertEquals(await db0.send(["GET", "in3"]), null);
  await using user = new RedisClient(
    parseStoreUrl(`redis://default:pw1@127.0.0.1:${server.port}`),
  );
  assertEquals(await user.send(["PING"]), "PONG");
  await using wrong = new RedisClient(
    parseStoreUrl(`redis://:nope@127.0.0.1:${server.port}`),
  );
  const error = await wrong.send(["PING"]).catch((e) => e);
  assert(error instanceof StoreReplyError);
  assertEquals(error.prefix, "WRONGPASS");
  await using none = new RedisClient(
    parseStoreUrl(`redis://127.0.0.1:${server.port}`),
  );
  const noAuth = await none.send(["GET", "k"]).catch((e) => e);
  assert(noAuth instanceof StoreReplyError);
  assertEquals(noAuth.prefix, "NOAUTH");
});

Deno.test("RedisClient fails a command with StoreUnavailableError when the server never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const { port } = listener.addr as Deno.NetAddr;
    await using client = new RedisClient(
      parseStoreUrl(`redis://127.0.0.1:${port}`),
      { commandTimeoutMs: 200 },
    );
    const started = Date.now();
    const error = await within(
      client.send(["PING"]).catch((e) => e),
      5000,
      "the command deadline",
    );
    const elapsed = Date.now() - started;
    assert(error instanceof StoreUnavailableError, String(error));
    assert(elapsed >= 150 && elapsed < 3000, `elapsed ${elapsed} ms`);
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

Deno.test("RedisClient fails fast when nothing listens and reconnects after the server restarts", async () => {
  const server = await startRedisServer();
  const port = server.port;
  await using client = new RedisClient(parseStoreUrl(server.url), {
    minBackoffMs: 10,
    maxBackoffMs: 50,
  });
  try {
    await client.send(["SET", "a", "1"]);
    await server.stop();
    await assertRejects(client.send(["GET", "a"]), StoreUnavailableError);
    await assertRejects(client.send(["GET", "a"]), StoreUnavailableError);
  } finally {
    await server.stop();
  }
  await using again = await startRedisServer({ port });
  // Bounded: the backoff is at most 50 ms, so a few attempts reach the server.
  let reply: unknown = undefined;
  const deadline = Date.now() + 5000;
  for (let attempt = 0; attempt < 10_000 && Date.now() < deadline; attempt++) {
    try {
      reply = await client.send(["PING"]);
      break;
    } catch (error) {
      assert(error instanceof StoreUnavailableError);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  assertEquals(reply, "PONG");
  assertEquals(await client.send(["GET", "a"]), null, "no persistence");
  await again.stop();
});

Deno.test("RedisClient.evalScript falls back to EVAL when the script is not cached", async () => {
  await using server = await startRedisServer();
  await using client = new RedisClient(parseStoreUrl(server.url));
  const script = await StoreScript.create("return ARGV[1] .. KEYS[1]");
  assertEquals(await client.evalScript(script, ["k"], { args: ["a"] }), "ak");
  assertEquals(await client.send(["SCRIPT", "EXISTS", script.sha1]), [1]);
  await client.send(["SCRIPT", "FLUSH"]);
  assertEquals(await client.evalScript(script, ["k"], { args: ["b"] }), "bk");
});

Deno.test("RedisClient speaks TLS to a rediss:// URL and refuses an untrusted certificate", async () => {
  await using pki = await TestPki.create();
  const ca = await pki.createCa("wsgate test redis ca");
  const leaf = await pki.issue(ca);
  await using server = await startRedisServer({
    tls: {
      certFile: leaf.certFile,
      keyFile: leaf.keyFile,
      caFile: ca.certFile,
    },
  });
  assertEquals(server.url.startsWith("rediss://"), true);
  await using client = new RedisClient(parseStoreUrl(server.url), {
    caCerts: [ca.certPem],
  });
  assertEquals(await client.send(["PING"]), "PONG");
  await using untrusting = new RedisClient(parseStoreUrl(server.url));
  await assertRejects(untrusting.send(["PING"]), StoreUnavailableError);
});
