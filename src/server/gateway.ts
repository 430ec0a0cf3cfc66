/**
 * The gateway's lifecycle: listen (the admission store, the listener, the
 * warm-up), the accept loop, reload, TLS certificate reload and graceful
 * shutdown. Each accepted connection goes through the {@linkcode HttpPhase}
 * (the request head, then the HTTP responder or the upgrade pipeline). One
 * shared coarse sweep drives every session's timers, handshake deadlines,
 * the memory budget, metrics and certificate reloads.
 *
 * @module
 */

import {
  type GatewayOptions,
  type ResolvedGatewayConfig,
  resolveOptions,
} from "../config/config.ts";
import type { ConsoleStats } from "../http/console_page.ts";
import type { EventSink, GatewayEvent } from "../observability/events.ts";
import { GatewayMetrics } from "../observability/gateway_metrics.ts";
import type { AdmissionStore } from "../security/admission.ts";
import { StoreClientPool } from "../store/store_client_pool.ts";
import { sameOriginExposureWarning } from "../security/origin_policy.ts";
import { CloseCode } from "../session/close_codes.ts";
import { machineMemoryBudget, pickOverBudget } from "./memory_budget.ts";
import type { RelaySession } from "../session/relay.ts";
import { CompressionNegotiator } from "./_compression_negotiator.ts";
import { sweepPeriodMs } from "./_relay_settings.ts";
import { Reporter } from "./_reporter.ts";
import { recordTraffic } from "./_session_reports.ts";
import {
  buildGeneration,
  type Generation,
  initGeneration,
} from "./generation.ts";
import { consoleStats, renderMetrics } from "./gateway_views.ts";
import { HttpPhase } from "./http_phase.ts";
import {
  FleetAdmission,
  openAdmissionStore,
  type OpenedAdmissionStore,
  slotUpkeepFailed,
  storeTimeoutMs,
} from "./fleet_admission.ts";
import { AcceptRetry } from "./accept_retry.ts";
import { ListenerOpener } from "./listener_opener.ts";
import { SessionTable } from "./session_table.ts";
import { UpgradePipeline } from "./upgrade_pipeline.ts";
import { warmUp } from "./warm_up.ts";

/** A running (or ready to run) gateway. */
export interface Gateway {
  /**
   * Starts listening; resolves with the bound address (the real port when 0
   * was asked for; with `unixSocket`, the listener's `Deno.UnixAddr`).
   * Rejects with `ConfigError` when a token file or ticket secret cannot be
   * loaded.
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
  /**
   * Why the admission store cannot decide admissions now (a `--store`, or
   * a worker's main thread, that does not answer within the store
   * timeout), or `undefined` when it can. `/healthz` answers 503 with it.
   * @returns The reason, or `undefined`.
   */
  checkStore(): Promise<string | undefined>;
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

/**
 * Creates a gateway whose admissions (single-use ticket ids, per-IP and
 * total session counts) are decided by `admission`, a store it does not
 * own: a `--workers` thread passes the main thread's (`RemoteAdmission`).
 *
 * @example
 * ```ts
 * import { createGatewayWithAdmission } from "./gateway.ts";
 * import { LocalAdmission } from "../security/local_admission.ts";
 * import assert from "node:assert/strict";
 * const shared = new LocalAdmission();
 * await using gateway = createGatewayWithAdmission({
 *   port: 0,
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 * }, shared);
 * assert.ok((await gateway.listen()).port > 0);
 * ```
 *
 * @param options The gateway options.
 * @param admission The shared admission store (closed by its owner).
 * @returns The gateway.
 */
export function createGatewayWithAdmission(
  options: GatewayOptions,
  admission: AdmissionStore,
): Gateway {
  return new GatewayServer(
    resolveOptions(options),
    options.onEvent,
    options.metricsRenderer,
    admission,
  );
}

class GatewayServer implements Gateway {
  #generation: Generation;
  #reporter: Reporter;
  #listener: Deno.Listener | undefined;
  /** Open sessions, session counts and used ticket ids: process state. */
  #table: SessionTable<RelaySession>;
  /** permessage-deflate under the process-wide context memory budget. */
  #compression: CompressionNegotiator;
  /** Accepted connections until their upgrade or plain response. */
  #http: HttpPhase;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #acceptLoops: Promise<void>[] = [];
  #closing: Promise<void> | undefined;
  #isListenCalled = false;
  /** Set just before shutdown closes the listener: accept loops end. */
  #isListenerClosed = false;
  /** Why the listener is not accepting; undefined while it is. */
  #acceptFailure: string | undefined;
  /** Wakes the accept loops waiting out a backoff, at shutdown. */
  #acceptPauseWakers = new Set<() => void>();
  #listenerOpener = new ListenerOpener();
  #lastCertCheckMs = 0;
  /** Bytes held by all sessions at the last sweep (a gauge's last value). */
  #lastBuffered = 0;
  readonly metrics: GatewayMetrics = new GatewayMetrics();

