/**
 * Load benchmark of wsgate against its peers, run by `deno task bench:load`:
 * Bun 1.4.5 (`peers/bun_relay.js`: Bun.serve websockets + Bun.connect),
 * uWebSockets.js 20.30 on the machine's node (`peers/uws_relay.js`: uWS.App +
 * node:net) and websockify (Debian). The two JavaScript peers are installed
 * with npm into `peers/node_modules` and `peers/bun` (gitignored) on the first run; a peer
 * that cannot be installed or run is skipped with a note.
 *
 * Compiles the C echo backend and load generator in this folder with Debian's
 * gcc, starts the echo backend, then for every gateway, workload and run it
 * starts a fresh gateway pinned to core 0 (`taskset -c 0`, its descriptor
 * limit raised to the hard limit), drives it with
 * the load generator pinned to core 1 (`taskset -c 1`, beside the echo
 * backend) and prints one table with the median of the runs per workload.
 * The "direct" column is the load generator talking raw TCP to the echo
 * backend: the ceiling of the measuring setup itself.
 *
 * `wsgate_store` is the same wsgate with `--store` on a redis-server this
 * script starts (pinned to core 0 beside the gateway, which waits on it;
 * no persistence) and a per-IP cap (so every
 * handshake takes its one round trip to the store); the table's
 * `store/wsgate` column is its ratio to plain wsgate (aim: churn >= 0.8).
 *
 * Workloads: churn starts from a fresh gateway process with no warm-up (as a
 * restarted gateway meets a reconnect storm) and also reports the gateway's
 * CPU time per session (user + system of its process tree, the figure load
 * from other processes changes least); churn_warm is the same after
 * `--churn-warm` unmeasured sessions.
 *
 * Flags: `--duration S` (small and bulk, default 10), `--runs N` (default 3),
 * `--only latency,small,bulk,churn,churn_warm,idle`,
 * `--gateways wsgate,wsgate_store,bun,uws,websockify` (the default; add
 * `deno` for `peers/deno_relay.ts`, a bare Deno relay: the runtime's floor,
 * not counted as a peer),
 * `--no-direct`, `--idle-sessions N` (default 5000), `--json FILE`,
 * `--keep-logs`, `--latency-warm N` (default 1000 round trips),
 * `--churn-warm N` (default 1000 sessions), `--wsgate-framing u32be|raw` (default u32be: every message
 * framed and checked; raw relays the byte stream like websockify, and the
 * load generator then checks the echoed stream instead of each message),
 * `--wsgate-args "--warm-up=false ..."` (more wsgate flags, for A/B runs).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startTaskV8Flags } from "../_start_task_flags.ts";

const WORKLOAD_NAMES = [
  "latency",
  "small",
  "bulk",
  "churn",
  "churn_warm",
  "idle",
] as const;
type WorkloadName = typeof WORKLOAD_NAMES[number];
const GATEWAY_NAMES = [
  "wsgate",
  "wsgate_store",
  "bun",
  "uws",
  "websockify",
  "deno",
] as const;
/**
 * Run when --gateways is not given. `deno` (peers/deno_relay.ts, the bare
 * runtime's floor) is asked for by name: it is not a peer a team would pick.
 */
const DEFAULT_GATEWAYS = ["wsgate", "wsgate_store", "bun", "uws", "websockify"];
type GatewayName = typeof GATEWAY_NAMES[number];
type TargetName = "direct" | GatewayName;

/**
 * websockify 0.10 forks one Python process per session (about 3.5 MB each)
 * and keeps a sentinel pipe per child, so near 500 open sessions its
 * descriptors pass FD_SETSIZE and select() fails ("filedescriptor out of
 * range in select()"): its idle row uses fewer sessions.
 */
const WEBSOCKIFY_IDLE_CAP = 400;
const START_TIMEOUT_MS = 30_000;
/** Measured sessions of the churn workloads. */
const CHURN_SESSIONS = 2000;
const STOP_TIMEOUT_MS = 10_000;
const SETTLE_TIMEOUT_MS = 15_000;
const SETTLE_POLL_MS = 100;

