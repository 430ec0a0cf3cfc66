import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { resolveOptions } from "../../src/config/config.ts";
import {
  type SessionCaps,
  sessionCaps,
  SessionTable,
} from "../../src/server/session_table.ts";
import type { Admission } from "../../src/security/admission.ts";
import { LocalAdmission } from "../../src/security/local_admission.ts";
import { FleetAdmission } from "../../src/server/fleet_admission.ts";
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

/** The status a refusal would send, or "ok" with the admission kept. */
async function admitStatus(
  table: SessionTable,
  clientKey: string,
  caps: SessionCaps,
  held: Admission[] = [],
): Promise<number | "ok"> {
  const outcome = await table.admit({
    clientKey,
    perIpLimit: caps.maxSessionsPerIp,
    sessionLimit: caps.maxSessions,
  });
  if (outcome.kind === "refused") return outcome.refusal.status;
  held.push(outcome.admission);
  return "ok";
}

Deno.test("sessionCaps sizes the caps from maxSessions and maxSessionsPerIp", async (t) => {
  await t.step("maxSessionsPerIp 0 means no per-address limit", async () => {
    const table = new SessionTable();
    const caps = sessionCaps(resolveOptions({ maxSessions: 3 }));
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(await admitStatus(table, "192.0.2.1", caps));
    }
    assertEquals(statuses, ["ok", "ok", "ok", 503]);
  });
  await t.step("maxSessionsPerIp 1", async () => {
    const table = new SessionTable();
    const caps = sessionCaps(
      resolveOptions({ maxSessions: 3, maxSessionsPerIp: 1 }),
    );
    assertEquals(
      [
        await admitStatus(table, "192.0.2.1", caps),
        await admitStatus(table, "192.0.2.1", caps),
        await admitStatus(table, "192.0.2.2", caps),
      ],
      ["ok", 429, "ok"],
    );
  });
});

Deno.test("SessionTable keeps the open sessions counted when the caps change (a reload)", async () => {
  const table = new SessionTable();
  const one = { maxSessions: 1, maxSessionsPerIp: 1 };
  const two = { maxSessions: 2, maxSessionsPerIp: 1 };
  assertStrictEquals(await admitStatus(table, "192.0.2.1", one), "ok");
  assertStrictEquals(await admitStatus(table, "192.0.2.1", two), 429);
  assertStrictEquals(await admitStatus(table, "192.0.2.2", two), "ok");
  assertStrictEquals(await admitStatus(table, "192.0.2.3", two), 503);
});

Deno.test("SessionTable.remove gives the slot back once, and only for a session in the table", async () => {
  const table = new SessionTable();
  const caps = { maxSessions: 1, maxSessionsPerIp: 1 };
  const session = new FakeEnd(true);
  const held: Admission[] = [];
  assertStrictEquals(await admitStatus(table, "192.0.2.1", caps, held), "ok");
  table.add(session, labels("s1"), held[0]!);
  assertStrictEquals(table.size, 1);
  assertEquals([...table], [[session, labels("s1")]]);
  assert(table.remove(session));
  assertStrictEquals(table.size, 0);
  assertStrictEquals(table.remove(session), false, "a second remove");
  assertStrictEquals(await admitStatus(table, "192.0.2.1", caps), "ok");
  assertStrictEquals(
    await admitStatus(table, "192.0.2.2", caps),
    503,
    "the second remove gave back nothing",
  );
});

/** One client's request with a single-use ticket, caps of one session. */
function ticketRequest() {
  return {
    clientKey: "192.0.2.1",
    perIpLimit: 1,
    sessionLimit: 1,
    ticketId: "jti-1",
    ticketExpiresAtMs: Date.now() + 60_000,
  };
}

Deno.test("SessionTable.release gives back a slot whose session never opened, and keeps its ticket spent", async () => {
  const table = new SessionTable();
  const request = ticketRequest();
  const first = await table.admit(request);
  assert(first.kind === "admitted");
  table.release(first.admission);
  const again = await table.admit(request);
  assert(again.kind === "refused");
  assertStrictEquals(again.refusal.status, 401, "the ticket stays spent");
  const other = await table.admit({ ...request, ticketId: "jti-2" });
  assertStrictEquals(other.kind, "admitted", "the slot is back");
});

Deno.test("SessionTable.releaseTicket gives back the slot and the ticket of a session that never opened", async () => {
  const table = new SessionTable();
  const request = ticketRequest();
  const first = await table.admit(request);
  assert(first.kind === "admitted");
  table.releaseTicket(first.admission);
  const again = await table.admit(request);
  assertStrictEquals(again.kind, "admitted");
});

Deno.test("SessionTable.drain closes every session with 1001 and aborts those still open at the deadline", async () => {
  const table = new SessionTable();
  const caps = { maxSessions: 2, maxSessionsPerIp: 2 };
  const held: Admission[] = [];
  await admitStatus(table, "192.0.2.1", caps, held);
  await admitStatus(table, "192.0.2.1", caps, held);
  const polite = new FakeEnd(true);
  const stuck = new FakeEnd(false);
  table.add(polite, labels("s1"), held[0]!);
  table.add(stuck, labels("s2"), held[1]!);
  assertStrictEquals(table.isDraining, false);
  await table.drain(1);
  assert(table.isDraining);
  assertEquals(polite.closes, [1001]);
  assertEquals(stuck.closes, [1001]);
  assertEquals(stuck.aborts, [1001], "the stuck session is cut");
});

Deno.test("SessionTable spends ticket ids in its one ReplayCache", async () => {
  const table = new SessionTable();
  const outcome = await table.admit({
    clientKey: "192.0.2.1",
    perIpLimit: Infinity,
    ticketId: "jti",
    ticketExpiresAtMs: Date.now() + 1000,
  });
  assertStrictEquals(outcome.kind, "admitted");
  assert(table.replayCache.isHeld("jti", Date.now()));
});

Deno.test("SessionTable.useAdmission admits through the given store from then on", async () => {
  const table = new SessionTable();
  const shared = new LocalAdmission();
  table.useAdmission(new FleetAdmission(shared));
  const caps = { maxSessions: 5, maxSessionsPerIp: 5 };
  assertStrictEquals(await admitStatus(table, "192.0.2.1", caps), "ok");
  assertStrictEquals(shared.liveCount, 1);
  assertStrictEquals(await table.checkHealth(), undefined);
});
