import assert from "node:assert/strict";
import { LocalAdmission } from "../../src/security/local_admission.ts";
import type { Admission } from "../../src/security/admission.ts";

function admitted(result: unknown): Admission {
  assert.equal((result as Admission).kind, "admitted", JSON.stringify(result));
  return result as Admission;
}

Deno.test("LocalAdmission admits one of many concurrent uses of a ticket id", async () => {
  const store = new LocalAdmission({ now: () => 1000 });
  const results = await Promise.all(
    Array.from({ length: 30 }, () =>
      store.admit({
        clientKey: "c",
        perIpLimit: Infinity,
        ticketId: "t",
        ticketExpiresAtMs: 5000,
      })),
  );
  assert.equal(results.filter((r) => r.kind === "admitted").length, 1);
  assert.equal(
    results.filter((r) => r.kind === "refused" && r.reason === "replayed")
      .length,
    29,
  );
});

Deno.test("LocalAdmission refuses above the per-IP cap without spending the ticket", async () => {
  let nowMs = 1000;
  const store = new LocalAdmission({ now: () => nowMs });
  const a = admitted(await store.admit({ clientKey: "ip", perIpLimit: 2 }));
  admitted(await store.admit({ clientKey: "ip", perIpLimit: 2 }));
  const ticket = { ticketId: "t", ticketExpiresAtMs: 9000 };
  assert.deepEqual(
    await store.admit({ clientKey: "ip", perIpLimit: 2, ...ticket }),
    { kind: "refused", reason: "per_ip" },
  );
  admitted(await store.admit({ clientKey: "other", perIpLimit: 2 }));
  await store.release(a);
  await store.release(a); // idempotent
  assert.equal(store.countOf("ip"), 1);
  nowMs = 2000;
  admitted(await store.admit({ clientKey: "ip", perIpLimit: 2, ...ticket }));
  assert.equal(store.liveCount, 3);
});

Deno.test("LocalAdmission refuses at the session limit without spending the ticket, and a lower limit after a reload applies to the held count", async () => {
  const store = new LocalAdmission({ now: () => 0 });
  const first = admitted(
    await store.admit({ clientKey: "a", perIpLimit: 9, sessionLimit: 2 }),
  );
  admitted(
    await store.admit({ clientKey: "b", perIpLimit: 9, sessionLimit: 2 }),
  );
  const ticket = { ticketId: "t", ticketExpiresAtMs: 100 };
  assert.deepEqual(
    await store.admit({
      clientKey: "c",
      perIpLimit: 9,
      sessionLimit: 2,
      ...ticket,
    }),
    { kind: "refused", reason: "capacity" },
  );
  // A "reload" to limit 1 keeps the two held sessions counted.
  await store.release(first);
  assert.deepEqual(
    await store.admit({
      clientKey: "c",
      perIpLimit: 9,
      sessionLimit: 1,
      ...ticket,
    }),
    { kind: "refused", reason: "capacity" },
  );
  admitted(
    await store.admit({
      clientKey: "c",
      perIpLimit: 9,
      sessionLimit: 2,
      ...ticket,
    }),
  );
});

Deno.test("LocalAdmission.releaseTicket un-spends the id of a session that did not open", async () => {
  const store = new LocalAdmission({ now: () => 0 });
  const request = {
    clientKey: "a",
    perIpLimit: 1,
    ticketId: "t",
    ticketExpiresAtMs: 100,
  };
  const first = admitted(await store.admit(request));
  await store.releaseTicket(first);
  const second = admitted(await store.admit(request));
  await store.release(second);
  assert.deepEqual(await store.admit(request), {
    kind: "refused",
    reason: "replayed",
  });
});
