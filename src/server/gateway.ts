/**
 * The gateway: accepts TCP (or TLS) connections with `Deno.listen`, parses
 * the HTTP request head itself, answers plain GETs with the small HTTP
 * responder, decides upgrades with the {@linkcode UpgradePolicy}, dials the
 * backend and hands both sockets to a {@linkcode RelaySession}. One shared
 * coarse sweep drives every session's timers, handshake deadlines, metrics
 * and certificate reloads.
 *
 * @module
 */

import {
  type GatewayOptions,
  type ResolvedGatewayConfig,
  type ResolvedRoute,
  resolveOptions,
} from "../config/config.ts";
import type { ConsoleStats } from "../http/console_page.ts";
import type { EventSink, GatewayEvent } from "../observability/events.ts";
import { GatewayMetrics } from "../observability/gateway_metrics.ts";
import type { ClientLimits } from "../security/client_limits.ts";
import { ReplayCache } from "../security/replay_cache.ts";
import { StoreClientPool } from "../store/store_client_pool.ts";
import { sameOriginExposureWarning } from "../security/origin_policy.ts";
import { CloseCode } from "../session/close_codes.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import { RelaySession } from "../session/relay.ts";
import type { SessionSummary } from "../session/relay_options.ts";
import {
  computeAcceptKey,
  type HttpRefusal,
  isUpgradeRequest,
  type RequestHead,
} from "../websocket/handshake.ts";
import { closeQuietly } from "../io/close_quietly.ts";
import { awaitOneRead, writeAll } from "./_conn_io.ts";
import {
  sendHttpResponse,
  sendRefusal,
  sendRefusalWithoutLinger,
  switchingProtocols,
  switchingProtocolsThenClose,
} from "./_http_replies.ts";
import { relaySettings, sweepPeriodMs } from "./_relay_settings.ts";
import {
  backendUnreachableSummary,
  recordTraffic,
  sessionCloseEvent,
} from "./_session_reports.ts";
import { connectBackend } from "./backend_connect.ts";
import {
  type ClientAddress,
  clientAddress,
  proxyHeader,
  remoteAddress,
} from "./client_address.ts";
import {
  buildGeneration,
  type Generation,
  initGeneration,
  sessionCaps,
} from "./generation.ts";
import { respondToHttpRequest } from "./http_routes.ts";
import { AcceptRetry } from "./accept_retry.ts";
import { ListenerOpener } from "./listener_opener.ts";
import { readRequestHead } from "./request_head_reader.ts";
import { SessionRecorder } from "./session_recorder.ts";

/** A running (or ready to run) gateway. */
export interface Gateway {
  /**
   * Starts listening; resolves with the bound address (the real port when 0
   * was asked for). Rejects with `ConfigError` when a token file or ticket
   * secret cannot be loaded.
   */
  listen(): Promise<Deno.NetAddr>;
  /** The bound address; throws before {@linkcode Gateway.listen}. */
  readonly addr: Deno.NetAddr;
  /** Sessions currently open. */
  readonly sessionCount: number;
  /** Whether the gateway is draining (shutting down). */
  readonly isDraining: boolean;
  /**
   * Why the listener is not accepting connections (`accept()` failing, for
   * example with "Too many open files", and being retried); `undefined`
   * while it accepts.
   */
  readonly acceptFailure: string | undefined;
  /** The gateway's metrics. */
  readonly metrics: GatewayMetrics;
  /** Renders this gateway's metrics in the Prometheus text format. */
  renderMetrics(): string;
  /**
   * Replaces routes, tokens, origins and limits atomically. New sessions use
   * the new configuration; open sessions continue undisturbed. Rejects (and
   * keeps the old configuration) when the new one is invalid. The listen
   * address, TLS files and `onEvent` are not changed by a reload.
   */
  reload(options: GatewayOptions): Promise<void>;
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
  /** The client's address, for the log and metrics of a timeout. */
  client: string;
}

/** What the gateway keeps per open session. */
interface SessionEntry {
  route: string;
  client: string;
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
  return new GatewayServer(
    resolveOptions(options),
    options.onEvent,
    options.metricsRenderer,
  );
}

