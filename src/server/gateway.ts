/**
 * The gateway: accepts TCP connections with `Deno.listen`, parses the HTTP
 * request head itself, answers plain GETs with the small HTTP responder,
 * upgrades WebSocket requests on configured routes, dials the route's
 * backend and hands both sockets to a {@linkcode RelaySession}. One shared
 * coarse sweep drives every session's timers and the handshake deadlines.
 *
 * @module
 */

import {
  type GatewayOptions,
  type ResolvedGatewayConfig,
  type ResolvedRoute,
  resolveOptions,
} from "../config/config.ts";
import {
  createFrameDecoder,
  createFrameEncoder,
} from "../framing/create_codec.ts";
import type { EventSink, GatewayEvent } from "../observability/events.ts";
import { CloseCode } from "../session/close_codes.ts";
import { RelaySession, type SessionSummary } from "../session/relay.ts";
import { encodeClosePayload } from "../websocket/close_frame.ts";
import {
  checkUpgradeHeaders,
  computeAcceptKey,
  encodeHttpResponse,
  type HttpRefusal,
  isUpgradeRequest,
  parseRequestHead,
  type RequestHead,
  selectSubprotocol,
} from "../websocket/handshake.ts";
import { encodeServerFrame, Opcode } from "../websocket/ws_frame_codec.ts";
import { connectBackend, formatTarget } from "./backend_connect.ts";
import { respondToHttpRequest } from "./http_routes.ts";

/** A running (or ready to run) gateway. */
export interface Gateway {
  /**
   * Starts listening; resolves with the bound address (the real port when 0
   * was asked for).
   */
  listen(): Promise<Deno.NetAddr>;
  /** The bound address; throws before {@linkcode Gateway.listen}. */
  readonly addr: Deno.NetAddr;
  /** Sessions currently open. */
  readonly sessionCount: number;
  /** Whether the gateway is draining (shutting down). */
  readonly isDraining: boolean;
  /**
   * Graceful shutdown: stops accepting at once, flushes every session both
   * ways and closes it with 1001, waits up to `drainTimeoutMs`, then
   * force-closes what is left. Idempotent.
   */
  close(): Promise<void>;
  /** Same as {@linkcode Gateway.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A connection still in its HTTP phase, with its deadline. */
interface PendingHandshake {
  conn: Deno.Conn;
  deadlineMs: number;
}

/**
 * Creates a gateway from options; validates them at once (throws
 * `ConfigError`) but opens no socket until `listen()`.
 *
 * @example Start on a free port and stop
 * ```ts
 * import { createGateway } from "./gateway.ts";
 * import assert from "node:assert/strict";
 * await using gateway = createGateway({
 *   port: 0,
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 * });
 * const addr = await gateway.listen();
 * assert.ok(addr.port > 0);
 * ```
 *
 * @param options The gateway options.
 * @returns The gateway.
 */
export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayServer(resolveOptions(options), options.onEvent);
}

let nextSessionNumber = 0;

class GatewayServer implements Gateway {
  #config: ResolvedGatewayConfig;
  #onEvent: EventSink;
  #listener: Deno.Listener | undefined;
  #sessions = new Set<RelaySession>();
  #handshakes = new Set<PendingHandshake>();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #acceptLoop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #isDraining = false;

  constructor(config: ResolvedGatewayConfig, onEvent: EventSink | undefined) {
    this.#config = config;
    this.#onEvent = onEvent ?? (() => {});
  }

  get addr(): Deno.NetAddr {
    if (this.#listener === undefined) {
      throw new TypeError(
        "Cannot read address as the gateway is not listening",
      );
    }
    return this.#listener.addr as Deno.NetAddr;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get isDraining(): boolean {
    return this.#isDraining;
  }

