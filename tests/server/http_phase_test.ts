import { assert, assertEquals, within } from "../_util/assert.ts";
import { writeAll } from "../_util/backends.ts";
import {
  type GatewayOptions,
  resolveOptions,
} from "../../src/config/config.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { GatewayMetrics } from "../../src/observability/gateway_metrics.ts";
import type { RelaySession } from "../../src/session/relay.ts";
import { CompressionNegotiator } from "../../src/server/_compression_negotiator.ts";
import { Reporter } from "../../src/server/_reporter.ts";
import {
  buildGeneration,
  initGeneration,
} from "../../src/server/generation.ts";
import { HttpPhase } from "../../src/server/http_phase.ts";
import { SessionTable } from "../../src/server/session_table.ts";
import { UpgradePipeline } from "../../src/server/upgrade_pipeline.ts";

const ENCODER = new TextEncoder();
const DECODER = new TextDecoder();

/** An HttpPhase on a loopback listener; every accepted connection goes to it. */
class PhaseHarness implements AsyncDisposable {
  readonly phase: HttpPhase;
  readonly events: GatewayEvent[];
  readonly #listener: Deno.TcpListener;
  readonly #accepting: Promise<void>;
  /** Connections the phase has been handed so far. */
  handed = 0;
  #handedWaiters: { count: number; resolve: () => void }[] = [];

  constructor(phase: HttpPhase, events: GatewayEvent[]) {
    this.phase = phase;
    this.events = events;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  static async start(
    options: Partial<GatewayOptions>,
    renderMetrics: () => string = () => "",
  ): Promise<PhaseHarness> {
    const table = new SessionTable<RelaySession>();
    const metrics = new GatewayMetrics();
    const events: GatewayEvent[] = [];
    const reporter = new Reporter(metrics, (event) => events.push(event));
    const generation = buildGeneration(
      resolveOptions({ port: 0, ...options }),
      { replayCache: table.replayCache },
    );
    await initGeneration(generation);
    const phase = new HttpPhase({
      generation: () => generation,
      table,
      pipeline: new UpgradePipeline({
        table,
        reporter,
        compression: new CompressionNegotiator({ metrics }),
      }),
      reporter,
      renderMetrics,
      consoleStats: () => ({
        sessionsOpen: 0,
        bytesToBackend: 0,
        bytesToBrowser: 0,
        sessions: [],
      }),
    });
    return new PhaseHarness(phase, events);
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Connects a client and waits until the phase has its connection. */
  async connect(): Promise<Deno.TcpConn> {
    const count = this.handed + 1;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    const { promise, resolve } = Promise.withResolvers<void>();
    if (this.handed >= count) resolve();
    else this.#handedWaiters.push({ count, resolve });
    await within(promise, 5000, "the phase to get the connection");
    return conn;
  }

  async #accept(): Promise<void> {
    for (let accepted = 0; accepted < 100; accepted++) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      this.phase.handle(conn);
      this.handed++;
      this.#handedWaiters = this.#handedWaiters.filter((waiter) => {
        if (this.handed < waiter.count) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    await this.phase.finish(0);
  }
}

/** Reads `conn` to its end (at most `maxReads` reads); returns the text. */
async function readToEnd(conn: Deno.Conn, maxReads = 1000): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  for (let reads = 0; reads < maxReads; reads++) {
    let count: number | null;
    try {
      count = await conn.read(buffer);
    } catch {
      break;
    }
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  return chunks.map((chunk) => DECODER.decode(chunk)).join("");
}

/** Sends `request` and returns the response's status line. */
async function statusOf(conn: Deno.Conn, request?: string): Promise<string> {
  if (request !== undefined) await writeAll(conn, ENCODER.encode(request));
  const text = await within(readToEnd(conn), 5000, "the response");
  return text.slice(0, text.indexOf("\r\n"));
}

const UPGRADE = "GET /nowhere HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

Deno.test("HttpPhase answers a plain request with the HTTP responder and hands an upgrade to the pipeline", async () => {
  await using harness = await PhaseHarness.start({
    routes: [{ path: "/", target: "127.0.0.1:9" }],
  });
  const plain = await harness.connect();
  try {
    assertEquals(
      await statusOf(plain, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"),
      "HTTP/1.1 200 OK",
    );
  } finally {
    plain.close();
  }
  const upgrade = await harness.connect();
  try {
    // The pipeline's route check: no route at /nowhere.
    assertEquals(await statusOf(upgrade, UPGRADE), "HTTP/1.1 404 Not Found");
  } finally {
    upgrade.close();
  }
});

Deno.test("HttpPhase refuses 503 once unfinished handshakes reach maxSessions", async () => {
  await using harness = await PhaseHarness.start({ maxSessions: 1 });
  const silent = await harness.connect();
  const refused = await harness.connect();
  try {
    assertEquals(await statusOf(refused), "HTTP/1.1 503 Service Unavailable");
    const event = harness.events.find((item) =>
      item.type === "handshake_refused"
    );
    assert(event?.type === "handshake_refused" && event.status === 503);
    assert(event.detail.includes("limit 1"), event.detail);
  } finally {
    refused.close();
    silent.close();
  }
});

Deno.test("HttpPhase refuses 429 to an address holding its share of handshakes once half of maxSessions is taken", async () => {
  await using harness = await PhaseHarness.start({
    maxSessions: 4,
    maxHandshakesPerIp: 2,
  });
  const first = await harness.connect();
  const second = await harness.connect();
  const third = await harness.connect();
  try {
    assertEquals(await statusOf(third), "HTTP/1.1 429 Too Many Requests");
  } finally {
    third.close();
    second.close();
    first.close();
  }
});

Deno.test("HttpPhase.expireHandshakes answers 408 once the head deadline has passed, not before", async () => {
  await using harness = await PhaseHarness.start({
    handshakeTimeoutMs: 60_000,
  });
  const silent = await harness.connect();
  try {
    harness.phase.expireHandshakes(Date.now());
    assertEquals(harness.events.length, 0);
    harness.phase.expireHandshakes(Date.now() + 61_000);
    assertEquals(await statusOf(silent), "HTTP/1.1 408 Request Timeout");
    const [event] = harness.events;
    assert(event?.type === "handshake_refused" && event.status === 408);
    assertEquals(event.detail, "no complete request head within 60000 ms");
  } finally {
    silent.close();
  }
});

Deno.test("HttpPhase.finish cuts a plain response the client stopped reading once its time is up", async () => {
  const body = "#".repeat(32 * 1024 * 1024);
  await using harness = await PhaseHarness.start(
    { handshakeTimeoutMs: 60_000 },
    () => body,
  );
  const reader = await harness.connect();
  try {
    await writeAll(
      reader,
      ENCODER.encode("GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n"),
    );
    // The first bytes prove the response is being written; then the
    // client reads nothing more while the rest fills the socket buffers.
    const first = new Uint8Array(16);
    assert((await within(reader.read(first), 5000, "first bytes")) !== null);
    assertEquals(DECODER.decode(first.subarray(0, 12)), "HTTP/1.1 200");
    await within(harness.phase.finish(0), 5000, "finish");
    // Cut: what arrives ends well before the whole body.
    const rest = await within(readToEnd(reader, 4000), 5000, "the cut");
    assert(rest.length < body.length, `${rest.length} bytes arrived`);
  } finally {
    reader.close();
  }
});
