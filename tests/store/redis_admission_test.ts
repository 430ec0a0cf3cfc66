import { assert, assertEquals, within } from "../_util/assert.ts";
import { type RedisServer, startRedisServer } from "../_util/redis_server.ts";
import {
  RedisAdmission,
  type RedisAdmissionOptions,
} from "../../src/store/redis_admission.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";
import { StoreUnavailableError } from "../../src/store/store_errors.ts";
import type {
  Admission,
  AdmissionResult,
} from "../../src/security/admission.ts";

/** One "instance": its own client and admission store. */
async function instance(
  server: RedisServer,
  options: RedisAdmissionOptions = {},
) {
  const client = new RedisClient(parseStoreUrl(server.url));
  const admission = await RedisAdmission.create(client, options);
  return {
    client,
    admission,
    async [Symbol.asyncDispose]() {
      await admission.close();
      await client.close();
    },
  };
}

function admitted(result: AdmissionResult): Admission {
  assertEquals(result.kind, "admitted", JSON.stringify(result));
  return result as Admission;
}

const FAR = () => Date.now() + 60_000;

Deno.test("RedisAdmission admits exactly one of 30 concurrent uses of one ticket id over two instances", async () => {
  await using server = await startRedisServer();
  await using a = await instance(server);
  await using b = await instance(server);
  const expiresAt = FAR();
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      (i % 2 === 0 ? a : b).admission.admit({
        clientKey: `10.0.0.${i}`,
        perIpLimit: Infinity,
        ticketId: "jti-1",
        ticketExpiresAtMs: expiresAt,
      })),
  );
  const winners = results.filter((r) => r.kind === "admitted");
  assertEquals(winners.length, 1);
  assertEquals(
    results.filter((r) => r.kind === "refused" && r.reason === "replayed")
      .length,
    29,
  );
  const ttl = await a.client.send(["PTTL", "wsgate:jti:jti-1"]);
  assert(typeof ttl === "number" && ttl > 50_000, `PTTL ${ttl}`);
  for (const w of winners) {
    if (w.kind === "admitted") {
      await (a.admission.liveCount ? a : b).admission.release(w);
    }
  }
});

Deno.test("RedisAdmission honours a per-IP cap of 2 across two instances and frees a slot on release", async () => {
  await using server = await startRedisServer();
  await using a = await instance(server);
  await using b = await instance(server);
  const request = { clientKey: "192.0.2.7", perIpLimit: 2 };
  const first = admitted(await a.admission.admit(request));
  const second = admitted(await b.admission.admit(request));
  assertEquals(await a.admission.admit(request), {
    kind: "refused",
    reason: "per_ip",
  });
  assertEquals(await b.admission.admit(request), {
    kind: "refused",
    reason: "per_ip",
  });
  const elsewhere = admitted(
    await a.admission.admit({ ...request, clientKey: "192.0.2.8" }),
  );
  assert(elsewhere.member.startsWith(`${a.admission.instanceId}:`));
  await a.admission.release(elsewhere);
  await a.admission.release(first);
  await a.admission.release(first); // idempotent
  const third = admitted(await b.admission.admit(request));
  await b.admission.release(second);
  await b.admission.release(third);
  assertEquals(await a.client.send(["ZCARD", "wsgate:ip:192.0.2.7"]), 0);
});

Deno.test("RedisAdmission does not spend the ticket when the cap refuses, and releaseTicket un-spends it", async () => {
  await using server = await startRedisServer();
  await using a = await instance(server, { prefix: "t:" });
  const holder = admitted(
    await a.admission.admit({ clientKey: "ip", perIpLimit: 1 }),
  );
  const ticket = { ticketId: "j", ticketExpiresAtMs: FAR() };
  assertEquals(
    await a.admission.admit({ clientKey: "ip", perIpLimit: 1, ...ticket }),
    { kind: "refused", reason: "per_ip" },
  );
  assertEquals(await a.client.send(["EXISTS", "t:jti:j"]), 0);
  await a.admission.release(holder);
  const used = admitted(
    await a.admission.admit({ clientKey: "ip", perIpLimit: 1, ...ticket }),
  );
  await a.admission.releaseTicket(used);
  const again = admitted(
    await a.admission.admit({ clientKey: "ip", perIpLimit: 1, ...ticket }),
  );
  await a.admission.release(again);
  assertEquals(
    await a.admission.admit({ clientKey: "ip2", perIpLimit: 1, ...ticket }),
    { kind: "refused", reason: "replayed" },
  );
});

