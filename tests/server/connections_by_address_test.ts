import { assertEquals } from "../_util/assert.ts";
import {
  ConnectionsByAddress,
  type TrackedConnection,
} from "../../src/server/connections_by_address.ts";

function entry(ip: string): TrackedConnection {
  return { conn: {} as Deno.Conn, deadlineMs: 0, client: `${ip}:1`, ip };
}

Deno.test("ConnectionsByAddress counts per address and in total, and a second delete changes nothing", () => {
  const pending = new ConnectionsByAddress();
  const a1 = entry("192.0.2.1");
  const a2 = entry("192.0.2.1");
  const b1 = entry("192.0.2.2");
  pending.add(a1);
  pending.add(a2);
  pending.add(a1);
  pending.add(b1);
  assertEquals(pending.size, 3);
  assertEquals(pending.countFor("192.0.2.1"), 2);
  assertEquals(pending.countFor("192.0.2.2"), 1);
  pending.delete(a1);
  pending.delete(a1);
  assertEquals(pending.countFor("192.0.2.1"), 1);
  assertEquals(pending.size, 2);
  for (const each of pending) pending.delete(each);
  assertEquals(pending.size, 0);
  assertEquals(pending.countFor("192.0.2.1"), 0);
  assertEquals(pending.countFor("192.0.2.2"), 0);
});