  listen(): Promise<Deno.NetAddr> {
    if (this.#listener !== undefined) {
      return Promise.reject(
        new TypeError("Cannot listen as the gateway is already listening"),
      );
    }
    const listener = Deno.listen({
      hostname: this.#config.hostname,
      port: this.#config.port,
    });
    this.#listener = listener;
    const addr = listener.addr;
    this.#sweepTimer = setInterval(
      () => this.#sweep(),
      sweepPeriodMs(this.#config),
    );
    this.#acceptLoop = this.#accept(listener);
    this.#emit({
      type: "listening",
      hostname: addr.hostname,
      port: addr.port,
      tls: false,
    });
    return Promise.resolve(addr);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    this.#isDraining = true;
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    await this.#acceptLoop;
    for (const pending of this.#handshakes) closeQuietly(pending.conn);
    const ends = [...this.#sessions].map((session) =>
      session.close(CloseCode.GOING_AWAY, "gateway shutting down")
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(ends),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#config.drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    clearInterval(this.#sweepTimer);
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#handleConnection(conn);
      }
    } catch (error) {
      if (!this.#isDraining) {
        this.#emit({
          type: "error",
          message: "accept loop failed",
          detail: String(error),
        });
      }
    }
  }

  #emit(event: GatewayEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // A faulty sink must not break the data path.
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const pending of this.#handshakes) {
      if (now >= pending.deadlineMs) {
        this.#handshakes.delete(pending);
        closeQuietly(pending.conn);
      }
    }
    for (const session of this.#sessions) session.tick(now);
  }

  async #handleConnection(conn: Deno.Conn): Promise<void> {
    const pending: PendingHandshake = {
      conn,
      deadlineMs: Date.now() + this.#config.handshakeTimeoutMs,
    };
    this.#handshakes.add(pending);
    const client = formatRemote(conn.remoteAddr);
    let head: RequestHead | undefined;
    let leftover: Uint8Array | undefined;
    try {
      const maxHead = this.#config.maxHeadBytes;
      let buffer = new Uint8Array(Math.min(2048, maxHead));
      let filled = 0;
      for (;;) {
        if (filled === buffer.length) {
          const grown = new Uint8Array(Math.min(buffer.length * 2, maxHead));
          grown.set(buffer);
          buffer = grown;
        }
        const count = await conn.read(buffer.subarray(filled));
        if (count === null) {
          this.#handshakes.delete(pending);
          closeQuietly(conn);
          return;
        }
        filled += count;
        const result = parseRequestHead(buffer.subarray(0, filled), maxHead);
        if (result.kind === "incomplete") continue;
        if (result.kind === "refused") {
          this.#handshakes.delete(pending);
          await this.#refuse(
            conn,
            result.refusal,
            client,
            "",
            "malformed request",
          );
          return;
        }
        head = result.head;
        if (filled > head.headLength) {
          leftover = buffer.slice(head.headLength, filled);
        }
        break;
      }
    } catch {
      // Read failed or the sweep closed a slow handshake.
      this.#handshakes.delete(pending);
      closeQuietly(conn);
      return;
    }
    this.#handshakes.delete(pending);
    try {
      if (isUpgradeRequest(head.headers)) {
        await this.#upgrade(conn, head, client, leftover);
      } else {
        const response = respondToHttpRequest(head, {
          isDraining: this.#isDraining,
          isDemoPageEnabled: this.#config.demoPage,
          routes: [...this.#config.routes.keys()],
        });
        await writeAll(conn, response);
        closeQuietly(conn);
      }
    } catch (error) {
      closeQuietly(conn);
      this.#emit({
        type: "error",
        message: "connection handling failed",
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async #refuse(
    conn: Deno.Conn,
    refusal: HttpRefusal,
    client: string,
    path: string,
    detail: string,
  ): Promise<void> {
    this.#emit({
      type: "handshake_refused",
      status: refusal.status,
      reason: refusal.body,
      detail,
      client,
      path,
    });
    try {
      await writeAll(
        conn,
        encodeHttpResponse(refusal.status, {
          "content-type": "text/plain; charset=utf-8",
          ...refusal.headers,
        }, refusal.body + "\n"),
      );
    } catch {
      // The client went away; nothing to tell it.
    }
    closeQuietly(conn);
  }

  async #upgrade(
    conn: Deno.Conn,
    head: RequestHead,
    client: string,
    leftover: Uint8Array | undefined,
  ): Promise<void> {
    const route = this.#config.routes.get(head.path);
    if (route === undefined) {
      return this.#refuse(
        conn,
        { status: 404, body: "No such route" },
        client,
        head.path,
        "no route for path",
      );
    }
    const checked = checkUpgradeHeaders(head.method, head.headers);
    if (!("key" in checked)) {
      return this.#refuse(conn, checked, client, head.path, checked.body);
    }
    const subprotocol = selectSubprotocol(
      head.headers.get("sec-websocket-protocol"),
      route.subprotocols,
    );
    if (subprotocol === null) {
      return this.#refuse(
        conn,
        {
          status: 400,
          body: "None of the offered subprotocols is accepted",
        },
        client,
        head.path,
        `offered: ${head.headers.get("sec-websocket-protocol")}`,
      );
    }
    if (this.#isDraining) {
      return this.#refuse(
        conn,
        { status: 503, body: "Gateway shutting down" },
        client,
        head.path,
        "draining",
      );
    }
    const sessionId = `s${(++nextSessionNumber).toString(36)}`;
    const targetText = formatTarget(route.target);
    const acceptPromise = computeAcceptKey(checked.key);
    let backend: Deno.Conn;
    try {
      backend = await connectBackend(
        route.target,
        this.#config.connectTimeoutMs,
      );
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.#emit({ type: "backend_error", sessionId, detail });
      await this.#acceptThenClose(
        conn,
        await acceptPromise,
        subprotocol,
        CloseCode.INTERNAL_ERROR,
        "backend unreachable",
      );
      this.#emitClose(sessionId, route, client, targetText, {
        code: CloseCode.INTERNAL_ERROR,
        reason: "backend unreachable",
        detail,
        initiator: "backend",
        bytesToBackend: 0,
        bytesToBrowser: 0,
        messagesToBackend: 0,
        messagesToBrowser: 0,
        durationMs: 0,
      });
      return;
    }
    if (this.#isDraining) {
      closeQuietly(backend);
      return this.#refuse(
        conn,
        { status: 503, body: "Gateway shutting down" },
        client,
        head.path,
        "draining",
      );
    }
    try {
      await writeAll(
        conn,
        switchingProtocols(await acceptPromise, subprotocol),
      );
    } catch {
      closeQuietly(conn);
      closeQuietly(backend);
      return;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const session = this.#startSession(
      sessionId,
      route,
      conn,
      backend,
      leftover,
      client,
      targetText,
    );
    this.#sessions.add(session);
  }

  #startSession(
    sessionId: string,
    route: ResolvedRoute,
    conn: Deno.Conn,
    backend: Deno.Conn,
    leftover: Uint8Array | undefined,
    client: string,
    targetText: string,
  ): RelaySession {
    const config = this.#config;
    this.#emit({
      type: "session_open",
      sessionId,
      route: route.path,
      client,
      target: targetText,
    });
    const session: RelaySession = new RelaySession(sessionId, conn, backend, {
      encoder: createFrameEncoder(route.toBackend),
      decoder: createFrameDecoder(route.toBrowser),
      isTextToBrowser: route.toBrowser.text,
      maxMessageBytes: route.maxMessageBytes,
      highWaterBytes: route.bufferBytes,
      closeTimeoutMs: config.closeTimeoutMs,
      timers: {
        pingIntervalMs: config.pingIntervalMs,
        pingTimeoutMs: config.pingTimeoutMs,
        idleTimeoutMs: route.idleTimeoutMs,
        maxLifetimeMs: route.maxLifetimeMs,
        backendHeartbeatMs: route.backendHeartbeatMs,
        backendSilenceMs: route.backendSilenceMs,
      },
      heartbeatMessage: route.backendHeartbeatMessage,
      initialBrowserBytes: leftover,
      now: Date.now,
      onClose: (summary) => {
        this.#sessions.delete(session);
        this.#emitClose(sessionId, route, client, targetText, summary);
      },
    });
    session.start();
    return session;
  }

  #emitClose(
    sessionId: string,
    route: ResolvedRoute,
    client: string,
    target: string,
    summary: SessionSummary,
  ): void {
    this.#emit({
      type: "session_close",
      sessionId,
      route: route.path,
      client,
      target,
      code: summary.code,
      reason: summary.reason,
      detail: `${summary.initiator} ended the session${
        summary.detail === undefined ? "" : `: ${summary.detail}`
      }`,
      bytesToBackend: summary.bytesToBackend,
      bytesToBrowser: summary.bytesToBrowser,
      framesToBackend: summary.messagesToBackend,
      framesToBrowser: summary.messagesToBrowser,
      durationMs: summary.durationMs,
    });
  }

  /** Completes the upgrade only to close at once with a readable reason. */
  async #acceptThenClose(
    conn: Deno.Conn,
    accept: string,
    subprotocol: string | undefined,
    code: number,
    reason: string,
  ): Promise<void> {
    try {
      const response = switchingProtocols(accept, subprotocol);
      const close = encodeServerFrame(
        Opcode.CLOSE,
        encodeClosePayload(code, reason),
      );
      const bytes = new Uint8Array(response.length + close.length);
      bytes.set(response, 0);
      bytes.set(close, response.length);
      await writeAll(conn, bytes);
      // Give the browser a moment to answer the close frame, bounded.
      const buffer = new Uint8Array(256);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        conn.read(buffer).catch(() => null),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#config.closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    } catch {
      // The browser went away first.
    }
    closeQuietly(conn);
  }
}

const ASCII = new TextEncoder();

function switchingProtocols(
  accept: string,
  subprotocol: string | undefined,
): Uint8Array {
  return ASCII.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      (subprotocol === undefined
        ? ""
        : `Sec-WebSocket-Protocol: ${subprotocol}\r\n`) +
      "\r\n",
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) {
    const written = await conn.write(rest);
    rest = rest.subarray(written);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function formatRemote(addr: Deno.Addr): string {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
  }
  return addr.transport;
}

/** The sweep runs often enough for the shortest configured timer. */
function sweepPeriodMs(config: ResolvedGatewayConfig): number {
  let shortest = Math.min(
    config.handshakeTimeoutMs || Infinity,
    config.pingIntervalMs || Infinity,
    config.pingTimeoutMs || Infinity,
  );
  for (const route of config.routes.values()) {
    for (
      const value of [
        route.idleTimeoutMs,
        route.maxLifetimeMs,
        route.backendHeartbeatMs,
        route.backendSilenceMs,
      ]
    ) {
      if (value > 0) shortest = Math.min(shortest, value);
    }
  }
  return Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
}
