import {
  assertEquals,
  assertModule,
  assertRejects,
  assertStrictEquals,
} from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { StoreClientPool } from "../../src/store/store_client_pool.ts";
import { StoreUnavailableError } from "../../src/store/store_errors.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";

Deno.test("StoreClientPool gives one client per store and password, and its clients reach the store", async () => {
  await using server = await startRedisServer({ password: "pw" });
  await using pool = new StoreClientPool();
  const address = parseStoreUrl(server.url);
  const first = pool.client({ address });
  assertStrictEquals(pool.client({ address }), first);
  assertModule.notStrictEqual(pool.client({ address, timeoutMs: 500 }), first);
  const other = parseStoreUrl(`redis://127.0.0.1:${server.port}/1`);
  const byPassword = pool.client({ address: other, password: "pw" });
  assertModule.notStrictEqual(byPassword, first);
  assertEquals(await first.send(["PING"]), "PONG");
  await byPassword.send(["SET", "k", "db1"]);
  assertEquals(await first.send(["GET", "k"]), null, "db 0 differs from db 1");
});

Deno.test("StoreClientPool.close fails the commands of its clients, also of one asked for later", async () => {
  await using server = await startRedisServer();
  const pool = new StoreClientPool();
  const address = parseStoreUrl(server.url);
  const client = pool.client({ address });
  assertEquals(await client.send(["PING"]), "PONG");
  await pool.close();
  await pool.close();
  await assertRejects(() => client.send(["PING"]), StoreUnavailableError);
  const late = pool.client({ address, timeoutMs: 300 });
  await assertRejects(() => late.send(["PING"]), StoreUnavailableError);
});