const HERE = new URL(".", import.meta.url).pathname;
/** Where the peers' npm packages go (gitignored); never imported by wsgate. */
const PEERS_DIR = `${HERE}peers`;
const BUN_PACKAGE = "@oven/bun-linux-x64@1.4.5";
const UWS_PACKAGE =
  "uWebSockets.js@npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0";
/**
 * Each peer has its own npm prefix: `npm install` without a package.json
 * prunes what it was not asked for, so one prefix would hold one peer.
 */
const BUN_PREFIX = `${PEERS_DIR}/bun`;
const BUN_BIN = `${BUN_PREFIX}/node_modules/@oven/bun-linux-x64/bin/bun`;
const UWS_MODULE = `${PEERS_DIR}/node_modules/uWebSockets.js`;
const PEER_READY = /relay listening on port (\d+)/;
const MOD_TS = new URL("../../mod.ts", import.meta.url).pathname;

interface BenchArgs {
  durationS: number;
  runs: number;
  workloads: WorkloadName[];
  gateways: GatewayName[];
  direct: boolean;
  idleSessions: number;
  /** Unmeasured round trips before the latency workload (JIT warm-up). */
  latencyWarm: number;
  /** Unmeasured sessions before the churn_warm workload (JIT warm-up). */
  churnWarm: number;
  jsonPath: string | undefined;
  keepLogs: boolean;
  /** wsgate's --framing: u32be (each message checked) or raw (a stream). */
  wsgateFraming: "u32be" | "raw";
  /** Extra wsgate flags (`--wsgate-args`), split on spaces. */
  wsgateArgs: string[];
}

/** One measured metric of a workload: its key in the result and its label. */
interface Metric {
  key: string;
  label: string;
  higherIsBetter: boolean;
}

const METRICS: Record<WorkloadName, Metric[]> = {
  latency: [
    { key: "p50_us", label: "p50 us", higherIsBetter: false },
    { key: "p99_us", label: "p99 us", higherIsBetter: false },
    { key: "p999_us", label: "p999 us", higherIsBetter: false },
  ],
  small: [{ key: "msgs_per_s", label: "msg/s", higherIsBetter: true }],
  bulk: [{ key: "mb_per_s", label: "MB/s", higherIsBetter: true }],
  churn: [
    { key: "sessions_per_s", label: "sessions/s", higherIsBetter: true },
    {
      key: "cpu_us_per_session",
      label: "gateway CPU us/session",
      higherIsBetter: false,
    },
  ],
  "churn_warm": [
    { key: "sessions_per_s", label: "sessions/s", higherIsBetter: true },
  ],
  idle: [
    { key: "kib_per_session", label: "KiB/session", higherIsBetter: false },
  ],
};

type RunResult = Record<string, number | string>;

interface Cell {
  runs: RunResult[];
  errors: string[];
}

/** A started gateway: where to connect and how to stop it. */
interface Gateway {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

async function print(text: string): Promise<void> {
  let bytes = encoder.encode(text + "\n");
  while (bytes.length > 0) {
    const written = await Deno.stdout.write(bytes);
    bytes = bytes.subarray(written);
  }
}

function parseList<T extends string>(
  value: string,
  allowed: readonly T[],
  flag: string,
): T[] {
  const items = value.split(",").map((item) => item.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new RangeError(
        `Cannot parse ${flag} as "${item}" is unknown: expected one of ${
          allowed.join(", ")
        }`,
      );
    }
  }
  return items as T[];
}

function parsePositive(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new RangeError(
      `Cannot parse ${flag} as it must be a positive number: current value is "${value}"`,
    );
  }
  return parsed;
}

function parseWsgateFraming(value: string): "u32be" | "raw" {
  if (value !== "u32be" && value !== "raw") {
    throw new RangeError(
      `Cannot parse --wsgate-framing as it must be u32be or raw: current value is "${value}"`,
    );
  }
  return value;
}

