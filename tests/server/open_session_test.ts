import {
  assert,
  assertEquals,
  assertStrictEquals,
  within,
} from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { resolveOptions } from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import { Reporter } from "../../src/server/_reporter.ts";
import { openSession } from "../../src/server/open_session.ts";
import { SessionTable } from "../../src/server/session_table.ts";
import type { RelaySession } from "../../src/session/relay.ts";

/** Reads the browser side until EOF; returns every byte. */
async function readToEof(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  for (let reads = 0; reads < 1000; reads++) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(...buffer.subarray(0, count));
  }
  return new Uint8Array(chunks);
}

Deno.test("openSession closes a session opened while the table drains with 1001, gives the slot back and reports the close under its labels", async () => {
  await using backend = startEchoBackend();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const browserSide = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const browser = await listener.accept();
  const backendConn = await Deno.connect({
    hostname: "127.0.0.1",
    port: backend.port,
  });
  const table = new SessionTable<RelaySession>();
  const caps = { clientKey: "127.0.0.1", perIpLimit: 1, sessionLimit: 1 };
  await table.drain(0);
  const events: GatewayEvent[] = [];
  const reporter = new Reporter(
    new GatewayMetrics(),
    (event) => events.push(event),
  );
  const config = resolveOptions({
    routes: [{ path: "/", target: backend.target }],
    closeTimeoutMs: 500,
  });
  const labels = {
    id: "t-1",
    route: "/",
    client: "127.0.0.1:1",
    target: backend.target,
  };
  const admitted = await table.admit(caps);
  assert(admitted.kind === "admitted");
  const session = openSession({
    labels,
    route: config.routes.get("/")!,
    config,
    browser,
    backend: backendConn,
    leftover: undefined,
    admission: admitted.admission,
    table,
    reporter,
  });
  try {
    const bytes = await within(readToEof(browserSide), 5000, "the close");
    // An unmasked close frame: 0x88, length, then the code big-endian.
    assertStrictEquals(bytes[0], 0x88);
    assertStrictEquals((bytes[2]! << 8) | bytes[3]!, 1001);
    const summary = await session.ended;
    assertStrictEquals(summary.code, 1001);
  } finally {
    browserSide.close();
  }
  assertStrictEquals(table.size, 0);
  assertStrictEquals(
    (await table.admit(caps)).kind,
    "admitted",
    "the slot is back",
  );
  const close = events.find((event) => event.type === "session_close");
  assert(close?.type === "session_close");
  assertEquals(
    [close.sessionId, close.route, close.client, close.target, close.code],
    ["t-1", "/", "127.0.0.1:1", backend.target, 1001],
  );
});
