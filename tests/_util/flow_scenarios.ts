/**
 * The flow-control scenarios shared by `tests/integration/flow_control_test.ts`
 * (small sizes) and `bench/flow_bench.ts` (full sizes). Each one runs the
 * gateway as a child process (`deno run -A mod.ts`, raw framing, pings off)
 * so its memory can be read from `/proc`, warms it up with one unstalled
 * session, takes a baseline, and then measures the peak growth while a peer
 * stalls:
 *
 * - {@linkcode runBrowserFlood}: the backend stops reading while the browser
 *   sends as fast as it can; then the backend resumes and every byte is
 *   checked by SHA-256.
 * - {@linkcode runBackendFlood}: the mirror image, the browser stops reading.
 * - {@linkcode runStalledSessions}: many sessions stalled both ways at once.
 *
 * A sender counts as blocked when its progress counter stays still for
 * `quietMs` while it still has bytes to send.
 *
 * @module
 */

import { within } from "./assert.ts";
import {
  type BulkBackend,
  type BulkConnectionPlan,
  startBulkBackend,
} from "./bulk_backend.ts";
import {
  BulkWsClient,
  PayloadPool,
  type StreamDigest,
} from "./bulk_ws_client.ts";
import {
  MemorySampler,
  type ProcessMemory,
  readProcessMemory,
} from "./process_memory.ts";
import { spawnWsgate } from "./wsgate_process.ts";

/** One mebibyte. */
export const MIB = 1024 * 1024;

/** Options shared by every scenario. */
export interface FlowScenarioOptions {
  /** Payload bytes each flooding sender tries to send. */
  totalBytes: number;
  /** The gateway's `--buffer` (high-water mark per direction per session). */
  bufferBytes: number;
  /**
   * Bytes per WebSocket message the browser sends, and per backend write.
   * @default {65536}
   */
  messageBytes?: number;
  /**
   * Bytes moved each way by the warm-up session before the baseline.
   * @default {1048576}
   */
  warmupBytes?: number;
  /**
   * Milliseconds without progress after which a sender counts as blocked.
   * @default {500}
   */
  quietMs?: number;
  /**
   * Milliseconds allowed for each phase (stall, drain).
   * @default {60000}
   */
  timeoutMs?: number;
}

/** Memory of the gateway process: baseline and peak growth, in bytes. */
export interface GatewayMemory {
  /** RSS after the warm-up, before the scenario. */
  baselineRssBytes: number;
  /** PSS after the warm-up (undefined without smaps_rollup). */
  baselinePssBytes: number | undefined;
  /** Peak RSS growth over the baseline until the stall was observed. */
  stallRssGrowthBytes: number;
  /** Peak RSS growth over the baseline for the whole scenario. */
  peakRssGrowthBytes: number;
  /** Peak PSS growth over the baseline for the whole scenario. */
  peakPssGrowthBytes: number | undefined;
  /** Memory samples taken. */
  samples: number;
}

/** The outcome of {@linkcode runBrowserFlood} or {@linkcode runBackendFlood}. */
export interface FloodResult extends GatewayMemory {
  /** Bytes the flooding sender had written when it stopped progressing. */
  stalledAtBytes: number;
  /** Whether the sender's writes were still pending at the stall. */
  isSenderBlocked: boolean;
  /** What the sender sent. */
  sent: StreamDigest;
  /** What the receiver got after it resumed reading. */
  received: StreamDigest;
  /** Milliseconds from resuming the reader to the last byte. */
  drainMs: number;
}

/** Options of {@linkcode runStalledSessions}. */
export interface StalledSessionsOptions extends FlowScenarioOptions {
  /** How many sessions to stall. */
  sessions: number;
  /**
   * Sessions opened at the same time while setting up.
   * @default {50}
   */
  connectBatch?: number;
  /**
   * Which directions each session floods: `both`, `to_backend` (browsers
   * flood stalled backends) or `to_browser` (backends flood stalled
   * browsers).
   * @default {"both"}
   */
  directions?: "both" | "to_backend" | "to_browser";
}