let nextSessionNumber = 0;
const SESSION_PREFIX = crypto.randomUUID().slice(0, 4);

class GatewayServer implements Gateway {
  #generation: Generation;
  #onEvent: EventSink;
  #listener: Deno.Listener | undefined;
  #sessions = new Map<RelaySession, SessionEntry>();
  #handshakes = new Set<PendingHandshake>();
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #acceptLoops: Promise<void>[] = [];
  #pendingHttp = new Set<Promise<void>>();
  /** Connections being sent a plain HTTP response, cut at the drain deadline. */
  #httpConns = new Set<Deno.Conn>();
  #closing: Promise<void> | undefined;
  #isDraining = false;
  #isListenCalled = false;
  /** Set just before shutdown closes the listener: accept loops end. */
  #isListenerClosed = false;
  /** Why the listener is not accepting; undefined while it is. */
  #acceptFailure: string | undefined;
  /** Wakes the accept loops waiting out a backoff, at shutdown. */
  #acceptPauseWakers = new Set<() => void>();
  #listenerOpener = new ListenerOpener();
  #lastCertCheckMs = 0;
  readonly metrics: GatewayMetrics = new GatewayMetrics();

  #metricsRenderer: (() => string) | undefined;
  readonly #replayCache = new ReplayCache();
  /** The Redis clients of `tokens: "redis"` routes, kept across reloads. */
  readonly #storeClients = new StoreClientPool();
  #limits: ClientLimits;

