import { assertEquals } from "../_util/assert.ts";
import { within } from "../_util/assert.ts";
import {
  RemoteAdmission,
  serveAdmission,
} from "../../src/cli/admission_channel.ts";
import { LocalAdmission } from "../../src/security/local_admission.ts";
import type {
  AdmissionRequest,
  AdmissionResult,
} from "../../src/security/admission.ts";

/** A real Worker wired to the shared store through its own channel. */
async function startWorker(store: LocalAdmission) {
  const worker = new Worker(
    new URL("../_util/admission_worker.ts", import.meta.url),
    { type: "module" },
  );
  const channel = new MessageChannel();
  const service = serveAdmission(channel.port1, store);
  let answer = Promise.withResolvers<Record<string, unknown>>();
  worker.onmessage = (message) => {
    answer.resolve(message.data);
    answer = Promise.withResolvers();
  };
  async function ask(message: unknown, transfer: Transferable[] = []) {
    const reply = answer.promise;
    worker.postMessage(message, transfer);
    return await within(reply, 10_000, "the worker's answer");
  }
  await ask({ port: channel.port2 }, [channel.port2]);
  return {
    service,
    async admit(attempts: number, request: AdmissionRequest) {
      const reply = await ask({ attempts, request });
      return reply.results as AdmissionResult[];
    },
    async [Symbol.asyncDispose]() {
      await ask({ close: true });
      worker.terminate();
      await service.close();
    },
  };
}

Deno.test("serveAdmission makes two workers admit exactly one of 30 concurrent uses of one ticket id", async () => {
  const store = new LocalAdmission();
  await using a = await startWorker(store);
  await using b = await startWorker(store);
  const request = {
    clientKey: "203.0.113.9",
    perIpLimit: Infinity,
    ticketId: "one",
    ticketExpiresAtMs: Date.now() + 60_000,
  };
  const [fromA, fromB] = await Promise.all([
    a.admit(15, request),
    b.admit(15, request),
  ]);
  const all = [...fromA, ...fromB];
  assertEquals(all.filter((r) => r.kind === "admitted").length, 1);
  assertEquals(store.liveCount, 1);
});

Deno.test("serveAdmission holds the per-IP cap across workers and frees a terminated worker's slots", async () => {
  const store = new LocalAdmission();
  await using a = await startWorker(store);
  {
    await using b = await startWorker(store);
    const request = { clientKey: "203.0.113.10", perIpLimit: 2 };
    const [fromA, fromB] = await Promise.all([
      a.admit(3, request),
      b.admit(3, request),
    ]);
    assertEquals(
      [...fromA, ...fromB].filter((r) => r.kind === "admitted").length,
      2,
    );
    assertEquals(store.countOf("203.0.113.10"), 2);
    assertEquals(a.service.heldCount + b.service.heldCount, 2);
  }
  // b ended: only a's slots still count.
  assertEquals(store.countOf("203.0.113.10"), a.service.heldCount);
});

Deno.test("RemoteAdmission.checkHealth answers with the main thread's store health", async () => {
  let problem: string | undefined = "store down";
  const store = new LocalAdmission();
  const shared = Object.assign(store, {
    checkHealth: () => Promise.resolve(problem),
  });
  const channel = new MessageChannel();
  const service = serveAdmission(channel.port1, shared);
  const remote = new RemoteAdmission(channel.port2);
  try {
    assertEquals(await remote.checkHealth(), "store down");
    problem = undefined;
    assertEquals(await remote.checkHealth(), undefined);
  } finally {
    await remote.close();
    await service.close();
  }
});
