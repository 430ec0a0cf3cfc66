import { assert, assertEquals } from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { RouteTokens } from "../../src/server/route_tokens.ts";
import {
  type GatewayOptions,
  resolveOptions,
} from "../../src/config/config.ts";
import { StoreClientPool } from "../../src/store/store_client_pool.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";
import type { TokenResolution } from "../../src/routing/token_resolver.ts";
import { encodeBase64Url } from "../../src/security/base64url.ts";
import { signJwt } from "../_util/jwt.ts";

/** A request head with this query and Host header. */
function head(query: string, host = "127.0.0.1:6080") {
  return {
    query: new URLSearchParams(query),
    headers: new Map([["host", host]]),
  };
}

/** `status detail` of a refusal, or `host:port` of the target. */
function summary(resolution: TokenResolution): string {
  if (resolution.kind === "refuse") {
    return `${resolution.status} ${resolution.detail}`;
  }
  const { target } = resolution;
  return target.transport === "tcp"
    ? `${target.hostname}:${target.port}`
    : `unix:${target.path}`;
}

/** RouteTokens for `options`, initialised; closes its pool on dispose. */
async function routeTokens(options: GatewayOptions) {
  const config = resolveOptions(options);
  const pool = new StoreClientPool();
  const tokens = new RouteTokens(config, pool);
  const problems = await tokens.init();
  return {
    problems,
    resolve: async (path: string, request: ReturnType<typeof head>) =>
      summary(await tokens.resolve(config.routes.get(path)!, request)),
    [Symbol.asyncDispose]: () => pool.close(),
  };
}

Deno.test("RouteTokens resolves a token file route and refuses unknown or missing tokens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tokens`, "vm1: 10.0.0.5:5901\n");
    await using tokens = await routeTokens({
      routes: [{ path: "/", tokens: `${dir}/tokens` }],
    });
    assertEquals(tokens.problems, []);
    assertEquals(await tokens.resolve("/", head("token=vm1")), "10.0.0.5:5901");
    assertEquals(
      await tokens.resolve("/", head("token=vm2")),
      '404 unknown token "vm2"',
    );
    assertEquals(
      await tokens.resolve("/", head("")),
      '404 unknown token "": no ?token=',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RouteTokens reads tokens: redis under tokenPrefix in the gateway's store", async () => {
  await using server = await startRedisServer({ password: "pw" });
  await using tokens = await routeTokens({
    store: server.url,
    routes: [
      { path: "/vnc", tokens: "redis", tokenPrefix: "vnc:" },
      { path: "/host", tokens: "redis", hostToken: true },
    ],
  });
  assertEquals(tokens.problems, []);
  await using writer = new RedisClient(parseStoreUrl(server.url));
  await writer.send(["SET", "vnc:vm1", '{"host": "10.0.0.5:5901"}']);
  await writer.send(["SET", "vm1", "10.0.0.9:5909"]);
  assertEquals(
    await tokens.resolve("/vnc", head("token=vm1")),
    "10.0.0.5:5901",
  );
  assertEquals(
    await tokens.resolve("/host", head("token=vnc:vm1", "vm1:6080")),
    "10.0.0.9:5909",
    "the Host header without its port is the token",
  );
  assertEquals(
    await tokens.resolve("/vnc", head("token=vm2")),
    '404 unknown token "vm2": no such key in the store',
  );
});

Deno.test("RouteTokens refuses 503 store_unavailable on a redis route whose store is down", async () => {
  const server = await startRedisServer();
  const url = server.url;
  await server.stop();
  await using tokens = await routeTokens({
    store: url,
    storeTimeoutMs: 300,
    routes: [{ path: "/", tokens: "redis" }],
  });
  assertEquals(tokens.problems, []);
  const found = await tokens.resolve("/", head("token=vm1"));
  assert(found.startsWith("503 store_unavailable: token lookup: "), found);
});

Deno.test("RouteTokens verifies JWTs with the tokenApi key file and refuses a PEM key at init", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    await Deno.writeTextFile(`${dir}/key`, `${encodeBase64Url(secret)}\n`);
    await Deno.writeTextFile(
      `${dir}/key.pem`,
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    await using tokens = await routeTokens({
      routes: [{ path: "/", tokenApi: { jwtKeyFile: `${dir}/key` } }],
    });
    assertEquals(tokens.problems, []);
    const nowSec = Math.floor(Date.now() / 1000);
    const good = await signJwt(
      { host: "10.0.0.5", port: 5901, exp: nowSec + 60 },
      secret,
    );
    assertEquals(
      await tokens.resolve("/", head(`token=${good}`)),
      "10.0.0.5:5901",
    );
    const expired = await signJwt(
      { host: "10.0.0.5", port: 5901, exp: nowSec - 60 },
      secret,
    );
    const refused = await tokens.resolve("/", head(`token=${expired}`));
    assert(refused.startsWith("404 ") && refused.endsWith("JWT expired (exp)"));
    await using pem = await routeTokens({
      routes: [{ path: "/", tokenApi: { jwtKeyFile: `${dir}/key.pem` } }],
    });
    assertEquals(pem.problems.length, 1);
    assert(pem.problems[0]!.includes("only HS256"), pem.problems[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RouteTokens asks the tokenApi JSON URL for a token's target", async () => {
  await using api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/t/vm1"
        ? Response.json({ host: "10.0.0.5", port: 5901 })
        : new Response("no", { status: 404 }),
  );
  await using tokens = await routeTokens({
    routes: [{
      path: "/",
      tokenApi: { jsonUrl: `http://127.0.0.1:${api.addr.port}/t/%s` },
    }],
  });
  assertEquals(await tokens.resolve("/", head("token=vm1")), "10.0.0.5:5901");
  assertEquals(
    await tokens.resolve("/", head("token=vm2")),
    '404 unknown token "vm2": JSONTokenApi answered 404',
  );
});

Deno.test("RouteTokens.init names the route of a missing token file", async () => {
  await using tokens = await routeTokens({
    routes: [{ path: "/vnc", tokens: "/nonexistent/wsgate-tokens" }],
  });
  assertEquals(tokens.problems.length, 1);
  assert(tokens.problems[0]!.startsWith("route /vnc: tokens: "));
});
