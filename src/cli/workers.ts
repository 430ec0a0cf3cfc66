/**
 * Several gateways in worker threads, each accepting on the same port with
 * SO_REUSEPORT (Linux spreads connections across them). The main thread
 * prints their events, sums their metrics, and forwards reloads and the
 * shutdown.
 *
 * @module
 */

import { type GatewayOptions, resolveOptions } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import type { GatewayEvent } from "../observability/events.ts";
import { mergeSnapshots } from "../observability/merge_snapshots.ts";
import type { MetricsSnapshot } from "../observability/metrics_snapshot.ts";
import { renderPrometheus } from "../observability/render_prometheus.ts";
import {
  FleetAdmission,
  openAdmissionStore,
  type OpenedAdmissionStore,
  slotUpkeepFailed,
  storeTimeoutMs,
} from "../server/fleet_admission.ts";
import { type AdmissionService, serveAdmission } from "./admission_channel.ts";

/** Messages from a worker. */
export type WorkerReport =
  | { type: "listening"; hostname: string; port: number }
  | { type: "failed"; message: string; problems?: string[] }
  | { type: "event"; event: GatewayEvent }
  | { type: "snapshot"; snapshot: MetricsSnapshot; isDraining: boolean }
  | { type: "reloaded"; problems?: string[] }
  | { type: "closed" };

/** Messages to a worker. */
export type WorkerCommand =
  | {
    type: "start";
    options: GatewayOptions;
    /** The worker's end of its channel to the main thread's admissions. */
    admissionPort: MessagePort;
  }
  | { type: "reload"; options: GatewayOptions }
  | { type: "metrics"; text: string }
  /** Test only: the next reload fails (see `WorkerPoolOptions`). */
  | { type: "fail-next-reload-for-test" }
  | { type: "close" };

/** The running workers, driven like one gateway. */
export interface WorkerPool {
  /** The shared address. */
  addr: Deno.NetAddr;
  /**
   * Reloads every worker, all or nothing: when one worker rejects the new
   * options, the workers that took them get the previous ones back, and
   * the call rejects with the first failing worker's problems.
   */
  reload(options: GatewayOptions): Promise<void>;
  /** Metrics summed across workers. */
  renderMetrics(): string;
  /** Whether the workers are draining. */
  isDraining(): boolean;
  /**
   * Why the main thread's admission store (a `--store`) cannot decide
   * admissions now, or `undefined` when it can.
   */
  checkStore(): Promise<string | undefined>;
  /** Drains and stops every worker. */
  close(): Promise<void>;
}

/** How {@linkcode startWorkers} runs the pool. */
export interface WorkerPoolOptions {
  /**
   * Test only: the index of the worker whose first reload fails, to test
   * that a reload is all or nothing; no worker fails when unset.
   * @default {undefined}
   */
  failFirstReloadInForTest?: number;
}

interface WorkerHandle {
  worker: Worker;
  /** Answers this worker's admission calls; closed when it ends. */
  admission: AdmissionService;
  snapshot: MetricsSnapshot;
  next(type: WorkerReport["type"]): Promise<WorkerReport>;
}

function spawn(
  onEvent: (event: GatewayEvent) => void,
  admission: AdmissionService,
): WorkerHandle {
  const worker = new Worker(new URL("./worker_main.ts", import.meta.url), {
    type: "module",
  });
  const waiting = new Map<string, ((report: WorkerReport) => void)[]>();
  const handle: WorkerHandle = {
    worker,
    admission,
    snapshot: [],
    next(type) {
      return new Promise((resolve) => {
        const list = waiting.get(type) ?? [];
        list.push(resolve);
        waiting.set(type, list);
      });
    },
  };
  worker.onmessage = (message: MessageEvent<WorkerReport>) => {
    const report = message.data;
    if (report.type === "event") {
      onEvent(report.event);
      return;
    }
    if (report.type === "snapshot") {
      handle.snapshot = report.snapshot;
      return;
    }
    const key = report.type === "failed" ? "listening" : report.type;
    const list = waiting.get(key) ?? [];
    waiting.delete(key);
    for (const resolve of list) resolve(report);
  };
  // A worker that dies (an uncaught error in its module) fails whatever
  // was waiting for it instead of leaving the caller waiting forever.
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    // Its sessions are gone: their slots must not stay counted.
    void admission.close();
    const message = `worker failed: ${event.message}`;
    const failureFor = (key: string): WorkerReport =>
      key === "listening"
        ? { type: "failed", message }
        : key === "reloaded"
        ? { type: "reloaded", problems: [message] }
        : { type: "closed" };
    for (const [key, list] of waiting) {
      waiting.delete(key);
      for (const resolve of list) resolve(failureFor(key));
    }
  };
  return handle;
}

/** Options without functions (they cannot cross into a worker). */
function cloneable(options: GatewayOptions): GatewayOptions {
  const { onEvent: _onEvent, metricsRenderer: _renderer, ...rest } = options;
  return rest;
}

function post(
  handle: WorkerHandle,
  command: WorkerCommand,
  transfer: Transferable[] = [],
): void {
  handle.worker.postMessage(command, transfer);
}