  constructor(
    config: ResolvedGatewayConfig,
    onEvent: EventSink | undefined,
    metricsRenderer: (() => string) | undefined,
  ) {
    this.#onEvent = onEvent ?? (() => {});
    this.#metricsRenderer = metricsRenderer;
    // Counts and used ticket ids belong to the process, not to one
    // configuration: every generation shares these two.
    this.#generation = buildGeneration(config, {
      replayCache: this.#replayCache,
      storeClients: this.#storeClients,
    });
    this.#limits = this.#generation.limits;
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

  get acceptFailure(): string | undefined {
    return this.#acceptFailure;
  }

  async listen(): Promise<Deno.NetAddr> {
    // Claimed before the first await, so a second concurrent call fails
    // instead of opening a second listener.
    if (this.#isListenCalled) {
      throw new TypeError("Cannot listen as the gateway is already listening");
    }
    this.#isListenCalled = true;
    await initGeneration(this.#generation);
    const config = this.#generation.config;
    const listener = await this.#listenerOpener.open(config, config.port);
    this.#listener = listener;
    const addr = listener.addr as Deno.NetAddr;
    this.#sweepTimer = setInterval(
      () => this.#sweep(),
      sweepPeriodMs(config),
    );
    this.#acceptLoops.push(this.#accept(listener));
    if (config.allowOrigins === "*") {
      this.#emit({
        type: "warning",
        message:
          'origin checks are off (allowOrigins "*"): any web page may open sessions',
      });
    }
    const exposure = sameOriginExposureWarning(
      config.allowOrigins,
      addr.hostname,
    );
    if (exposure !== undefined) {
      this.#emit({ type: "warning", message: exposure });
    }
    this.#emit({
      type: "listening",
      hostname: addr.hostname,
      port: addr.port,
      tls: config.tls !== undefined,
    });
    return addr;
  }

  async reload(options: GatewayOptions): Promise<void> {
    const generation = buildGeneration(resolveOptions(options), {
      limits: this.#limits,
      replayCache: this.#replayCache,
      storeClients: this.#storeClients,
    });
    await initGeneration(generation);
    this.#limits.setLimits(sessionCaps(generation.config));
    this.#generation = generation;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    // Draining: new upgrades get 503 and /healthz answers 503 (so a load
    // balancer moves on), while every open session flushes and closes 1001.
    this.#isDraining = true;
    for (const pending of this.#handshakes) closeQuietly(pending.conn);
    const ends = [...this.#sessions.keys()].map((session) =>
      session.close(CloseCode.GOING_AWAY, "gateway shutting down")
    );
    const drainTimeoutMs = this.#generation.config.drainTimeoutMs;
    const deadline = performance.now() + drainTimeoutMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    await withTimeout(Promise.all(ends), drainTimeoutMs);
    // Past the deadline: cut what is left.
    await this.#abortSessions();
    this.#isListenerClosed = true;
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const wake of [...this.#acceptPauseWakers]) wake();
    await Promise.all(this.#acceptLoops);
    for (const pending of this.#handshakes) closeQuietly(pending.conn);
    // Plain HTTP responses (a large static file to a client that reads
    // nothing) and upgrades still connecting get what is left of the drain
    // time; then their connections are cut.
    await withTimeout(Promise.all(this.#pendingHttp), remaining());
    for (const conn of this.#httpConns) closeQuietly(conn);
    await Promise.all(this.#pendingHttp);
    // An upgrade that passed the draining check before the drain began can
    // open its session after the snapshot above: cut it too.
    await this.#abortSessions();
    clearInterval(this.#sweepTimer);
    await this.#storeClients.close();
  }

  #abortSessions(): Promise<unknown> {
    return Promise.all(
      [...this.#sessions.keys()].map((session) =>
        session.abort(CloseCode.GOING_AWAY, "gateway shutting down")
      ),
    );
  }

  /**
   * Accepts until the listener is closed by shutdown or replaced by a
   * certificate reload. A failed `accept()` (EMFILE, ENFILE, ENOBUFS,
   * ECONNABORTED...) is reported at most once a second and retried after a
   * backoff: one failure used to end accepting for good while the process
   * lived on.
   */
  async #accept(listener: Deno.Listener): Promise<void> {
    const retry = new AcceptRetry();
    while (!this.#isRetired(listener)) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#isRetired(listener)) return;
        if (error instanceof Deno.errors.BadResource) {
          // Closed by someone else: nothing left to retry.
          this.#acceptFailure = "listener closed";
          this.#emit({
            type: "error",
            message: "accept loop stopped: the listener was closed",
            detail: String(error),
          });
          return;
        }
        const step = retry.failed(performance.now());
        this.#acceptFailure = `accept failing: ${String(error)}`;
        if (step.isReported) {
          this.#emit({
            type: "warning",
            message: `accept failed; retrying in ${step.delayMs} ms`,
            detail: step.suppressed === 0
              ? String(error)
              : `${
                String(error)
              } (${step.suppressed} more failures since the last report)`,
          });
        }
        await this.#acceptPause(step.delayMs);
        continue;
      }
      if (this.#acceptFailure !== undefined) {
        this.#acceptFailure = undefined;
        this.#emit({ type: "warning", message: "accepting again" });
      }
      retry.succeeded();
      const handling = this.#handleConnection(conn).catch((error) =>
        this.#emit({
          type: "error",
          message: "connection handling failed",
          detail: String(error),
        })
      );
      this.#pendingHttp.add(handling);
      handling.then(() => this.#pendingHttp.delete(handling));
    }
  }

  /** Whether `listener` was closed by shutdown or replaced by a reload. */
  #isRetired(listener: Deno.Listener): boolean {
    return this.#isListenerClosed || listener !== this.#listener;
  }

  /** Waits `delayMs`, or less when shutdown closes the listener. */
  #acceptPause(delayMs: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(wake, delayMs);
    const wakers = this.#acceptPauseWakers;
    wakers.add(wake);
    function wake(): void {
      clearTimeout(timer);
      wakers.delete(wake);
      resolve();
    }
    return promise;
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
        this.#expireHandshake(pending);
      }
    }
    let buffered = 0;
    for (const [session, entry] of this.#sessions) {
      try {
        session.tick(now);
        this.#recordTraffic(session, entry.route);
        buffered += session.bufferedBytes;
      } catch (error) {
        // One session's failure must not stop the sweep for the others.
        this.#emit({
          type: "error",
          message: "session timer check failed",
          detail: String(error),
          sessionId: session.id,
        });
        session.abort(CloseCode.INTERNAL_ERROR, "gateway error");
      }
    }
    this.metrics.addBufferedBytes(buffered - this.#lastBuffered);
    this.#lastBuffered = buffered;
    if (
      this.#generation.config.tls !== undefined &&
      now - this.#lastCertCheckMs >= 5000
    ) {
      this.#lastCertCheckMs = now;
      this.#reloadCertificateIfChanged();
    }
  }

  #lastBuffered = 0;

  #recordTraffic(session: RelaySession, route: string): void {
    recordTraffic(this.metrics, route, session.takeStats());
  }

  /** Swaps in a new TLS listener when the certificate files change. */
  async #reloadCertificateIfChanged(): Promise<void> {
    const config = this.#generation.config;
    const old = this.#listener;
    if (old === undefined || this.#isDraining) return;
    try {
      if (!await this.#listenerOpener.isCertificateChanged(config)) return;
      // SO_REUSEPORT lets the new listener bind before the old one closes,
      // so no connection attempt is refused during the swap.
      const next = await this.#listenerOpener.open(
        config,
        this.addr.port,
        true,
      );
      this.#listener = next;
      this.#acceptLoops.push(this.#accept(next));
      old.close();
      this.#emit({ type: "warning", message: "TLS certificate reloaded" });
    } catch (error) {
      this.#emit({
        type: "error",
        message: "TLS certificate reload failed; keeping the old one",
        detail: String(error),
      });
    }
  }

  async #handleConnection(conn: Deno.Conn): Promise<void> {
    const generation = this.#generation;
    const config = generation.config;
    const peer = remoteAddress(conn.remoteAddr);
    const pending: PendingHandshake = {
      conn,
      deadlineMs: Date.now() + config.handshakeTimeoutMs,
      client: peer.text,
    };
    if (this.#handshakes.size >= config.maxSessions) {
      // Connections that have not finished their request count against the
      // session limit too, so slow handshakes cannot pile up without bound.
      await this.#refuse(
        conn,
        {
          status: 503,
          body: "Too many connections",
          headers: { "retry-after": "5" },
        },
        peer.text,
        "",
        `${this.#handshakes.size} handshakes in progress (limit ${config.maxSessions})`,
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
        await this.#refuse(
          conn,
          read.refusal,
          peer.text,
          "",
          read.refusal.body,
        );
        return;
      }
      head = read.head;
      leftover = read.leftover;
    } catch {
      // Read failed, TLS failed, or the sweep closed a slow handshake.
      this.#handshakes.delete(pending);
      closeQuietly(conn);
      return;
    }
    this.#handshakes.delete(pending);
    const client = clientAddress(peer, head, generation.trustedProxies);
    try {
      if (isUpgradeRequest(head.headers)) {
        await this.#upgrade(conn, head, client, leftover, generation);
      } else {
        await this.#respondHttp(conn, head, generation);
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

  async #respondHttp(
    conn: Deno.Conn,
    head: RequestHead,
    generation: Generation,
  ): Promise<void> {
    const config = generation.config;
    const response = await respondToHttpRequest(head, {
      isDraining: this.#isDraining,
      // An admin listener (which turns metrics off here) serves health too.
      isHealthEnabled: config.metricsOnGatewayPort,
      isDemoPageEnabled: config.demoPage,
      isConsoleEnabled: config.console,
      routes: [...config.routes.keys()],
      renderMetrics: config.metricsOnGatewayPort
        ? this.#metricsRenderer ?? (() => this.renderMetrics())
        : undefined,
      consoleStats: () => this.consoleStats(),
      staticFiles: generation.staticFiles,
    });
    this.#httpConns.add(conn);
    try {
      await sendHttpResponse(conn, response);
    } finally {
      this.#httpConns.delete(conn);
    }
  }

  /** Renders the Prometheus text (after folding in live traffic). */
  renderMetrics(): string {
    for (const [session, entry] of this.#sessions) {
      this.#recordTraffic(session, entry.route);
    }
    return this.metrics.renderPrometheus();
  }

  /** The console's live view. */
  consoleStats(): ConsoleStats {
    let bytesToBackend = 0;
    let bytesToBrowser = 0;
    const sessions = [];
    for (const [session, entry] of this.#sessions) {
      const traffic = session.traffic;
      bytesToBackend += traffic.toBackend;
      bytesToBrowser += traffic.toBrowser;
      if (sessions.length < 100) {
        sessions.push({
          id: session.id,
          route: entry.route,
          client: entry.client,
          openedAtMs: session.openedAtMs,
          bytesToBackend: traffic.toBackend,
          bytesToBrowser: traffic.toBrowser,
        });
      }
    }
    const totals = this.metrics.totals();
    return {
      sessionsOpen: this.#sessions.size,
      bytesToBackend: Math.max(totals.bytesToBackend, bytesToBackend),
      bytesToBrowser: Math.max(totals.bytesToBrowser, bytesToBrowser),
      sessions,
    };
  }

  /**
   * A connection that did not send its whole request head in time (slow
   * loris, or a client that never speaks): 408, logged and counted like
   * every refusal. The head reader's pending read then fails and its
   * handler ends quietly.
   */
  #expireHandshake(pending: PendingHandshake): void {
    const refusal: HttpRefusal = { status: 408, body: "Request head timeout" };
    this.#recordRefusal(
      refusal,
      pending.client,
      "",
      `no complete request head within ${this.#generation.config.handshakeTimeoutMs} ms`,
    );
    const sending = sendRefusalWithoutLinger(pending.conn, refusal);
    this.#pendingHttp.add(sending);
    sending.then(() => this.#pendingHttp.delete(sending));
  }

  async #refuse(
    conn: Deno.Conn,
    refusal: HttpRefusal,
    client: string,
    path: string,
    detail: string,
  ): Promise<void> {
    this.#recordRefusal(refusal, client, path, detail);
    await sendRefusal(conn, refusal);
  }

  /** Counts and logs a refused upgrade request. */
  #recordRefusal(
    refusal: HttpRefusal,
    client: string,
    path: string,
    detail: string,
  ): void {
    this.metrics.handshakeRefused(refusal.body, refusal.status);
    this.#emit({
      type: "handshake_refused",
      status: refusal.status,
      reason: refusal.body,
      detail,
      client,
      path,
    });
  }

  async #upgrade(
    conn: Deno.Conn,
    head: RequestHead,
    client: ClientAddress,
    leftover: Uint8Array | undefined,
    generation: Generation,
  ): Promise<void> {
    const local = conn.localAddr;
    const peer = conn.remoteAddr;
    const decision = await generation.policy.decide(head, {
      ...(local.transport === "tcp" ? { listenPort: local.port } : {}),
      isFromTrustedProxy: peer.transport === "tcp" &&
        generation.trustedProxies?.(peer.hostname) === true,
    });
    if (decision.kind === "refuse") {
      return this.#refuse(
        conn,
        decision.refusal,
        client.text,
        head.path,
        decision.detail,
      );
    }
    if (this.#isDraining) {
      return this.#refuse(
        conn,
        { status: 503, body: "Gateway shutting down" },
        client.text,
        head.path,
        "draining",
      );
    }
    const limits = this.#limits;
    const admitted = limits.acquire(client.ip);
    if (admitted !== "ok") {
      const isTotal = admitted === "total";
      return this.#refuse(
        conn,
        {
          status: isTotal ? 503 : 429,
          body: isTotal
            ? "Too many sessions"
            : "Too many sessions from your address",
          headers: { "retry-after": "5" },
        },
        client.text,
        head.path,
        isTotal
          ? `session limit ${generation.config.maxSessions} reached`
          : `per-address limit ${generation.config.maxSessionsPerIp} reached for ${client.ip}`,
      );
    }
    // The ticket id is spent only now that every capacity check admitted
    // the session (a 503 for a full gateway leaves the ticket usable).
    const spent = generation.policy.spendTicket(decision);
    if (spent !== "fresh") {
      limits.release(client.ip);
      return this.#refuse(
        conn,
        { status: 401, body: "Unauthorized" },
        client.text,
        head.path,
        `ticket refused: ${spent}`,
      );
    }
    const { route, target, targetText } = decision;
    const sessionId = `${SESSION_PREFIX}-${(++nextSessionNumber).toString(36)}`;
    const acceptPromise = computeAcceptKey(decision.key);
    let backend: Deno.Conn;
    const connectStarted = performance.now();
    try {
      backend = await connectBackend(
        target,
        generation.config.connectTimeoutMs,
        generation.backendTls.get(route.path),
      );
      this.metrics.observeBackendConnectMs(performance.now() - connectStarted);
      if (route.proxyProtocol !== undefined) {
        await writeAll(
          backend,
          proxyHeader(route.proxyProtocol, client, conn.localAddr),
        );
      }
    } catch (error) {
      limits.release(client.ip);
      // No session opened: the ticket may be used again.
      generation.policy.releaseTicket(decision);
      const detail = error instanceof Error ? error.message : String(error);
      this.#emit({ type: "backend_error", sessionId, detail });
      await this.#acceptThenClose(
        conn,
        await acceptPromise,
        decision.subprotocol,
        CloseCode.INTERNAL_ERROR,
        "backend unreachable",
      );
      this.metrics.sessionOpened(route.path);
      this.metrics.sessionClosed(route.path, CloseCode.INTERNAL_ERROR);
      this.#emitClose(
        sessionId,
        route.path,
        client.text,
        targetText,
        backendUnreachableSummary(detail),
      );
      return;
    }
    try {
      await writeAll(
        conn,
        switchingProtocols(await acceptPromise, decision.subprotocol),
      );
    } catch {
      limits.release(client.ip);
      closeQuietly(conn);
      closeQuietly(backend);
      return;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#startSession(
      sessionId,
      route,
      conn,
      backend,
      leftover,
      client,
      targetText,
      generation,
    );
  }

  #startSession(
    sessionId: string,
    route: ResolvedRoute,
    conn: Deno.Conn,
    backend: Deno.Conn,
    leftover: Uint8Array | undefined,
    client: ClientAddress,
    targetText: string,
    generation: Generation,
  ): void {
    const config = generation.config;
    this.metrics.sessionOpened(route.path);
    this.#emit({
      type: "session_open",
      sessionId,
      route: route.path,
      client: client.text,
      target: targetText,
    });
    const recorder = route.recordDir === undefined
      ? undefined
      : new SessionRecorder(route.recordDir, {
        sessionId,
        route: route.path,
        client: client.text,
        target: targetText,
        startedAtMs: Date.now(),
      }, (error) =>
        this.#emit({
          type: "error",
          message: "session recording failed",
          detail: String(error),
          sessionId,
        }));
    const trafficCap = config.logTrafficBytes;
    const onTraffic = recorder === undefined && trafficCap === 0
      ? undefined
      : (direction: "to_backend" | "to_browser", message: Uint8Array) => {
        recorder?.record(direction, message);
        if (trafficCap > 0) {
          this.#emit({
            type: "traffic",
            sessionId,
            direction,
            bytes: message.slice(0, trafficCap),
            size: message.length,
          });
        }
      };
    const session: RelaySession = new RelaySession(sessionId, conn, backend, {
      ...relaySettings(route, config, leftover),
      ...(onTraffic === undefined ? {} : { onTraffic }),
      onClose: (summary) => {
        // The process-wide counts: a reload since the start shares them.
        if (this.#sessions.delete(session)) this.#limits.release(client.ip);
        this.#recordTraffic(session, route.path);
        this.metrics.sessionClosed(route.path, summary.code);
        const report = () =>
          this.#emitClose(
            sessionId,
            route.path,
            client.text,
            targetText,
            summary,
          );
        // The close is reported once the recording is complete on disk.
        if (recorder === undefined) report();
        else recorder.close().finally(report);
      },
    });
    this.#sessions.set(session, {
      route: route.path,
      client: client.text,
    });
    session.start();
    // A session that finished its upgrade while the drain began.
    if (this.#isDraining) {
      session.close(CloseCode.GOING_AWAY, "gateway shutting down");
    }
  }

  #emitClose(
    sessionId: string,
    route: string,
    client: string,
    target: string,
    summary: SessionSummary,
  ): void {
    this.#emit(sessionCloseEvent(sessionId, route, client, target, summary));
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
      await writeAll(
        conn,
        switchingProtocolsThenClose(accept, subprotocol, code, reason),
      );
      // Give the browser a moment to answer the close frame, bounded.
      await awaitOneRead(conn, this.#generation.config.closeTimeoutMs);
    } catch {
      // The browser went away first.
    }
    closeQuietly(conn);
  }
}
