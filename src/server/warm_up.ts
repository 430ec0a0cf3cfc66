/**
 * The cold-start warm-up: before a gateway accepts its first connection, a
 * private copy of it (same code, the configured routes' framings, a loopback
 * echo backend instead of the real targets, no events, its own metrics) is
 * driven through real loopback sessions for a bounded time. The handshake
 * parser, the upgrade pipeline, both pumps, the routes' codecs and the close
 * path then run JIT-compiled for the first real users, instead of the first
 * few thousand sessions paying for the compilation (a restarted gateway in a
 * fleet meets its reconnect storm cold).
 *
 * @module
 */

import type {
  GatewayOptions,
  ResolvedGatewayConfig,
  RouteOptions,
} from "../config/config.ts";
import { formatFramingSpec, minMessageBytes } from "../framing/spec.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../websocket/ws_frame_codec.ts";

/** Options of {@linkcode warmUp}. */
export interface WarmUpOptions {
  /**
   * How long sessions are started for once the copy listens, in
   * milliseconds (each client runs at least one); sessions under way then
   * finish (each is short) or are cut after twice this (at least a second).
   * @default {200}
   */
  budgetMs?: number;
  /** Sessions run at once (the reconnect storm is concurrent). @default {4} */
  parallel?: number;
}

/** What {@linkcode warmUp} did. */
export interface WarmUpReport {
  /** Sessions that completed their handshake. */
  sessions: number;
  /** Messages echoed back through the copy. */
  roundTrips: number;
  /** Sessions that failed (a framing the echo cannot round-trip, a cut). */
  failures: number;
  /** How long it took, in milliseconds. */
  elapsedMs: number;
  /** Why nothing ran (no loopback network permission), if so. */
  skipped?: string;
}

/** The private gateway copy {@linkcode warmUp} drives. */
export interface WarmUpGateway {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<Deno.NetAddr>;
  /** Stops it. */
  close(): Promise<void>;
}

/** The shortest time before a warm-up's client sockets are cut, in ms. */
const MIN_CUT_MS = 1000;
/** Most distinct route framings warmed (each is one route of the copy). */
const MAX_WARM_ROUTES = 4;
/**
 * Message sizes per session, cycled: one-byte, 7-bit, 16-bit and 64-bit
 * length headers, a typical packet, and (every few sessions) one above the
 * relay's 128 KiB copy threshold, which goes by reference.
 */
const SMALL_SIZES = [64, 2, 125, 126, 1500, 64];
const LARGE_SIZES = [16384, 70000, 140000];
/** Every this many sessions, one of them also sends the large sizes. */
const LARGE_EVERY = 16;
const READ_BYTES = 64 * 1024;
const HEAD_END = "\r\n\r\n";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One route of the copy and what its messages must look like. */
interface WarmRoute {
  /** The copy's route, without its target (the echo backend). */
  route: Omit<RouteOptions, "target">;
  path: string;
  subprotocol: string | undefined;
  isText: boolean;
  minBytes: number;
  maxBytes: number;
}

/**
 * Drives `start(options)` (a private gateway built from `config`'s route
 * framings) through loopback sessions for `budgetMs` from the moment it
 * listens (each of the `parallel` clients runs at least one session, so a
 * busy machine still warms), then closes it. Never throws: a failed session
 * counts as a failure, a missing permission skips the warm-up.
 *
 * @example Warm a gateway copy for a short budget
 * ```ts
 * import { warmUp } from "./warm_up.ts";
 * import { createGateway } from "./gateway.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const config = resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9", framing: "u16be" }],
 * });
 * const report = await warmUp(config, createGateway, { budgetMs: 20 });
 * assert.ok(report.sessions > 0);
 * assert.ok(report.roundTrips > 0);
 * ```
 *
 * @param config The configuration whose routes' framings are warmed.
 * @param start Builds the private copy from options (`createGateway`).
 * @param options The time budget and concurrency.
 * @returns What was done.
 */