/** The problems a worker reported for a reload, or `undefined` if none. */
function reloadProblems(report: WorkerReport): string[] | undefined {
  return report.type === "reloaded" ? report.problems : undefined;
}

function reloadEach(
  handles: readonly WorkerHandle[],
  options: GatewayOptions,
): Promise<WorkerReport[]> {
  return Promise.all(handles.map((handle) => {
    const done = handle.next("reloaded");
    post(handle, { type: "reload", options });
    return done;
  }));
}

/**
 * The pool's reload, all or nothing and one at a time: a worker that
 * rejects the new options leaves the others on the previous ones (they are
 * sent back to every worker that took the new ones).
 */
function reloader(
  handles: readonly WorkerHandle[],
  initial: GatewayOptions,
): (next: GatewayOptions) => Promise<void> {
  let current = initial;
  let queue: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (next: GatewayOptions) => {
    const reports = await reloadEach(handles, next);
    const failed = reports.map(reloadProblems).find((problems) =>
      problems !== undefined
    );
    if (failed === undefined) {
      current = next;
      return;
    }
    const applied = handles.filter((_, i) =>
      reloadProblems(reports[i]!) === undefined
    );
    const restored = await reloadEach(applied, current);
    const stuck = restored.flatMap((report, i) =>
      (reloadProblems(report) ?? []).map((problem) =>
        `worker ${
          handles.indexOf(applied[i]!)
        }: cannot return to the previous configuration: ${problem}`
      )
    );
    throw new ConfigError([...failed, ...stuck]);
  };
  return (next) => {
    const done = queue.then(() => reloadOnce(next));
    queue = done.catch(() => {});
    return done;
  };
}

/**
 * Starts `count` workers on one port; the first one picks the port when 0
 * was asked for. The main thread holds the one admission store (a
 * `LocalAdmission`, or `RedisAdmission` with a store) and answers every
 * worker over a `MessagePort`, so single-use ticket ids, per-IP and total
 * session counts are decided in one place: N workers behave like one.
 *
 * @example
 * ```ts ignore
 * const pool = await startWorkers(options, 2, console.log);
 * await pool.close();
 * ```
 *
 * @param options The gateway options (without functions).
 * @param count How many workers.
 * @param onEvent Receives every worker's events.
 * @param poolOptions How the pool runs.
 * @returns The pool.
 */
export async function startWorkers(
  options: GatewayOptions,
  count: number,
  onEvent: (event: GatewayEvent) => void,
  poolOptions: WorkerPoolOptions = {},
): Promise<WorkerPool> {
  const handles: WorkerHandle[] = [];
  const storeSettings = resolveOptions(cloneable(options)).store;
  const opened: OpenedAdmissionStore = await openAdmissionStore(
    storeSettings,
    { onError: (error) => onEvent(slotUpkeepFailed(error)) },
  );
  // The store's health for the admin /healthz, under the store timeout.
  const storeHealth = new FleetAdmission(opened.store, {
    timeoutMs: storeTimeoutMs(storeSettings),
  });
  const stopAll = async () => {
    await Promise.all(handles.map((handle) => handle.admission.close()));
    await opened.close();
  };
  let port = options.port ?? 8080;
  let hostname = options.hostname ?? "127.0.0.1";
  let isDraining = false;
  for (let i = 0; i < count; i++) {
    const channel = new MessageChannel();
    const handle = spawn(onEvent, serveAdmission(channel.port1, opened.store));
    handles.push(handle);
    const started = handle.next("listening");
    post(handle, {
      type: "start",
      options: { ...cloneable(options), port, reusePort: true },
      admissionPort: channel.port2,
    }, [channel.port2]);
    const report = await started;
    if (report.type === "failed") {
      for (const other of handles) other.worker.terminate();
      await stopAll();
      if (report.problems !== undefined) throw new ConfigError(report.problems);
      throw new Error(report.message);
    }
    if (report.type === "listening") {
      port = report.port;
      hostname = report.hostname;
    }
  }
  const failing = handles[poolOptions.failFirstReloadInForTest ?? -1];
  if (failing !== undefined) {
    post(failing, { type: "fail-next-reload-for-test" });
  }
  const reloadAll = reloader(handles, cloneable(options));
  const render = () =>
    renderPrometheus(mergeSnapshots(handles.map((handle) => handle.snapshot)));
  const broadcast = setInterval(() => {
    const text = render();
    for (const handle of handles) post(handle, { type: "metrics", text });
  }, 1000);
  return {
    addr: { transport: "tcp", hostname, port },
    reload: (next) => reloadAll(cloneable(next)),
    renderMetrics: render,
    isDraining: () => isDraining,
    checkStore: () => storeHealth.checkHealth(),
    async close() {
      isDraining = true;
      clearInterval(broadcast);
      await Promise.all(handles.map((handle) => {
        const done = handle.next("closed");
        post(handle, { type: "close" });
        return done;
      }));
      for (const handle of handles) handle.worker.terminate();
      await stopAll();
    },
  };
}
