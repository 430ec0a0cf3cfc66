import { assert, assertEquals, within } from "../_util/assert.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import {
  FleetAdmission,
  openAdmissionStore,
} from "../../src/server/fleet_admission.ts";
import { STORE_UNAVAILABLE_BODY } from "../../src/store/store_errors.ts";
import type {
  Admission,
  AdmissionRequest,
  AdmissionResult,
  AdmissionStore,
} from "../../src/security/admission.ts";
import { LocalAdmission } from "../../src/security/local_admission.ts";

/** A store whose answers the test releases by hand (an in-process store). */
class HeldStore implements AdmissionStore {
  pending: ((result: AdmissionResult) => void)[] = [];
  released: string[] = [];
  ticketReleased = Promise.withResolvers<void>();
  liveCount = 0;
  admit(_request: AdmissionRequest): Promise<AdmissionResult> {
    const { promise, resolve } = Promise.withResolvers<AdmissionResult>();
    this.pending.push(resolve);
    return promise;
  }
  release(admission: Admission): Promise<void> {
    this.released.push(`release ${admission.member}`);
    return Promise.resolve();
  }
  releaseTicket(admission: Admission): Promise<void> {
    this.released.push(`releaseTicket ${admission.member}`);
    this.ticketReleased.resolve();
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("FleetAdmission maps a per-IP refusal to 429, a full process to 503 and a replayed ticket to 401", async (t) => {
  const fleet = new FleetAdmission(new LocalAdmission());
  const ticket = { ticketId: "t1", ticketExpiresAtMs: Date.now() + 60_000 };
  const first = await fleet.admit({
    clientKey: "a",
    perIpLimit: 1,
    sessionLimit: 2,
    ...ticket,
  });
  assertEquals(first.kind, "admitted");
  const cases: [string, AdmissionRequest, number, string][] = [
    ["per_ip", { clientKey: "a", perIpLimit: 1 }, 429, "per-address limit 1"],
    ["replayed", { clientKey: "b", perIpLimit: 1, ...ticket }, 401, "replayed"],
  ];
  for (const [name, request, status, detail] of cases) {
    await t.step(name, async () => {
      const outcome = await fleet.admit(request);
      assert(outcome.kind === "refused");
      assertEquals(outcome.refusal.status, status);
      assert(outcome.detail.includes(detail), outcome.detail);
    });
  }
  await t.step("capacity", async () => {
    const second = await fleet.admit({ clientKey: "c", perIpLimit: 5 });
    assertEquals(second.kind, "admitted");
    const full = await fleet.admit({
      clientKey: "d",
      perIpLimit: 5,
      sessionLimit: 2,
    });
    assert(full.kind === "refused");
    assertEquals(full.refusal.status, 503);
    assertEquals(full.refusal.body, "Too many sessions");
  });
});

Deno.test("FleetAdmission refuses with 503 store_unavailable when the store answers later than the timer, and gives the late admission back", async () => {
  const store = new HeldStore();
  const fleet = new FleetAdmission(store, { timeoutMs: 50 });
  const startedMs = performance.now();
  const outcome = await fleet.admit({ clientKey: "a", perIpLimit: 1 });
  const elapsedMs = performance.now() - startedMs;
  assert(outcome.kind === "refused");
  assertEquals(outcome.refusal.status, 503);
  assertEquals(outcome.refusal.body, STORE_UNAVAILABLE_BODY);
  assert(outcome.detail.startsWith("store_unavailable: "), outcome.detail);
  assert(elapsedMs < 1000, `refused after ${elapsedMs} ms`);
  store.pending[0]!({ kind: "admitted", clientKey: "a", member: "m1" });
  await within(store.ticketReleased.promise, 1000, "the late release");
  assertEquals(store.released, ["releaseTicket m1"]);
});

Deno.test("FleetAdmission refuses with 503 store_unavailable when the store fails", async () => {
  const store = new HeldStore();
  store.admit = () => Promise.reject(new Error("connection refused"));
  const fleet = new FleetAdmission(store, { timeoutMs: 1000 });
  const outcome = await fleet.admit({ clientKey: "a", perIpLimit: 1 });
  assert(outcome.kind === "refused");
  assertEquals(outcome.refusal.status, 503);
  assertEquals(outcome.detail, "store_unavailable: connection refused");
});

Deno.test("openAdmissionStore with a store URL admits through Redis; with Redis stopped, health names the problem and a ticket gets 503, while a request that needs nothing from the store is admitted", async () => {
  const redis = await startRedisServer();
  await using _redis = redis;
  const opened = await openAdmissionStore({
    url: redis.url,
    timeoutMs: 300,
    prefix: "t:",
  });
  try {
    assertEquals(opened.isRemote, true);
    const fleet = new FleetAdmission(opened.store, { timeoutMs: 300 });
    assertEquals(await fleet.checkHealth(), undefined);
    const ticket = { ticketId: "j1", ticketExpiresAtMs: Date.now() + 60_000 };
    const first = await fleet.admit({
      clientKey: "a",
      perIpLimit: 2,
      ...ticket,
    });
    assert(first.kind === "admitted");
    const replay = await fleet.admit({
      clientKey: "b",
      perIpLimit: 2,
      ...ticket,
    });
    assert(replay.kind === "refused" && replay.refusal.status === 401);

    await redis.stop();
    const problem = await fleet.checkHealth();
    assert(problem !== undefined && problem.length > 0);
    const refused = await fleet.admit({
      clientKey: "a",
      perIpLimit: 2,
      ticketId: "j2",
      ticketExpiresAtMs: Date.now() + 60_000,
    });
    assert(refused.kind === "refused");
    assertEquals(refused.refusal.status, 503);
    const plain = await fleet.admit({ clientKey: "a", perIpLimit: Infinity });
    assert(plain.kind === "admitted");
    await fleet.release(plain.admission);
    await fleet.release(first.admission);
    assertEquals(fleet.liveCount, 0);
  } finally {
    await opened.close();
  }
});
