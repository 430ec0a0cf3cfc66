/**
 * wsgate behind Debian's HAProxy with the README's configuration
 * (tests/_util/haproxy.ts renders both): two wsgate processes sharing one
 * redis-server (`--store`) keep single-use tickets and the per-IP cap
 * fleet-wide through the balancer.
 *
 * @module
 */

import { assert, assertEquals } from "../_util/assert.ts";
import {
  mintTicket,
  startFleetGateway,
  upgradeAt,
  type UpgradeResult,
  writeFleetConfig,
} from "../_util/fleet.ts";
import { haproxyConfig, startHaproxy } from "../_util/haproxy.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";

const README_URL = new URL("../../README.md", import.meta.url);
/** The instances the README's example names (text only, never contacted). */
const README_SERVERS = ["10.0.0.11:8080", "10.0.0.12:8080"];

Deno.test("README shows the HAProxy configuration this test runs", async () => {
  const readme = await Deno.readTextFile(README_URL);
  const tested = haproxyConfig({ bind: ":80", servers: README_SERVERS });
  assert(
    readme.includes(tested.trimEnd()),
    `the README's HAProxy block must equal haproxyConfig() for ${
      README_SERVERS.join(", ")
    }:\n${tested}`,
  );
});

Deno.test("HAProxy in front of two wsgate instances sharing Redis: one single-use ticket opens one session in 30 attempts, and the per-IP cap holds across both", async () => {
  await using redis = await startRedisServer();
  await using backend = startU32beBackend();
  await using config = await writeFleetConfig({
    target: backend.target,
    store: redis.url,
    maxSessionsPerIp: 2,
    trustProxy: ["127.0.0.1/32"],
  });
  const a = await startFleetGateway(config);
  await using _a = a.process;
  const b = await startFleetGateway(config);
  await using _b = b.process;
  await using haproxy = await startHaproxy([
    `127.0.0.1:${a.port}`,
    `127.0.0.1:${b.port}`,
  ]);

  const ticket = await mintTicket();
  const attempts = await Promise.all(
    Array.from(
      { length: 30 },
      () => upgradeAt(haproxy.port, `/t?ticket=${ticket}`),
    ),
  );
  const statuses = attempts.map((attempt) => attempt.status).sort();
  await Promise.all(attempts.map((attempt) => attempt[Symbol.asyncDispose]()));
  assertEquals(statuses.filter((status) => status === 101).length, 1);
  assertEquals(statuses.filter((status) => status === 401).length, 29);

  // The ticket session has closed: two slots are free again, spread over
  // both instances by round robin; the third is over the cap.
  const sessions: UpgradeResult[] = [];
  try {
    for (let i = 0; i < 20 && sessions.length < 2; i++) {
      const attempt = await upgradeAt(haproxy.port, "/");
      if (attempt.status === 101) sessions.push(attempt);
      else await attempt[Symbol.asyncDispose]();
    }
    assertEquals(sessions.length, 2);
    for (let i = 0; i < 2; i++) {
      await using over = await upgradeAt(haproxy.port, "/");
      assertEquals(over.status, 429, over.head);
    }
  } finally {
    await Promise.all(
      sessions.map((session) => session[Symbol.asyncDispose]()),
    );
  }
});