function parseWarmCount(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new RangeError(
      `Cannot parse ${flag} as it must be a whole number >= 0: current value is "${value}"`,
    );
  }
  return parsed;
}

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string", default: "10" },
      runs: { type: "string", default: "3" },
      only: { type: "string", default: WORKLOAD_NAMES.join(",") },
      gateways: { type: "string", default: DEFAULT_GATEWAYS.join(",") },
      "no-direct": { type: "boolean", default: false },
      "idle-sessions": { type: "string", default: "5000" },
      "latency-warm": { type: "string", default: "1000" },
      "churn-warm": { type: "string", default: "1000" },
      json: { type: "string" },
      "keep-logs": { type: "boolean", default: false },
      "wsgate-framing": { type: "string", default: "u32be" },
      "wsgate-args": { type: "string", default: "" },
    },
    strict: true,
  });
  return {
    durationS: parsePositive(values.duration, "--duration"),
    runs: Math.round(parsePositive(values.runs, "--runs")),
    workloads: parseList(values.only, WORKLOAD_NAMES, "--only"),
    gateways: parseList(values.gateways, GATEWAY_NAMES, "--gateways"),
    direct: !values["no-direct"],
    idleSessions: Math.round(
      parsePositive(values["idle-sessions"], "--idle-sessions"),
    ),
    latencyWarm: Math.round(
      parsePositive(values["latency-warm"], "--latency-warm"),
    ),
    churnWarm: parseWarmCount(values["churn-warm"], "--churn-warm"),
    jsonPath: values.json,
    keepLogs: values["keep-logs"],
    wsgateFraming: parseWsgateFraming(values["wsgate-framing"]),
    wsgateArgs: values["wsgate-args"].split(" ").filter(Boolean),
  };
}

async function compile(buildDir: string, name: string): Promise<string> {
  const out = `${buildDir}/${name}`;
  const { code, stderr } = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-Wextra", "-o", out, `${HERE}${name}.c`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot compile "${name}.c": gcc failed: ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return out;
}

/**
 * Copies a child's output stream into a log file and resolves with the first
 * match of `pattern` in it (or undefined at the end of the stream).
 */
async function watchStream(
  stream: ReadableStream<Uint8Array>,
  log: Deno.FsFile,
  pattern: RegExp,
  onMatch: (match: RegExpMatchArray) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  let matched = false;
  for await (const chunk of stream) {
    await log.write(chunk);
    if (matched) continue;
    text += decoder.decode(chunk, { stream: true });
    const match = text.match(pattern);
    if (match) {
      matched = true;
      onMatch(match);
    } else if (text.length > 65536) {
      text = text.slice(-4096);
    }
  }
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Every live, non-zombie process of the tree rooted at `root`. */
async function processTree(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      parentOf.set(Number(entry.name), Number(fields[1]));
    } catch {
      // The process ended while the directory was being read.
    }
  }
  const tree = parentOf.has(root) ? [root] : [];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) {
      if (ppid === tree[i]) tree.push(pid);
    }
  }
  return tree;
}