  /** A store owned by another (the main thread's, for a worker). */
  #sharedStore: AdmissionStore | undefined;
  /** The store this gateway opened (with --store), closed at shutdown. */
  #ownedStore: OpenedAdmissionStore | undefined;
  /** The Redis clients of `tokens: "redis"` routes, kept across reloads. */
  readonly #storeClients = new StoreClientPool();

  constructor(
    config: ResolvedGatewayConfig,
    onEvent: EventSink | undefined,
    metricsRenderer: (() => string) | undefined,
    sharedStore?: AdmissionStore,
  ) {
    this.#reporter = new Reporter(this.metrics, onEvent ?? (() => {}));
    // Counts and used ticket ids belong to the process, not to one
    // configuration: the table keeps them for every generation.
    this.#table = new SessionTable();
    this.#generation = buildGeneration(config, {
      replayCache: this.#table.replayCache,
      storeClients: this.#storeClients,
    });
    this.#compression = new CompressionNegotiator({
      limitBytes: config.compressionMemoryBytes,
      metrics: this.metrics,
      onEvent: (event) => this.#reporter.emit(event),
    });
    this.#http = new HttpPhase({
      generation: () => this.#generation,
      table: this.#table,
      pipeline: new UpgradePipeline({
        table: this.#table,
        reporter: this.#reporter,
        compression: this.#compression,
      }),
      reporter: this.#reporter,
      renderMetrics: metricsRenderer ?? (() => this.renderMetrics()),
      consoleStats: () => this.consoleStats(),
    });
    // Every route's series exist at zero from the start (and after each
    // reload), so rate() works from the first scrape.
    this.metrics.addRoutes(config.routes.keys());
    this.#sharedStore = sharedStore;
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
    return this.#table.size;
  }

  get isDraining(): boolean {
    return this.#table.isDraining;
  }

  get acceptFailure(): string | undefined {
    return this.#acceptFailure;
  }
  checkStore(): Promise<string | undefined> {
    return this.#table.checkHealth();
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
    await this.#openAdmission(config);
    const listener = await this.#listenerOpener.open(config, config.port);
    // Connections that arrive meanwhile wait in the listen backlog.
    if (config.warmUp) await warmUp(config, createGateway);
    this.#listener = listener;
    // On a Unix socket the address is a Deno.UnixAddr; events name it
    // unix:/path with port 0.
    const addr = listener.addr as Deno.NetAddr;
    const shown = listener.addr.transport === "unix"
      ? { hostname: `unix:${listener.addr.path}`, port: 0 }
      : addr;
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
    const exposure = config.unixSocket === undefined
      ? sameOriginExposureWarning(config.allowOrigins, addr.hostname)
      : undefined;
    if (exposure !== undefined) {
      this.#emit({ type: "warning", message: exposure });
    }
    this.#emit({
      type: "listening",
      hostname: shown.hostname,
      port: shown.port,
      tls: config.tls !== undefined,
    });
    return addr;
  }

  /**
   * Opens the admission store unless the table's own (one process, no
   * store) is the one: the main thread's for a worker, the fleet's Redis
   * with a store. Process state, kept across reloads.
   */
  async #openAdmission(config: ResolvedGatewayConfig): Promise<void> {
    let store = this.#sharedStore;
    if (store === undefined) {
      if (config.store === undefined) return;
      this.#ownedStore = await openAdmissionStore(config.store, {
        onError: (error) => this.#emit(slotUpkeepFailed(error)),
      });
      store = this.#ownedStore.store;
    }
    const admission = new FleetAdmission(store, {
      timeoutMs: storeTimeoutMs(config.store),
    });
    this.#table.useAdmission(admission);
    // Connects now (the first handshake need not wait for it) and says at
    // start when the store is out; the gateway starts anyway.
    const problem = await admission.checkHealth();
    if (problem !== undefined) {
      this.#emit({
        type: "warning",
        message: "store_unavailable at start; handshakes that need it get 503",
        detail: problem,
      });
    }
  }

  async reload(options: GatewayOptions): Promise<void> {
    const generation = buildGeneration(resolveOptions(options), {
      replayCache: this.#table.replayCache,
      storeClients: this.#storeClients,
    });
    await initGeneration(generation);
    if (
      JSON.stringify(generation.config.store) !==
        JSON.stringify(this.#generation.config.store)
    ) {
      this.#emit({
        type: "warning",
        message:
          "the store settings changed: they apply at the next restart, the running store is kept",
      });
    }
    this.#compression.setLimit(generation.config.compressionMemoryBytes);
    this.#generation = generation;
    this.metrics.addRoutes(generation.config.routes.keys());
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
    // balancer moves on), while every open session flushes and closes 1001
    // (aborted past the drain timeout).
    this.#http.closeHandshakes();
    const drainTimeoutMs = this.#generation.config.drainTimeoutMs;
    const deadline = performance.now() + drainTimeoutMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    await this.#table.drain(drainTimeoutMs);
    this.#isListenerClosed = true;
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const wake of [...this.#acceptPauseWakers]) wake();
    await Promise.all(this.#acceptLoops);
    // Plain HTTP responses (a large static file to a client that reads
    // nothing) and upgrades still connecting get what is left of the drain
    // time; then their connections are cut.
    await this.#http.finish(remaining());
    // An upgrade that passed the draining check before the drain began can
    // open its session after the snapshot above: cut it too.
    await this.#table.abortAll();
    clearInterval(this.#sweepTimer);
    await this.#ownedStore?.close();
    await this.#storeClients.close();
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
      this.#http.handle(conn);
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
    this.#reporter.emit(event);
  }

  /** Sessions closed for the memory budget (not warned about twice). */
  #shed = new WeakSet<RelaySession>();
  /** The memory budget derived from the machine's memory, once needed. */
  #defaultMemoryBudget: number | undefined;

  #sweep(): void {
    const now = Date.now();
    this.#http.expireHandshakes(now);
    let buffered = 0;
    const held: number[] = [];
    const holders: RelaySession[] = [];
    for (const [session, labels] of this.#table) {
      try {
        session.tick(now);
        recordTraffic(this.metrics, labels.route, session.takeStats());
        const bytes = session.bufferedBytes;
        buffered += bytes;
        // A session already shed frees its bytes as it ends.
        if (!this.#shed.has(session)) {
          held.push(bytes);
          holders.push(session);
        }
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
    this.#enforceMemoryBudget(held, holders);
    if (
      this.#generation.config.tls !== undefined &&
      now - this.#lastCertCheckMs >= 5000
    ) {
      this.#lastCertCheckMs = now;
      this.#reloadCertificateIfChanged();
    }
  }

  /**
   * The default memory budget, read once. Without permission to read the
   * machine's memory it is the 1 GiB fallback, said once as a warning.
   */
  #machineMemoryBudget(): number {
    if (this.#defaultMemoryBudget === undefined) {
      const found = machineMemoryBudget();
      this.#defaultMemoryBudget = found.bytes;
      if (found.problem !== undefined) {
        this.#emit({
          type: "warning",
          message:
            `memory budget: the machine's memory cannot be read, so sessions together may hold ${found.bytes} bytes; run deno with --allow-sys=systemMemoryInfo or set --memory-budget`,
          detail: found.problem,
        });
      }
    }
    return this.#defaultMemoryBudget;
  }

  /**
   * Closes the largest holders with 1013 while all sessions together hold
   * more than the memory budget (each close is logged with its session).
   */
  #enforceMemoryBudget(held: number[], holders: RelaySession[]): void {
    const budget = this.#generation.config.memoryBudgetBytes ??
      this.#machineMemoryBudget();
    for (const index of pickOverBudget(held, budget)) {
      const session = holders[index]!;
      this.#shed.add(session);
      this.#emit({
        type: "warning",
        message: "session closed: gateway over its memory budget",
        detail: `session ${session.id} held ${
          held[index]
        } bytes; budget ${budget} bytes`,
      });
      session.close(CloseCode.TRY_AGAIN_LATER, "gateway over memory budget");
    }
  }

  /** Swaps in a new TLS listener when the certificate files change. */
  async #reloadCertificateIfChanged(): Promise<void> {
    const config = this.#generation.config;
    const old = this.#listener;
    if (old === undefined || this.#table.isDraining) return;
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

  /** Renders the Prometheus text (after folding in live traffic). */
  renderMetrics(): string {
    return renderMetrics(this.#table, this.metrics);
  }

  /** The console's live view. */
  consoleStats(): ConsoleStats {
    return consoleStats(this.#table, this.metrics);
  }
}
