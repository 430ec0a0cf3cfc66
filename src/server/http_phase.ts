/**
 * The plain-HTTP phase of every accepted connection: the caps on unfinished
 * handshakes (overall and per address), reading the request head under its
 * deadline, then either the upgrade pipeline or the small HTTP responder
 * (health, metrics, console, static files, the demo page) with its response
 * written under a stall deadline. It tracks what is still in this phase, so
 * the gateway's sweep can expire slow heads (408) and shutdown can wait for,
 * then cut, what is left.
 *
 * @module
 */

import type { ConsoleStats } from "../http/console_page.ts";
import type { HttpRefusal, RequestHead } from "../http/request_head.ts";
import { readRequestHead } from "../http/request_head_reader.ts";
import { respondToHttpRequest } from "../http/http_routes.ts";
import {
  sendHttpResponse,
  sendRefusal,
  sendRefusalWithoutLinger,
} from "../http/http_replies.ts";
import { demoPageHtml } from "../demo/demo_page.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import { WriteStalledError } from "../io/write_progress.ts";
import type { RelaySession } from "../session/relay.ts";
import { isUpgradeRequest } from "../websocket/handshake.ts";
import type { Reporter } from "./_reporter.ts";
import { clientAddress, remoteAddress } from "./client_address.ts";
import {
  ConnectionsByAddress,
  type TrackedConnection,
} from "./connections_by_address.ts";
import type { Generation } from "./generation.ts";
import { isPlaintextOnTls, PlaintextNotices } from "./plaintext_on_tls.ts";
import type { SessionTable } from "./session_table.ts";
import type { UpgradePipeline } from "./upgrade_pipeline.ts";

/** Options for {@linkcode HttpPhase}; every field is required. */
export interface HttpPhaseOptions {
  /** The current generation, read once per connection (a reload swaps it). */
  generation: () => Generation;
  /** The session table: whether the gateway drains, the store's health. */
  table: SessionTable<RelaySession>;
  /** Where upgrade requests go once their head is read. */
  pipeline: UpgradePipeline;
  /** Events and the refusal counters. */
  reporter: Reporter;
  /** The Prometheus text for /metrics, when the configuration serves it. */
  renderMetrics: () => string;
  /** The console's live view. */
  consoleStats: () => ConsoleStats;
}

/**
 * Takes accepted connections through their HTTP phase.
 *
 * @example Answer /healthz on an accepted connection
 * ```ts
 * import { HttpPhase } from "./http_phase.ts";
 * import { Reporter } from "./_reporter.ts";
 * import { SessionTable } from "./session_table.ts";
 * import { UpgradePipeline } from "./upgrade_pipeline.ts";
 * import { CompressionNegotiator } from "./_compression_negotiator.ts";
 * import { buildGeneration, initGeneration } from "./generation.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import { GatewayMetrics } from "../observability/gateway_metrics.ts";
 * import type { RelaySession } from "../session/relay.ts";
 * import assert from "node:assert/strict";
 * const table = new SessionTable<RelaySession>();
 * const metrics = new GatewayMetrics();
 * const reporter = new Reporter(metrics, () => {});
 * const generation = buildGeneration(resolveOptions({ port: 0 }), {
 *   replayCache: table.replayCache,
 * });
 * await initGeneration(generation);
 * const phase = new HttpPhase({
 *   generation: () => generation,
 *   table,
 *   pipeline: new UpgradePipeline({
 *     table,
 *     reporter,
 *     compression: new CompressionNegotiator({ limitBytes: 0, metrics }),
 *   }),
 *   reporter,
 *   renderMetrics: () => "",
 *   consoleStats: () => ({
 *     sessionsOpen: 0,
 *     bytesToBackend: 0,
 *     bytesToBrowser: 0,
 *     sessions: [],
 *   }),
 * });
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await Deno.connect({
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 * });
 * phase.handle(await listener.accept());
 * await client.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\n\r\n"));
 * const reply = new Uint8Array(1024);
 * const count = await client.read(reply);
 * assert.match(new TextDecoder().decode(reply.subarray(0, count ?? 0)), /^HTTP\/1\.1 200 /);
 * client.close();
 * await phase.finish(1000);
 * ```
 */