/** The outcome of {@linkcode runStalledSessions}. */
export interface StalledSessionsResult extends GatewayMemory {
  /** Sessions that were stalled. */
  sessions: number;
  /** Senders (one per flooded direction) still blocked at the measurement. */
  blockedSenders: number;
  /** Bytes held outside the peers: sent by them but not read by them. */
  inFlightBytes: number;
  /** Milliseconds from the first connect to the observed stall. */
  setupMs: number;
}

/**
 * Browser floods, backend stalled, then the backend resumes.
 * @param options Sizes and limits.
 * @returns Memory growth, blocking and both digests.
 */
export function runBrowserFlood(
  options: FlowScenarioOptions,
): Promise<FloodResult> {
  const settings = withDefaults(options);
  return withGateway(
    settings,
    { sendBytes: 0, isReadStalled: true },
    async (port, backend, sampler, baseline) => {
      await using client = await BulkWsClient.connect(port);
      const sending = client.sendStream(settings.pool, settings.totalBytes);
      const settled = watch(sending);
      const connection = await backend.connection(1, settings.timeoutMs);
      const stalledAtBytes = await waitForStall(
        () => client.wireBytesSent,
        settings,
        "the browser's writes",
      );
      const isSenderBlocked = !settled.isSettled;
      const atStall = await sampler.sampleNow();
      const started = performance.now();
      connection.resumeReading();
      const received = await connection.received(
        settings.totalBytes,
        settings.timeoutMs,
      );
      const sent = await within(sending, settings.timeoutMs, "the send");
      const drainMs = performance.now() - started;
      const peaks = await sampler.stop();
      await client.close();
      await within(connection.ended, settings.timeoutMs, "the backend EOF");
      return {
        ...growth(baseline, atStall.peakRssBytes, peaks),
        stalledAtBytes,
        isSenderBlocked,
        sent,
        received,
        drainMs,
      };
    },
  );
}

/**
 * Backend floods, browser stalled, then the browser resumes.
 * @param options Sizes and limits.
 * @returns Memory growth, blocking and both digests.
 */
export function runBackendFlood(
  options: FlowScenarioOptions,
): Promise<FloodResult> {
  const settings = withDefaults(options);
  return withGateway(
    settings,
    { sendBytes: settings.totalBytes, isReadStalled: false },
    async (port, backend, sampler, baseline) => {
      await using client = await BulkWsClient.connect(port);
      const connection = await backend.connection(1, settings.timeoutMs);
      const settled = watch(connection.sent);
      const stalledAtBytes = await waitForStall(
        () => connection.bytesSent,
        settings,
        "the backend's writes",
      );
      const isSenderBlocked = !settled.isSettled;
      const atStall = await sampler.sampleNow();
      const started = performance.now();
      const received = await client.receiveStream(
        settings.totalBytes,
        settings.timeoutMs,
      );
      const sent = await within(
        connection.sent,
        settings.timeoutMs,
        "the backend's send",
      );
      const drainMs = performance.now() - started;
      const peaks = await sampler.stop();
      await client.close();
      await within(connection.ended, settings.timeoutMs, "the backend EOF");
      return {
        ...growth(baseline, atStall.peakRssBytes, peaks),
        stalledAtBytes,
        isSenderBlocked,
        sent,
        received,
        drainMs,
      };
    },
  );
}

/**
 * Opens `sessions` sessions that are stalled both ways (the browser floods
 * a backend that does not read, the backend floods a browser that does not
 * read), or one way, and measures the gateway once every sender is blocked.
 * @param options Session count, sizes and limits.
 * @returns Memory growth and how many senders were blocked.
 */