Deno.test("RedisAdmission keeps live slots by refreshing, and a stopped instance's slots expire within the lease", async () => {
  await using server = await startRedisServer();
  const leaseMs = 400;
  await using a = await instance(server, { leaseMs, refreshIntervalMs: 100 });
  await using killed = await instance(server, {
    leaseMs,
    refreshIntervalMs: 100,
  });
  const request = { clientKey: "198.51.100.1", perIpLimit: 1 };
  const held = admitted(await a.admission.admit(request));
  // Refreshes move the slot's score forward past the first lease end.
  const firstScore = Number(
    await a.client.send(["ZSCORE", "wsgate:ip:198.51.100.1", held.member]),
  );
  assertEquals(await a.admission.refreshLeases(), 1);
  let score = firstScore;
  const refreshDeadline = Date.now() + 5000;
  while (score <= firstScore + leaseMs && Date.now() < refreshDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    score = Number(
      await a.client.send(["ZSCORE", "wsgate:ip:198.51.100.1", held.member]),
    );
  }
  assert(score > firstScore + leaseMs, "the background refresh ran");
  assertEquals(await killed.admission.admit(request), {
    kind: "refused",
    reason: "per_ip",
  });
  // "Kill" instance a: it stops refreshing without releasing.
  await a.admission.close();
  const stoppedAt = Date.now();
  let result: AdmissionResult = { kind: "refused", reason: "per_ip" };
  for (let i = 0; i < 1000 && Date.now() - stoppedAt < 5000; i++) {
    result = await killed.admission.admit(request);
    if (result.kind === "admitted") break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const freedAfterMs = Date.now() - stoppedAt;
  const taken = admitted(result);
  assert(
    freedAfterMs <= leaseMs + 300,
    `freed after ${freedAfterMs} ms, lease ${leaseMs} ms`,
  );
  await killed.admission.release(taken);
});

Deno.test("RedisAdmission rejects with StoreUnavailableError when the store is down, and refuses at the local session limit", async () => {
  const server = await startRedisServer();
  const errors: unknown[] = [];
  await using a = await instance(server, {
    onError: (error) => errors.push(error),
  });
  const held = admitted(
    await a.admission.admit({ clientKey: "x", perIpLimit: 5, sessionLimit: 1 }),
  );
  assertEquals(
    await a.admission.admit({ clientKey: "y", perIpLimit: 5, sessionLimit: 1 }),
    { kind: "refused", reason: "capacity" },
  );
  await server.stop();
  const error = await a.admission.admit({ clientKey: "x", perIpLimit: 5 })
    .catch((e) => e);
  assert(error instanceof StoreUnavailableError, String(error));
  await a.admission.release(held); // never rejects
  assert(errors[0] instanceof StoreUnavailableError, String(errors[0]));
  assertEquals(a.admission.liveCount, 0);
});

Deno.test("RedisAdmission: the slots of an instance killed with SIGKILL expire within the lease (no leak)", async () => {
  await using server = await startRedisServer();
  const leaseMs = 600;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../_util/admission_instance.ts", import.meta.url).pathname,
      server.url,
      String(leaseMs),
      "192.0.2.99",
      "2",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let isKilled = false;
  try {
    const reader = child.stdout.getReader();
    const first = await within(reader.read(), 20_000, "the instance's line");
    reader.releaseLock();
    const line = new TextDecoder().decode(first.value ?? new Uint8Array());
    const members = line.trim().split(" ").slice(1);
    assertEquals(members.length, 2, line);
    await using other = await instance(server, { leaseMs });
    const key = "wsgate:ip:192.0.2.99";
    // The live instance refreshes: its slot outlives the first lease.
    const firstScore = Number(
      await other.client.send(["ZSCORE", key, members[0]!]),
    );
    const refreshDeadline = Date.now() + 10_000;
    let score = firstScore;
    while (score <= firstScore + leaseMs / 2 && Date.now() < refreshDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      score = Number(await other.client.send(["ZSCORE", key, members[0]!]));
    }
    assert(score > firstScore, "the instance refreshed its slots");
    const request = { clientKey: "192.0.2.99", perIpLimit: 2 };
    assertEquals(await other.admission.admit(request), {
      kind: "refused",
      reason: "per_ip",
    });
    child.kill("SIGKILL");
    isKilled = true;
    assertEquals((await child.status).signal, "SIGKILL");
    const killedAt = Date.now();
    let result: AdmissionResult = { kind: "refused", reason: "per_ip" };
    for (let i = 0; i < 1000 && Date.now() - killedAt < 10_000; i++) {
      result = await other.admission.admit(request);
      if (result.kind === "admitted") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const freedAfterMs = Date.now() - killedAt;
    const taken = admitted(result);
    assert(
      freedAfterMs <= leaseMs + 400,
      `freed after ${freedAfterMs} ms, lease ${leaseMs} ms`,
    );
    await other.admission.release(taken);
  } finally {
    if (!isKilled) child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});

Deno.test("RedisAdmission counts a session with neither a per-IP cap nor a ticket in the instance only, so it is admitted while the store is down", async () => {
  const server = await startRedisServer();
  await using _server = server;
  await using one = await instance(server, { prefix: "local:" });
  assertEquals(await one.admission.checkHealth(), undefined);
  const plain = admitted(
    await one.admission.admit({ clientKey: "a", perIpLimit: Infinity }),
  );
  assertEquals(await one.client.send(["KEYS", "local:*"]), []);
  await server.stop();
  assert((await one.admission.checkHealth()) !== undefined);
  const during = admitted(
    await one.admission.admit({ clientKey: "a", perIpLimit: Infinity }),
  );
  assertEquals(one.admission.liveCount, 2);
  await one.admission.release(plain);
  await one.admission.release(during);
  assertEquals(one.admission.liveCount, 0);
});
