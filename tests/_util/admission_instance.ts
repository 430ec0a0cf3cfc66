/**
 * A wsgate-like "instance" process for the no-leak test: it admits
 * `count` sessions for `clientKey` through a `RedisAdmission` with the given
 * lease, prints "admitted <members...>" and keeps refreshing until killed.
 * Usage: `deno run -A admission_instance.ts <url> <leaseMs> <clientKey> <count>`.
 *
 * @module
 */

import { RedisAdmission } from "../../src/store/redis_admission.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";

const [url = "", leaseText = "", clientKey = "", countText = ""] = Deno.args;
const leaseMs = Number(leaseText);
const client = new RedisClient(parseStoreUrl(url));
const admission = await RedisAdmission.create(client, {
  leaseMs,
  refreshIntervalMs: Math.floor(leaseMs / 4),
});
const members: string[] = [];
for (let i = 0; i < Number(countText); i++) {
  const result = await admission.admit({ clientKey, perIpLimit: 1_000_000 });
  if (result.kind === "admitted") members.push(result.member);
}
await Deno.stdout.write(
  new TextEncoder().encode(`admitted ${members.join(" ")}\n`),
);
// Runs until killed: the refresh timer keeps the process alive.