/** Sum of PSS (KiB) over the process tree, from smaps_rollup. */
async function pssKib(root: number): Promise<{ kib: number; procs: number }> {
  const tree = await processTree(root);
  let kib = 0;
  for (const pid of tree) {
    try {
      const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
      const match = rollup.match(/^Pss:\s+(\d+) kB/m);
      if (match?.[1]) kib += Number(match[1]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return { kib, procs: tree.length };
}

/** Clock ticks per second of /proc/PID/stat times (USER_HZ). */
const TICKS_PER_S = 100;

/**
 * CPU time in milliseconds used so far by a process tree (user + system,
 * with the children it already reaped, as websockify's per-session forks).
 */
async function cpuMsOfTree(root: number): Promise<number> {
  let ticks = 0;
  for (const pid of await processTree(root)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime, cutime, cstime (fields 14-17 of proc(5)).
      for (let i = 11; i <= 14; i++) ticks += Number(fields[i]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return ticks * 1000 / TICKS_PER_S;
}

/** Waits (bounded) until the gateway has no child processes left. */
async function settleChildren(pid: number): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await processTree(pid)).length <= 1) return;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}

/**
 * Starts `command` pinned to core 0 in its own session (so the whole process
 * tree can be stopped by its group id) with its descriptor limit raised to
 * the hard limit, and
 * waits until `pattern` appears on its stdout or stderr.
 */
async function startGateway(
  command: string[],
  pattern: RegExp,
  logPath: string,
  portOf: (match: RegExpMatchArray) => number,
): Promise<Gateway> {
  const log = await Deno.open(logPath, { write: true, create: true });
  const child = new Deno.Command("setsid", {
    args: [
      "taskset",
      "-c",
      "0",
      "sh",
      "-c",
      'ulimit -n "$(ulimit -Hn)" && exec "$@"',
      "sh",
      ...command,
    ],
    // As in `deno task start`: no background check for a new Deno release
    // on the measured core.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = Promise.withResolvers<number>();
  const onMatch = (match: RegExpMatchArray) => ready.resolve(portOf(match));
  const copying = Promise.all([
    watchStream(child.stdout, log, pattern, onMatch),
    watchStream(child.stderr, log, pattern, onMatch),
  ]).finally(() => log.close());
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      Deno.kill(-child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, STOP_TIMEOUT_MS);
    await child.status;
    clearTimeout(timer);
    try {
      // Children that outlived their parent are still in its process group.
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // None left.
    }
    await copying;
  };
  const timeout = setTimeout(
    () => ready.reject(new Error("Cannot start gateway: timed out")),
    START_TIMEOUT_MS,
  );
  child.status.then((status) =>
    ready.reject(
      new Error(`Cannot start gateway: it exited with code ${status.code}`),
    )
  );
  try {
    const port = await ready.promise;
    return { port, pid: child.pid, stop };
  } catch (error) {
    await stop();
    const tail = (await Deno.readTextFile(logPath)).slice(-600).trim();
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}: ${tail}`,
    );
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * Installs the Bun and uWebSockets.js peers from npm into bench/load/peers
 * (once; the folder is gitignored) and returns why each peer that cannot run
 * is skipped.
 */
async function installPeers(
  gateways: GatewayName[],
): Promise<Map<GatewayName, string>> {
  const skipped = new Map<GatewayName, string>();
  const wanted: [GatewayName, string, string, string][] = [];
  if (gateways.includes("bun")) {
    wanted.push(["bun", BUN_PACKAGE, BUN_BIN, BUN_PREFIX]);
  }
  if (gateways.includes("uws")) {
    wanted.push(["uws", UWS_PACKAGE, `${UWS_MODULE}/package.json`, PEERS_DIR]);
  }
  const missing = [];
  for (const entry of wanted) {
    try {
      await Deno.stat(entry[2]);
    } catch {
      missing.push(entry);
    }
  }
  // One npm call per peer, so one peer that cannot be installed does not
  // skip the other.
  for (const [name, pkg, , prefix] of missing) {
    await print(`# installing ${pkg} with npm into ${prefix}`);
    try {
      const { code, stderr } = await new Deno.Command("npm", {
        args: [
          "install",
          "--no-save",
          "--no-audit",
          "--no-fund",
          "--prefix",
          prefix,
          pkg,
        ],
        stdout: "null",
        stderr: "piped",
        signal: AbortSignal.timeout(300_000),
      }).output();
      if (code !== 0) {
        const text = new TextDecoder().decode(stderr);
        const tail = text.replace(/\s+/g, " ").trim().slice(0, 300);
        skipped.set(name, `npm failed: ${tail}`);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      skipped.set(name, `npm: ${message}`);
    }
  }
  const checks: [GatewayName, string, string[]][] = [
    ["bun", BUN_BIN, ["--version"]],
    ["uws", "node", ["-e", `require(${JSON.stringify(UWS_MODULE)}).App`]],
  ];
  for (const [name, command, args] of checks) {
    if (!gateways.includes(name) || skipped.has(name)) continue;
    try {
      const { code } = await new Deno.Command(command, {
        args,
        stdout: "null",
        stderr: "null",
      }).output();
      if (code !== 0) skipped.set(name, `${command} exited with ${code}`);
    } catch (error) {
      skipped.set(
        name,
        error instanceof Error ? error.message : String(error),
      );
    }
  }
  return skipped;
}

function startTarget(
  target: GatewayName,
  echoPort: number,
  logPath: string,
  wsgateFraming: "u32be" | "raw",
  wsgateArgs: readonly string[],
  storeUrl: string | undefined,
): Promise<Gateway> {
  const peerArgs = [
    "--listen",
    "127.0.0.1:0",
    "--target",
    `127.0.0.1:${echoPort}`,
  ];
  if (target === "bun") {
    return startGateway(
      [BUN_BIN, `${PEERS_DIR}/bun_relay.js`, ...peerArgs],
      PEER_READY,
      logPath,
      (match) => Number(match[1]),
    );
  }
  if (target === "deno") {
    return startGateway(
      [
        Deno.execPath(),
        "run",
        "-A",
        ...startTaskV8Flags(),
        `${PEERS_DIR}/deno_relay.ts`,
        ...peerArgs,
      ],
      PEER_READY,
      logPath,
      (match) => Number(match[1]),
    );
  }
  if (target === "uws") {
    return startGateway(
      ["node", `${PEERS_DIR}/uws_relay.js`, ...peerArgs],
      PEER_READY,
      logPath,
      (match) => Number(match[1]),
    );
  }
  if (target === "wsgate" || target === "wsgate_store") {
    // The per-IP cap is far above the load, but makes every handshake ask
    // the store (without a cap or a ticket, wsgate never asks it).
    const storeArgs = target === "wsgate_store"
      ? ["--store", storeUrl!, "--max-sessions-per-ip", "1000000"]
      : [];
    return startGateway(
      [
        Deno.execPath(),
        "run",
        "-A",
        ...startTaskV8Flags(),
        MOD_TS,
        "--listen",
        "127.0.0.1:0",
        "--target",
        `127.0.0.1:${echoPort}`,
        "--framing",
        wsgateFraming,
        ...wsgateArgs,
        ...storeArgs,
      ],
      /listening on ws:\/\/(?:\[[^\]]*\]|[^\s:/]+):(\d+)/,
      logPath,
      (match) => Number(match[1]),
    );
  }
  const port = freePort();
  return startGateway(
    ["websockify", `127.0.0.1:${port}`, `127.0.0.1:${echoPort}`],
    /proxying from/,
    logPath,
    () => port,
  );
}

function loadgenArgs(
  workload: WorkloadName,
  args: BenchArgs,
  idleSessions: number,
): string[] {
  const duration = String(args.durationS);
  switch (workload) {
    case "latency":
      return [
        "--workload",
        "latency",
        "--size",
        "64",
        "--count",
        "10000",
        "--warm",
        String(args.latencyWarm),
      ];
    case "small":
      return [
        "--workload",
        "flow",
        "--sessions",
        "32",
        "--inflight",
        "64",
        "--size",
        "64",
        "--duration",
        duration,
      ];
    case "bulk":
      return [
        "--workload",
        "flow",
        "--sessions",
        "4",
        "--inflight",
        "16",
        "--size",
        "65536",
        "--duration",
        duration,
      ];
    case "churn":
    case "churn_warm":
      return [
        "--workload",
        "churn",
        "--count",
        String(CHURN_SESSIONS),
        "--warm",
        workload === "churn" ? "0" : String(args.churnWarm),
        "--parallel",
        "16",
        "--size",
        "64",
      ];
    case "idle":
      return [
        "--workload",
        "idle",
        "--count",
        String(idleSessions),
        "--warm",
        "100",
        "--parallel",
        "64",
        "--size",
        "64",
      ];
  }
}

function lastJson(stdout: string, stderr: string): RunResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  if (!line.startsWith("{")) {
    throw new Error(`loadgen failed: ${stderr.trim() || "no output"}`);
  }
  return JSON.parse(line) as RunResult;
}

async function runLoadgen(
  loadgen: string,
  args: string[],
  timeoutMs: number,
): Promise<RunResult> {
  const { stdout, stderr } = await new Deno.Command("taskset", {
    args: ["-c", "1", loadgen, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return lastJson(decoder.decode(stdout), decoder.decode(stderr));
}

/**
 * The idle workload: the load generator opens and closes warm-up sessions,
 * the gateway's PSS is taken, the load generator opens the idle sessions
 * (one round trip each), the PSS is taken again, then all close.
 */
async function runIdle(
  loadgen: string,
  args: string[],
  gatewayPid: number,
  sessions: number,
  timeoutMs: number,
): Promise<RunResult> {
  const child = new Deno.Command("taskset", {
    args: ["-c", "1", loadgen, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let buffered = "";
  const output: string[] = [];
  async function nextLine(): Promise<string | undefined> {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.next();
      if (done) return undefined;
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    output.push(line);
    return line;
  }
  let before = { kib: 0, procs: 0 };
  let after = { kib: 0, procs: 0 };
  try {
    if ((await nextLine()) === "warm") {
      await settleChildren(gatewayPid);
      before = await pssKib(gatewayPid);
      await writer.write(encoder.encode("go\n"));
      if ((await nextLine())?.startsWith("ready")) {
        after = await pssKib(gatewayPid);
        await writer.write(encoder.encode("go\n"));
      }
    }
    await writer.close().catch(() => {});
    while ((await nextLine()) !== undefined) {
      // Collect the rest of the output.
    }
  } finally {
    await child.status;
  }
  const result = lastJson(output.join("\n"), await stderrText);
  result.pss_before_kib = before.kib;
  result.pss_after_kib = after.kib;
  result.procs_after = after.procs;
  result.kib_per_session = (after.kib - before.kib) / sessions;
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function formatNumber(value: number): string {
  if (Math.abs(value) >= 100) {
    return Math.round(value).toLocaleString("en-US");
  }
  return value.toFixed(1);
}

function cellValue(cell: Cell | undefined, key: string): number | undefined {
  if (!cell || cell.runs.length === 0) return undefined;
  // A metric a target does not report (the CPU of "direct") is absent.
  const values = cell.runs.map((run) => Number(run[key]))
    .filter((value) => !Number.isNaN(value));
  return values.length === 0 ? undefined : median(values);
}

function isPeer(target: TargetName): boolean {
  return target !== "direct" && target !== "wsgate" &&
    target !== "wsgate_store" && target !== "deno";
}

function renderTable(
  args: BenchArgs,
  targets: TargetName[],
  cells: Map<string, Cell>,
): string[] {
  const header = [
    "workload",
    "metric",
    ...targets,
    ...(targets.includes("wsgate") && targets.some(isPeer)
      ? ["wsgate/best peer"]
      : []),
    ...(targets.includes("wsgate") && targets.includes("wsgate_store")
      ? ["store/wsgate"]
      : []),
  ];
  const rows: string[][] = [header];
  for (const workload of args.workloads) {
    for (const metric of METRICS[workload]) {
      const row = [
        workload,
        `${metric.label} (${
          metric.higherIsBetter ? "higher" : "lower"
        } better)`,
      ];
      const values = new Map<TargetName, number | undefined>();
      for (const target of targets) {
        const cell = cells.get(`${target}/${workload}`);
        const value = cellValue(cell, metric.key);
        values.set(target, value);
        if (target === "direct" && workload === "idle") {
          row.push("-");
        } else if (cell && cell.errors.length > 0) {
          row.push("ERR");
        } else {
          row.push(value === undefined ? "-" : formatNumber(value));
        }
      }
      if (header.includes("wsgate/best peer")) {
        const ours = values.get("wsgate");
        const peers = targets.filter(isPeer)
          .map((target) => values.get(target))
          .filter((value): value is number => value !== undefined);
        const best = metric.higherIsBetter
          ? Math.max(...peers)
          : Math.min(...peers);
        row.push(
          ours !== undefined && peers.length > 0 && best !== 0
            ? `${(ours / best).toFixed(2)}x`
            : "-",
        );
      }
      if (header.includes("store/wsgate")) {
        const plain = values.get("wsgate");
        const stored = values.get("wsgate_store");
        row.push(
          plain !== undefined && stored !== undefined && plain !== 0
            ? `${(stored / plain).toFixed(2)}x`
            : "-",
        );
      }
      rows.push(row);
    }
  }
  const widths = header.map((_, i) =>
    Math.max(...rows.map((row) => (row[i] ?? "").length))
  );
  return rows.map((row) =>
    row.map((text, i) =>
      i < 2 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!)
    ).join("  ").trimEnd()
  );
}

/** The redis-server of the `wsgate_store` variant. */
interface BenchRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's redis-server on a free port, pinned to core 0 beside the
 * gateway (core 1 is saturated by the load generator), without persistence; resolves once it is ready.
 */
async function startBenchRedis(): Promise<BenchRedis> {
  const port = freePort();
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let log = "";
  for (let i = 0; i < 1000 && !log.includes("Ready to accept"); i++) {
    const next = await lines.next();
    if (next.done) throw new Error(`redis-server exited:\n${log}`);
    log += next.value;
  }
  // Keep reading so redis-server never blocks on a full pipe.
  const drained = (async () => {
    for await (const _ of lines) { /* discard */ }
  })();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drained;
    },
  };
}

async function versionOf(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(stdout).split("\n")[0]?.trim() ?? "?";
  } catch {
    return "not found";
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs(Deno.args);
  const workDir = await Deno.makeTempDir({ prefix: "wsgate-bench-load-" });
  let failed = false;
  const [loadgen, echo] = await Promise.all([
    compile(workDir, "loadgen"),
    compile(workDir, "echo"),
  ]);
  const echoChild = new Deno.Command("taskset", {
    args: ["-c", "1", echo, "--port", "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const cells = new Map<string, Cell>();
  const notes: string[] = [];
  const skipped = await installPeers(args.gateways);
  for (const [name, why] of skipped) {
    notes.push(`${name} skipped: cannot install or run it: ${why}`);
  }
  const targets: TargetName[] = [
    ...(args.direct ? ["direct" as const] : []),
    ...args.gateways.filter((name) => !skipped.has(name)),
  ];
  let redis: BenchRedis | undefined;
  try {
    if (targets.includes("wsgate_store")) redis = await startBenchRedis();
    const firstLine = await echoChild.stdout
      .pipeThrough(new TextDecoderStream())
      .values()
      .next();
    const echoPort = Number(/port (\d+)/.exec(firstLine.value ?? "")?.[1]);
    if (!echoPort) throw new Error("Cannot start the echo backend");
    await print(
      `# wsgate load benchmark: ${
        new Date().toISOString()
      }, runs=${args.runs}, duration=${args.durationS}s, wsgate --framing ${args.wsgateFraming}${
        args.wsgateArgs.length > 0 ? ` ${args.wsgateArgs.join(" ")}` : ""
      }`,
    );
    await print(
      `# ${await versionOf(Deno.execPath(), [
        "--version",
      ])}; websockify ${await versionOf(
        "dpkg-query",
        ["-W", "-f=${Version}", "websockify"],
      )}; loadavg ${(await Deno.readTextFile("/proc/loadavg")).trim()}`,
    );
    const hardNofile = Number(await versionOf("sh", ["-c", "ulimit -Hn"]));
    if (hardNofile < 2 * args.idleSessions + 256) {
      notes.push(
        `the hard descriptor limit (${hardNofile}) may be too low for ${args.idleSessions} idle sessions through a gateway`,
      );
    }
    for (const target of targets) {
      let startError: string | undefined;
      for (const workload of args.workloads) {
        if (target === "direct" && workload === "idle") continue;
        const cell: Cell = { runs: [], errors: [] };
        cells.set(`${target}/${workload}`, cell);
        const idleSessions = target === "websockify"
          ? Math.min(args.idleSessions, WEBSOCKIFY_IDLE_CAP)
          : args.idleSessions;
        if (workload === "idle" && idleSessions !== args.idleSessions) {
          notes.push(
            `${target} idle: ${idleSessions} sessions (websockify 0.10 forks a process per session and fails near 500 open sessions: select() past FD_SETSIZE)`,
          );
        }
        const timeoutMs = 180_000 + args.durationS * 2_000;
        for (let run = 1; run <= args.runs; run++) {
          if (startError) {
            cell.errors.push(startError);
            break;
          }
          const label = `${target} ${workload} run ${run}/${args.runs}`;
          let gateway: Gateway | undefined;
          try {
            const loadArgs = loadgenArgs(workload, args, idleSessions);
            let result: RunResult;
            if (target === "direct") {
              result = await runLoadgen(
                loadgen,
                ["--mode", "raw", "--port", String(echoPort), ...loadArgs],
                timeoutMs,
              );
            } else {
              try {
                gateway = await startTarget(
                  target,
                  echoPort,
                  `${workDir}/${target}-${workload}-${run}.log`,
                  args.wsgateFraming,
                  args.wsgateArgs,
                  redis?.url,
                );
              } catch (error) {
                startError = error instanceof Error
                  ? error.message
                  : String(error);
                throw error;
              }
              const framing =
                (target === "wsgate" || target === "wsgate_store") &&
                  args.wsgateFraming === "u32be"
                  ? "message"
                  : "stream";
              const wsArgs = [
                "--mode",
                "ws",
                "--framing",
                framing,
                "--port",
                String(gateway.port),
                ...loadArgs,
              ];
              // Cold churn: the gateway's CPU time over every session of the
              // run (the figure a loaded machine changes least).
              const cpuBeforeMs = workload === "churn"
                ? await cpuMsOfTree(gateway.pid)
                : 0;
              result = workload === "idle"
                ? await runIdle(
                  loadgen,
                  wsArgs,
                  gateway.pid,
                  idleSessions,
                  timeoutMs,
                )
                : await runLoadgen(loadgen, wsArgs, timeoutMs);
              if (workload === "churn") {
                const cpuMs = await cpuMsOfTree(gateway.pid) - cpuBeforeMs;
                result.cpu_us_per_session = cpuMs * 1000 /
                  Number(result.sessions ?? CHURN_SESSIONS);
              }
            }
            cell.runs.push(result);
            const shown = METRICS[workload]
              .filter((m) => result[m.key] !== undefined)
              .map((m) => `${m.label} ${formatNumber(Number(result[m.key]))}`)
              .join(", ");
            const closes = Number(result.close_no_reply ?? 0);
            await print(
              `# ${label}: ${shown}${
                closes > 0 ? `, ${closes} closes without a Close reply` : ""
              }`,
            );
          } catch (error) {
            const message = error instanceof Error
              ? error.message
              : String(error);
            cell.errors.push(`${label}: ${message}`);
            failed = true;
            await print(`# ${label}: ERROR ${message}`);
          } finally {
            await gateway?.stop();
          }
        }
      }
    }
    await print("");
    for (const line of renderTable(args, targets, cells)) await print(line);
    await print("");
    await print(
      "medians; latency: 1 session, 64 B ping-pong, 10,000 round trips " +
        `after ${args.latencyWarm.toLocaleString("en-US")} unmeasured; ` +
        "small: 32 sessions x 64 in flight x 64 B; " +
        "bulk: 4 sessions x 16 in flight x 64 KiB (MB = 10^6 B of echoed " +
        "payload); small/bulk measured after 1 s warm-up; churn: 2,000 " +
        "sessions from a fresh gateway process (cold), 16 in parallel " +
        "(gateway CPU: user + system time of its process tree over them); " +
        `churn_warm: the same after ${
          args.churnWarm.toLocaleString("en-US")
        } unmeasured sessions; idle: PSS of the gateway's process tree ` +
        `with ${args.idleSessions} idle sessions minus PSS after 100 warm-up ` +
        "sessions, divided by the session count",
    );
    for (const note of new Set(notes)) await print(`note: ${note}`);
    await print(
      `loadavg at end: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`,
    );
    const errors = new Set([...cells.values()].flatMap((cell) => cell.errors));
    for (const error of errors) await print(`error: ${error}`);
    if (args.jsonPath) {
      const dump = Object.fromEntries(
        [...cells].map(([key, cell]) => [key, cell]),
      );
      await Deno.writeTextFile(args.jsonPath, JSON.stringify(dump, null, 2));
    }
  } finally {
    await redis?.stop();
    echoChild.kill("SIGTERM");
    await echoChild.status;
    if (failed || args.keepLogs) {
      await print(`logs: ${workDir}`);
    } else {
      await Deno.remove(workDir, { recursive: true });
    }
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
