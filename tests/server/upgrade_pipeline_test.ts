import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { startEchoBackend, unusedPort } from "../_util/backends.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { closeOf } from "../_util/raw_session.ts";
import { waitUntil } from "../_util/wait_until.ts";
import { resolveOptions } from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { Reporter } from "../../src/server/_reporter.ts";
import { CompressionNegotiator } from "../../src/server/_compression_negotiator.ts";
import {
  clientAddress,
  remoteAddress,
} from "../../src/server/client_address.ts";
import {
  buildGeneration,
  type Generation,
  initGeneration,
} from "../../src/server/generation.ts";
import { readRequestHead } from "../../src/http/request_head_reader.ts";
import { sessionCaps, SessionTable } from "../../src/server/session_table.ts";
import { UpgradePipeline } from "../../src/server/upgrade_pipeline.ts";
import type { RelaySession } from "../../src/session/relay.ts";

/** A pipeline over its own table, recording every event. */
async function setUp(target: string, maxSessions = 4) {
  const table = new SessionTable<RelaySession>();
  const events: GatewayEvent[] = [];
  const reporter = new Reporter(
    new GatewayMetrics(),
    (event) => events.push(event),
  );
  const generation = buildGeneration(
    resolveOptions({
      routes: [{ path: "/", target }],
      closeTimeoutMs: 1000,
      maxSessions,
    }),
    { replayCache: table.replayCache },
  );
  await initGeneration(generation);
  const pipeline = new UpgradePipeline({
    table,
    reporter,
    compression: new CompressionNegotiator(),
  });
  return { table, events, generation, pipeline };
}

/**
 * Whether the table has a slot free under the generation's caps (the slot
 * taken to find out is given back).
 */
async function slotFree(
  table: SessionTable<RelaySession>,
  generation: Generation,
): Promise<boolean> {
  const caps = sessionCaps(generation.config);
  const outcome = await table.admit({
    clientKey: "192.0.2.9",
    perIpLimit: caps.maxSessionsPerIp,
    sessionLimit: caps.maxSessions,
  });
  if (outcome.kind === "refused") return false;
  table.release(outcome.admission);
  return true;
}

/** Sends one upgrade request through `pipeline` on a loopback pair. */
async function upgrade(
  pipeline: UpgradePipeline,
  generation: Generation,
): Promise<{ client: RawWsClient; status: number; running: Promise<void> }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = RawWsClient.connect(listener.addr.port, "/", {
    origin: `http://127.0.0.1:${listener.addr.port}`,
  });
  const conn = await listener.accept();
  const read = await readRequestHead(conn, 8192);
  assert(read.kind === "head", read.kind);
  const running = pipeline.run({
    conn,
    head: read.head,
    client: clientAddress(remoteAddress(conn.remoteAddr), read.head, undefined),
    leftover: read.leftover,
    generation,
  });
  const { client, response } = await connecting;
  return { client, status: response.status, running };
}

Deno.test("UpgradePipeline opens a session in the table under its labels, and the slot comes back when it ends", async () => {
  await using backend = startEchoBackend();
  const { table, events, generation, pipeline } = await setUp(
    backend.target,
    1,
  );
  const { client, status, running } = await upgrade(pipeline, generation);
  await running;
  assertStrictEquals(status, 101);
  assertStrictEquals(table.size, 1);
  const labels = [...table][0]?.[1];
  assert(labels !== undefined);
  assertStrictEquals(labels.route, "/");
  assertStrictEquals(labels.target, backend.target);
  const open = events.find((event) => event.type === "session_open");
  assertEquals(open, {
    type: "session_open",
    sessionId: labels.id,
    route: "/",
    client: labels.client,
    target: backend.target,
  });
  assertStrictEquals(await slotFree(table, generation), false);
  await client.sendClose(1000);
  assertStrictEquals((await client.nextClose())?.code, 1000);
  await client.close();
  await waitUntil(() => table.size === 0, 5000, () => "the session to end");
  assertStrictEquals(await slotFree(table, generation), true);
});

Deno.test("UpgradePipeline refuses with 503 while draining and holds no slot", async () => {
  const { table, events, generation, pipeline } = await setUp("127.0.0.1:9");
  await table.drain(0);
  const { client, status, running } = await upgrade(pipeline, generation);
  await client.close();
  await running;
  assertStrictEquals(status, 503);
  const refused = events.find((event) => event.type === "handshake_refused");
  assert(refused?.type === "handshake_refused");
  assertStrictEquals(refused.detail, "draining");
  assertStrictEquals(table.size, 0);
});

Deno.test("UpgradePipeline gives the slot back when the backend cannot be reached, and closes 1011 after the 101", async () => {
  const { table, events, generation, pipeline } = await setUp(
    `127.0.0.1:${unusedPort()}`,
    1,
  );
  const { client, status, running } = await upgrade(pipeline, generation);
  assertStrictEquals(status, 101);
  const close = await closeOf(client);
  await running;
  assertEquals([close.code, close.reason], [1011, "backend unreachable"]);
  assertStrictEquals(table.size, 0);
  assertStrictEquals(
    await slotFree(table, generation),
    true,
    "the slot is back",
  );
  const closed = events.find((event) => event.type === "session_close");
  assert(closed?.type === "session_close");
  const failed = events.find((event) => event.type === "backend_error");
  assert(failed?.type === "backend_error");
  assertStrictEquals(closed.sessionId, failed.sessionId);
  assertStrictEquals(closed.code, 1011);
});