export function runStalledSessions(
  options: StalledSessionsOptions,
): Promise<StalledSessionsResult> {
  const settings = withDefaults(options);
  const { sessions, connectBatch = 50, directions = "both" } = options;
  const isToBackend = directions !== "to_browser";
  const isToBrowser = directions !== "to_backend";
  return withGateway(
    settings,
    {
      sendBytes: isToBrowser ? settings.totalBytes : 0,
      isReadStalled: isToBackend,
    },
    async (port, backend, sampler, baseline) => {
      const started = performance.now();
      const clients: BulkWsClient[] = [];
      const sends: ReturnType<typeof watch>[] = [];
      try {
        for (let first = 0; first < sessions; first += connectBatch) {
          const count = Math.min(connectBatch, sessions - first);
          const batch = await Promise.all(
            Array.from({ length: count }, () => BulkWsClient.connect(port)),
          );
          for (const client of batch) {
            clients.push(client);
            if (isToBackend) {
              sends.push(
                watch(client.sendStream(settings.pool, settings.totalBytes)),
              );
            }
          }
        }
        const connections = await Promise.all(
          Array.from(
            { length: sessions },
            (_, i) => backend.connection(i + 1, settings.timeoutMs),
          ),
        );
        const progress = () => {
          let sum = 0;
          for (const client of clients) sum += client.wireBytesSent;
          for (const connection of connections) sum += connection.bytesSent;
          return sum;
        };
        const total = await waitForStall(
          progress,
          settings,
          "every session's writes",
        );
        const setupMs = performance.now() - started;
        const peaks = await sampler.stop();
        const blockedSenders = sends.filter((send) => !send.isSettled).length +
          connections.filter((connection) =>
            isToBrowser && connection.bytesSent < settings.totalBytes
          ).length;
        const received = connections.reduce(
          (sum, connection) => sum + connection.bytesReceived,
          0,
        );
        return {
          ...growth(baseline, peaks.peakRssBytes, peaks),
          sessions,
          blockedSenders,
          inFlightBytes: total - received -
            clients.reduce((sum, client) => sum + client.wireBytesReceived, 0),
          setupMs,
        };
      } finally {
        // Both peers go away, so the gateway ends every session at once.
        for (const client of clients) client.abort();
        await backend.close();
        await within(
          Promise.all(sends.map((send) => send.done)),
          settings.timeoutMs,
          "the senders to stop",
        );
      }
    },
  );
}

/**
 * Resolves with the progress value once `progress()` stayed unchanged for
 * `quietMs`; rejects after `timeoutMs`. Polls every `quietMs / 10`.
 * @param progress Reads a counter that grows while the sender progresses.
 * @param options How long counts as stalled, and the deadline.
 * @param what Names the sender in the timeout message.
 * @returns The counter's value at the stall.
 */
