import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { resolveOptions } from "../../src/config/config.ts";
import { sessionCaps, SessionTable } from "../../src/server/session_table.ts";
import type { SessionLabels } from "../../src/server/session_labels.ts";

/** A session that records how it was ended and never ends on close. */
class FakeEnd {
  closes: number[] = [];
  aborts: number[] = [];
  #closed = Promise.withResolvers<void>();
  constructor(readonly endsOnClose: boolean) {}
  close(code: number): Promise<unknown> {
    this.closes.push(code);
    if (this.endsOnClose) this.#closed.resolve();
    return this.#closed.promise;
  }
  abort(code: number): Promise<unknown> {
    this.aborts.push(code);
    this.#closed.resolve();
    return this.#closed.promise;
  }
}

function labels(id: string): SessionLabels {
  return { id, route: "/", client: "192.0.2.1:5000", target: "127.0.0.1:9" };
}

Deno.test("sessionCaps sizes the caps from maxSessions and maxSessionsPerIp", async (t) => {
  await t.step("maxSessionsPerIp 0 means no per-address limit", () => {
    const table = new SessionTable(
      sessionCaps(resolveOptions({ maxSessions: 3 })),
    );
    assertEquals(
      [1, 2, 3, 4].map(() => table.acquire("192.0.2.1")),
      ["ok", "ok", "ok", "total"],
    );
  });
  await t.step("maxSessionsPerIp 1", () => {
    const table = new SessionTable(
      sessionCaps(resolveOptions({ maxSessions: 3, maxSessionsPerIp: 1 })),
    );
    assertEquals(
      [
        table.acquire("192.0.2.1"),
        table.acquire("192.0.2.1"),
        table.acquire("192.0.2.2"),
      ],
      ["ok", "per-ip", "ok"],
    );
  });
});

Deno.test("SessionTable.setCaps keeps the open sessions counted", () => {
  const table = new SessionTable({ maxSessions: 1, maxSessionsPerIp: 1 });
  assertStrictEquals(table.acquire("192.0.2.1"), "ok");
  table.setCaps({ maxSessions: 2, maxSessionsPerIp: 1 });
  assertStrictEquals(table.acquire("192.0.2.1"), "per-ip");
  assertStrictEquals(table.acquire("192.0.2.2"), "ok");
  assertStrictEquals(table.acquire("192.0.2.3"), "total");
});

Deno.test("SessionTable.remove gives the slot back once, and only for a session in the table", () => {
  const table = new SessionTable({ maxSessions: 1, maxSessionsPerIp: 1 });
  const session = new FakeEnd(true);
  assertStrictEquals(table.acquire("192.0.2.1"), "ok");
  table.add(session, labels("s1"), "192.0.2.1");
  assertStrictEquals(table.size, 1);
  assertEquals([...table], [[session, labels("s1")]]);
  assert(table.remove(session));
  assertStrictEquals(table.size, 0);
  assertStrictEquals(table.remove(session), false, "a second remove");
  assertStrictEquals(table.acquire("192.0.2.1"), "ok");
  assertStrictEquals(
    table.acquire("192.0.2.2"),
    "total",
    "the second remove gave back nothing",
  );
});

Deno.test("SessionTable.release gives back a slot whose session never opened", () => {
  const table = new SessionTable({ maxSessions: 1, maxSessionsPerIp: 1 });
  assertStrictEquals(table.acquire("192.0.2.1"), "ok");
  table.release("192.0.2.1");
  assertStrictEquals(table.acquire("192.0.2.2"), "ok");
});

Deno.test("SessionTable.drain closes every session with 1001 and aborts those still open at the deadline", async () => {
  const table = new SessionTable({ maxSessions: 2, maxSessionsPerIp: 2 });
  const polite = new FakeEnd(true);
  const stuck = new FakeEnd(false);
  table.add(polite, labels("s1"), "192.0.2.1");
  table.add(stuck, labels("s2"), "192.0.2.1");
  assertStrictEquals(table.isDraining, false);
  await table.drain(1);
  assert(table.isDraining);
  assertEquals(polite.closes, [1001]);
  assertEquals(stuck.closes, [1001]);
  assertEquals(stuck.aborts, [1001], "the stuck session is cut");
});

Deno.test("SessionTable keeps one ReplayCache for its lifetime", () => {
  const table = new SessionTable({ maxSessions: 1, maxSessionsPerIp: 1 });
  assertStrictEquals(
    table.replayCache.use("jti", Date.now() + 1000, Date.now()),
    "fresh",
  );
  table.setCaps({ maxSessions: 2, maxSessionsPerIp: 2 });
  assertStrictEquals(
    table.replayCache.use("jti", Date.now() + 1000, Date.now()),
    "replayed",
  );
});