export class HttpPhase {
  #options: HttpPhaseOptions;
  #reporter: Reporter;
  /** Connections still sending their request head, with their deadline. */
  #handshakes = new ConnectionsByAddress();
  /** Connections receiving a plain HTTP response (static files, metrics). */
  #responses = new ConnectionsByAddress();
  /** Every connection's handling and every 408 being sent. */
  #pending = new Set<Promise<void>>();
  #plaintextNotices = new PlaintextNotices();

  /**
   * Constructs the phase.
   * @param options The generation, table, pipeline, reporter and views.
   */
  constructor(options: HttpPhaseOptions) {
    this.#options = options;
    this.#reporter = options.reporter;
  }

  /**
   * Takes one accepted connection through its HTTP phase; a failure is
   * reported as an error event and closes the connection.
   * @param conn The accepted connection.
   */
  handle(conn: Deno.Conn): void {
    const handling = this.#handle(conn).catch((error) =>
      this.#reporter.emit({
        type: "error",
        message: "connection handling failed",
        detail: String(error),
      })
    );
    this.#track(handling);
  }

  /**
   * Answers 408 to every connection whose request head deadline has passed
   * (slow loris, or a client that never speaks); called by the sweep. The
   * head reader's pending read then fails and its handler ends quietly.
   * @param nowMs The current `Date.now()`.
   */
  expireHandshakes(nowMs: number): void {
    for (const pending of this.#handshakes) {
      if (nowMs >= pending.deadlineMs) {
        this.#handshakes.delete(pending);
        this.#expire(pending);
      }
    }
  }

  /** Closes the connections still sending their request head (shutdown). */
  closeHandshakes(): void {
    for (const pending of this.#handshakes) closeQuietly(pending.conn);
  }

  /**
   * Ends the phase at shutdown, once nothing new is accepted: closes the
   * connections still sending their head, gives plain HTTP responses (a
   * large file to a client that reads nothing) and upgrades still
   * connecting up to `timeoutMs`, then cuts the responses and waits for
   * every handler to end.
   * @param timeoutMs How long responses may still take, in milliseconds.
   */
  async finish(timeoutMs: number): Promise<void> {
    this.closeHandshakes();
    await withTimeout(Promise.all(this.#pending), timeoutMs);
    for (const entry of this.#responses) closeQuietly(entry.conn);
    await Promise.all(this.#pending);
  }

  #track(work: Promise<void>): void {
    this.#pending.add(work);
    work.then(() => this.#pending.delete(work));
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const generation = this.#options.generation();
    const config = generation.config;
    const peer = remoteAddress(conn.remoteAddr);
    const pending: TrackedConnection = {
      conn,
      deadlineMs: Date.now() + config.handshakeTimeoutMs,
      client: peer.text,
      ip: peer.ip,
    };
    const unfinished = this.#handshakes.size + this.#responses.size;
    if (unfinished >= config.maxSessions) {
      // Connections that have not finished their request, or their plain
      // HTTP response, count against the session limit too, so slow
      // handshakes and slow readers cannot pile up without bound.
      await this.#refuse(
        conn,
        {
          status: 503,
          body: "Too many connections",
          headers: { "retry-after": "5" },
        },
        peer.text,
        `${unfinished} handshakes and HTTP responses in progress (limit ${config.maxSessions})`,
      );
      return;
    }
    const fromPeer = this.#handshakes.countFor(peer.ip) +
      this.#responses.countFor(peer.ip);
    if (
      config.maxHandshakesPerIp > 0 &&
      fromPeer >= config.maxHandshakesPerIp &&
      unfinished * 2 >= config.maxSessions &&
      generation.trustedProxies?.(peer.ip) !== true
    ) {
      // Under pressure (half the cap above is taken), one address may not
      // hold more than its share, so it cannot starve every other client;
      // without pressure a burst from one address (a local proxy, a
      // reconnect storm) passes.
      await this.#refuse(
        conn,
        {
          status: 429,
          body: "Too many handshakes from this address",
          headers: { "retry-after": "5" },
        },
        peer.text,
        `${fromPeer} handshakes and HTTP responses in progress from ${peer.ip} (limit ${config.maxHandshakesPerIp})`,
      );
      return;
    }
    this.#handshakes.add(pending);
    let head: RequestHead;
    let leftover: Uint8Array | undefined;
    try {
      const read = await readRequestHead(conn, config.maxHeadBytes);
      if (read.kind === "closed") {
        this.#handshakes.delete(pending);
        closeQuietly(conn);
        return;
      }
      if (read.kind === "refused") {
        this.#handshakes.delete(pending);
        await this.#refuse(conn, read.refusal, peer.text, read.refusal.body);
        return;
      }
      head = read.head;
      leftover = read.leftover;
    } catch (error) {
      // Read failed, TLS failed, or the sweep closed a slow handshake.
      this.#handshakes.delete(pending);
      if (isPlaintextOnTls(error)) this.#notePlaintextOnTls(peer.text);
      closeQuietly(conn);
      return;
    }
    this.#handshakes.delete(pending);
    const client = clientAddress(peer, head, generation.trustedProxies);
    try {
      if (isUpgradeRequest(head.headers)) {
        await this.#options.pipeline.run({
          conn,
          head,
          client,
          leftover,
          generation,
        });
      } else {
        await this.#respond(pending, head, generation);
      }
    } catch (error) {
      closeQuietly(conn);
      this.#reporter.emit({
        type: "error",
        message: "connection handling failed",
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Logs (at most once per interval) a client that skipped TLS. */
  #notePlaintextOnTls(client: string): void {
    const detail = this.#plaintextNotices.take(client, Date.now());
    if (detail === undefined) return;
    this.#reporter.emit({
      type: "warning",
      message: "plain HTTP on the TLS port",
      detail,
    });
  }

  async #respond(
    tracked: TrackedConnection,
    head: RequestHead,
    generation: Generation,
  ): Promise<void> {
    const conn = tracked.conn;
    const config = generation.config;
    const table = this.#options.table;
    const response = await respondToHttpRequest(head, {
      isDraining: table.isDraining,
      ...(head.path === "/healthz"
        ? { storeProblem: await table.checkHealth() }
        : {}),
      // An admin listener (which turns metrics off here) serves health too.
      isHealthEnabled: config.metricsOnGatewayPort,
      demoPage: config.demoPage ? demoPageHtml : undefined,
      isConsoleEnabled: config.console,
      routes: [...config.routes.keys()],
      renderMetrics: config.metricsOnGatewayPort
        ? this.#options.renderMetrics
        : undefined,
      consoleStats: this.#options.consoleStats,
      staticFiles: generation.staticFiles,
      ...(config.isWebAuth && config.authCheck !== undefined
        ? { authCheck: config.authCheck }
        : {}),
    });
    this.#responses.add(tracked);
    try {
      await sendHttpResponse(conn, response, config.handshakeTimeoutMs);
    } catch (error) {
      if (!(error instanceof WriteStalledError)) throw error;
      this.#reporter.emit({
        type: "warning",
        message: "slow reader cut",
        detail:
          `${tracked.client} ${head.method} ${head.path}: ${error.message}`,
      });
    } finally {
      this.#responses.delete(tracked);
    }
  }

  /** A connection whose request head did not arrive in time: 408. */
  #expire(pending: TrackedConnection): void {
    const refusal: HttpRefusal = { status: 408, body: "Request head timeout" };
    this.#reporter.refused(
      refusal,
      pending.client,
      "",
      `no complete request head within ${this.#options.generation().config.handshakeTimeoutMs} ms`,
    );
    this.#track(sendRefusalWithoutLinger(pending.conn, refusal));
  }

  async #refuse(
    conn: Deno.Conn,
    refusal: HttpRefusal,
    client: string,
    detail: string,
  ): Promise<void> {
    this.#reporter.refused(refusal, client, "", detail);
    await sendRefusal(conn, refusal);
  }
}