export async function waitForStall(
  progress: () => number,
  options: { quietMs: number; timeoutMs: number },
  what: string,
): Promise<number> {
  const { quietMs, timeoutMs } = options;
  const pollMs = Math.max(5, Math.floor(quietMs / 10));
  const started = Date.now();
  let last = progress();
  let lastChangeMs = started;
  for (let polls = 0; polls <= Math.ceil(timeoutMs / pollMs); polls++) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = Date.now();
    const value = progress();
    if (value !== last) {
      last = value;
      lastChangeMs = now;
    } else if (now - lastChangeMs >= quietMs) {
      return value;
    }
    if (now - started > timeoutMs) break;
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what} to block (at ${last} bytes)`,
  );
}

/**
 * Reads a size like `64m`, `256k`, `1g` or `100` from environment variable
 * `name`; `fallback` when it is unset or empty.
 * @param name The variable.
 * @param fallback The default.
 * @returns The size in bytes (or the plain count).
 */
export function sizeFromEnv(name: string, fallback: number): number {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return fallback;
  const match = /^(\d+)([kmg]?)$/i.exec(text.trim());
  if (match === null) {
    throw new RangeError(
      `Cannot read ${name} as a size: expected digits with an optional k, m or g: current value is "${text}"`,
    );
  }
  const unit = match[2]!.toLowerCase();
  const scale = unit === "k"
    ? 1024
    : unit === "m"
    ? MIB
    : unit === "g"
    ? 1024 * MIB
    : 1;
  return Number(match[1]) * scale;
}

interface Settings extends Required<FlowScenarioOptions> {
  pool: PayloadPool;
}

function withDefaults(options: FlowScenarioOptions): Settings {
  const {
    totalBytes,
    bufferBytes,
    messageBytes = 64 * 1024,
    warmupBytes = MIB,
    quietMs = 500,
    timeoutMs = 60000,
  } = options;
  return {
    totalBytes,
    bufferBytes,
    messageBytes,
    warmupBytes,
    quietMs,
    timeoutMs,
    pool: new PayloadPool(messageBytes),
  };
}

/**
 * Starts a backend and a gateway child process, warms the gateway up with
 * connection 0 (both directions, unstalled), takes the baseline, starts the
 * sampler and runs `scenario`; always stops the sampler, the gateway and
 * the backend.
 */
async function withGateway<T>(
  settings: Settings,
  plan: BulkConnectionPlan,
  scenario: (
    port: number,
    backend: BulkBackend,
    sampler: MemorySampler,
    baseline: ProcessMemory,
  ) => Promise<T>,
): Promise<T> {
  const warmup = settings.warmupBytes;
  await using backend = startBulkBackend(
    settings.pool,
    (index) => index === 0 ? { sendBytes: warmup, isReadStalled: false } : plan,
  );
  await using wsgate = spawnWsgate([
    "--listen",
    "127.0.0.1:0",
    "--target",
    backend.target,
    "--framing",
    "raw",
    "--buffer",
    String(settings.bufferBytes),
    "--ping-interval",
    "0",
    "--max-sessions",
    "100000",
    "--drain-timeout",
    "2s",
    "--log-level",
    "error",
  ]);
  const { port } = await wsgate.listening();
  const pid = wsgate.child.pid;
  {
    await using client = await BulkWsClient.connect(port);
    const connection = await backend.connection(0, settings.timeoutMs);
    const [sent, received] = await Promise.all([
      client.sendStream(settings.pool, warmup),
      client.receiveStream(warmup, settings.timeoutMs),
    ]);
    const [backendSent, backendReceived] = await Promise.all([
      connection.sent,
      connection.received(warmup, settings.timeoutMs),
    ]);
    if (
      sent.sha256 !== backendReceived.sha256 ||
      received.sha256 !== backendSent.sha256
    ) {
      throw new Error("The warm-up session corrupted data");
    }
    await client.close();
    await within(connection.ended, settings.timeoutMs, "the warm-up to end");
  }
  const baseline = await readProcessMemory(pid);
  const sampler = await MemorySampler.start(pid);
  try {
    return await scenario(port, backend, sampler, baseline);
  } finally {
    await sampler.stop();
  }
}

/** Tracks whether a promise has settled, without unhandled rejections. */
function watch<T>(
  promise: Promise<T>,
): { readonly isSettled: boolean; done: Promise<void> } {
  const state = { isSettled: false, done: Promise.resolve() };
  state.done = promise.then(
    () => {
      state.isSettled = true;
    },
    () => {
      state.isSettled = true;
    },
  );
  return state;
}

function growth(
  baseline: ProcessMemory,
  stallPeakRssBytes: number,
  peaks: {
    peakRssBytes: number;
    peakPssBytes: number | undefined;
    samples: number;
  },
): GatewayMemory {
  return {
    baselineRssBytes: baseline.rssBytes,
    baselinePssBytes: baseline.pssBytes,
    stallRssGrowthBytes: stallPeakRssBytes - baseline.rssBytes,
    peakRssGrowthBytes: peaks.peakRssBytes - baseline.rssBytes,
    peakPssGrowthBytes: peaks.peakPssBytes === undefined ||
        baseline.pssBytes === undefined
      ? undefined
      : peaks.peakPssBytes - baseline.pssBytes,
    samples: peaks.samples,
  };
}