export async function warmUp(
  config: ResolvedGatewayConfig,
  start: (options: GatewayOptions) => WarmUpGateway,
  options: WarmUpOptions = {},
): Promise<WarmUpReport> {
  const { budgetMs = 200, parallel = 4 } = options;
  const startedAt = performance.now();
  const report: WarmUpReport = {
    sessions: 0,
    roundTrips: 0,
    failures: 0,
    elapsedMs: 0,
  };
  const permission = await Deno.permissions.query({
    name: "net",
    host: "127.0.0.1",
  });
  if (permission.state !== "granted") {
    report.skipped = "no --allow-net for 127.0.0.1";
    return report;
  }
  const echo = new EchoBackend();
  const routes = warmRoutes(config);
  let gateway: WarmUpGateway | undefined;
  const clients = new Set<Deno.Conn>();
  let cut: ReturnType<typeof setTimeout> | undefined;
  try {
    gateway = start({
      hostname: "127.0.0.1",
      port: 0,
      allowOrigins: "*",
      console: false,
      metricsOnGatewayPort: false,
      closeTimeoutMs: budgetMs,
      drainTimeoutMs: budgetMs,
      routes: routes.map(({ route }) => ({
        ...route,
        target: `127.0.0.1:${echo.port}`,
      })),
    });
    const { port } = await gateway.listen();
    // One timer for the whole warm-up: past twice the budget (at least a
    // second), every client socket is cut, so no session can hold it up.
    cut = setTimeout(() => {
      for (const conn of clients) closeQuietly(conn);
    }, Math.max(budgetMs * 2, MIN_CUT_MS));
    const deadline = performance.now() + budgetMs;
    let next = 0;
    const worker = async () => {
      let isFirst = true;
      while (isFirst || performance.now() < deadline) {
        isFirst = false;
        const number = next++;
        const route = routes[number % routes.length]!;
        const sizes = number % LARGE_EVERY === 0
          ? [...SMALL_SIZES, ...LARGE_SIZES]
          : SMALL_SIZES;
        try {
          const roundTrips = await runSession(port, route, sizes, clients);
          report.roundTrips += roundTrips;
          report.sessions++;
        } catch {
          report.failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } catch {
    report.failures++;
  } finally {
    clearTimeout(cut);
    for (const conn of clients) closeQuietly(conn);
    await gateway?.close().catch(() => {});
    await echo.close();
  }
  report.elapsedMs = performance.now() - startedAt;
  return report;
}

/** The copy's routes: one per route of `config`, with its framings (at most 4). */
function warmRoutes(config: ResolvedGatewayConfig): WarmRoute[] {
  const routes: WarmRoute[] = [];
  for (const route of config.routes.values()) {
    if (routes.length === MAX_WARM_ROUTES) break;
    const path = `/warm-up-${routes.length}`;
    routes.push({
      route: {
        path,
        framingToBackend: formatFramingSpec(route.toBackend),
        framingToBrowser: formatFramingSpec(route.toBrowser),
        subprotocols: [...route.subprotocols],
        bufferBytes: route.bufferBytes,
        maxMessageBytes: route.maxMessageBytes,
      },
      path,
      subprotocol: route.subprotocols[0],
      isText: route.toBackend.text,
      minBytes: Math.max(
        minMessageBytes(route.toBackend),
        minMessageBytes(route.toBrowser),
      ),
      maxBytes: route.maxMessageBytes,
    });
  }
  if (routes.length === 0) {
    // No routes: the handshake and a default u32be session still warm.
    routes.push({
      route: { path: "/warm-up-0" },
      path: "/warm-up-0",
      subprotocol: undefined,
      isText: false,
      minBytes: 0,
      maxBytes: 16 * 1024 * 1024,
    });
  }
  return routes;
}

/**
 * One client session: handshake, one round trip per size, close. Returns
 * the round trips done; throws when the gateway refuses or the echo does not
 * come back whole.
 */
async function runSession(
  port: number,
  route: WarmRoute,
  sizes: readonly number[],
  clients: Set<Deno.Conn>,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  clients.add(conn);
  try {
    conn.setNoDelay(true);
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    await writeAll(
      conn,
      encoder.encode(
        `GET ${route.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (route.subprotocol === undefined
            ? ""
            : `Sec-WebSocket-Protocol: ${route.subprotocol}\r\n`) +
          "\r\n",
      ),
    );
    const client = new EchoCounter();
    const parser = new WsFrameParser(client, { expectMasked: false });
    const buffer = new Uint8Array(READ_BYTES);
    // The response head is read whole before any frame is sent, and the
    // gateway sends no frame unasked: whatever follows it is a frame.
    let filled = 0;
    let headEnd = -1;
    while (headEnd < 0) {
      const count = await conn.read(buffer.subarray(filled));
      if (count === null) throw new Error("closed during the handshake");
      filled += count;
      headEnd = decoder.decode(buffer.subarray(0, filled)).indexOf(HEAD_END);
      if (headEnd < 0 && filled === buffer.length) {
        throw new Error("response head too large");
      }
    }
    if (decoder.decode(buffer.subarray(0, 12)) !== "HTTP/1.1 101") {
      throw new Error("refused");
    }
    if (filled > headEnd + 4) parser.push(buffer.slice(headEnd + 4, filled));
    let roundTrips = 0;
    const opcode = route.isText ? Opcode.TEXT : Opcode.BINARY;
    for (const wanted of sizes) {
      const size = Math.min(route.maxBytes, Math.max(route.minBytes, wanted));
      const payload = new Uint8Array(size).fill(0x61);
      await writeAll(conn, encodeClientFrame(opcode, payload));
      const expected = client.received + size;
      while (client.received < expected) {
        if (client.isClosed) throw new Error("closed by the gateway");
        const count = await conn.read(buffer);
        if (count === null) throw new Error("closed by the gateway");
        parser.push(buffer.subarray(0, count));
      }
      roundTrips++;
    }
    await writeAll(
      conn,
      encodeClientFrame(Opcode.CLOSE, new Uint8Array([0x03, 0xe8])),
    );
    while (!client.isClosed) {
      const count = await conn.read(buffer);
      if (count === null) break;
      parser.push(buffer.subarray(0, count));
    }
    return roundTrips;
  } finally {
    clients.delete(conn);
    closeQuietly(conn);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Counts echoed payload bytes and notices the gateway's close frame. */
class EchoCounter {
  received = 0;
  isClosed = false;

  onMessage(_isText: boolean, payload: Uint8Array): void {
    this.received += payload.length;
  }

  onControl(opcode: number): void {
    if (opcode === Opcode.CLOSE) this.isClosed = true;
  }
}

/** A loopback TCP echo server standing in for the routes' backends. */
class EchoBackend {
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #serving: Promise<void>;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#serving = this.#serve();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async close(): Promise<void> {
    closeQuietly(this.#listener);
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#serving;
  }

  async #serve(): Promise<void> {
    const echoing = new Set<Promise<void>>();
    try {
      for await (const conn of this.#listener) {
        const done = this.#echo(conn);
        echoing.add(done);
        done.then(() => echoing.delete(done));
      }
    } catch {
      // Closed.
    }
    await Promise.all(echoing);
  }

  async #echo(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    const buffer = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) break;
        await writeAll(conn, buffer.subarray(0, count));
      }
    } catch {
      // Closed by the gateway or at the end of the warm-up.
    } finally {
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }
}
