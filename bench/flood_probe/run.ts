/**
 * One session's latency while other sessions flood the gateway (issue #17
 * item 11): a probe session sends one 64-byte message every 10 ms and
 * times its echo, while flooders in their own process send 8-byte pings
 * without reading (`ping`) or 64 KiB messages (`data`), reconnecting
 * whenever the gateway closes them. Prints the probe's p50, p99 and worst
 * round trip per scenario, and how many sessions the flooders opened.
 *
 * The gateway runs from `--repo` (default: this checkout; point it at an
 * export of another commit to compare) on core 0, the flooders and the
 * probe on core 1, the C echo backend of `bench/load/echo.c` beside them.
 *
 * Run: `deno task bench:flood` or `deno run -A bench/flood_probe/run.ts
 * [--repo DIR] [--duration S] [--only idle,ping1,ping4,data1,data4]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RawWsClient } from "../../tests/_util/raw_ws_client.ts";

const HERE = new URL(".", import.meta.url).pathname;
const SCENARIOS = {
  idle: undefined,
  ping1: { kind: "ping", clients: 1 },
  ping4: { kind: "ping", clients: 4 },
  data1: { kind: "data", clients: 1 },
  data4: { kind: "data", clients: 4 },
} as const;
type ScenarioName = keyof typeof SCENARIOS;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    repo: {
      type: "string",
      default: new URL("../../", import.meta.url).pathname,
    },
    duration: { type: "string", default: "8" },
    only: { type: "string", default: Object.keys(SCENARIOS).join(",") },
  },
  strict: true,
});
const durationMs = Number(values.duration) * 1000;
const only = values.only.split(",").filter((name): name is ScenarioName =>
  name in SCENARIOS
);

async function print(line: string): Promise<void> {
  let bytes = new TextEncoder().encode(line + "\n");
  for (let i = 0; i < 1000 && bytes.length > 0; i++) {
    bytes = bytes.subarray(await Deno.stdout.write(bytes));
  }
}

/** Resolves with the first match of `pattern` in the child's output. */
async function firstMatch(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const match = pattern.exec(text);
    if (match !== null) {
      // Keep draining so the child never blocks on a full pipe.
      stream.pipeTo(new WritableStream()).catch(() => {});
      return match;
    }
  }
  throw new Error(`Cannot find ${pattern} in the output: ${text}`);
}

function pinned(core: number, command: string, args: string[]): Deno.Command {
  return new Deno.Command("taskset", {
    args: ["-c", String(core), command, ...args],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The probe's round trips; a round trip over 20 s ends the probe. */
interface ProbeResult {
  rtts: number[];
  failure: string | undefined;
}

async function probe(client: RawWsClient): Promise<ProbeResult> {
  const message = new Uint8Array(64).fill(5);
  const rtts: number[] = [];
  const end = performance.now() + durationMs;
  for (let i = 0; i < 100_000 && performance.now() < end; i++) {
    const start = performance.now();
    await client.send(message);
    const echo = await client.next(20_000).catch(() => undefined);
    if (echo?.kind !== "message") {
      return { rtts, failure: "no echo within 20 s" };
    }
    const rtt = performance.now() - start;
    rtts.push(rtt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10 - rtt)));
  }
  return { rtts, failure: undefined };
}

async function runScenario(
  name: ScenarioName,
  echoPort: number,
): Promise<string> {
  const gateway = pinned(0, Deno.execPath(), [
    "run",
    "-A",
    `${values.repo}/mod.ts`,
    "--listen",
    "127.0.0.1:0",
    "--target",
    `127.0.0.1:${echoPort}`,
  ]).spawn();
  try {
    const match = await firstMatch(
      gateway.stdout,
      /listening on ws:\/\/[^\s:/]+:(\d+)/,
    );
    gateway.stderr.pipeTo(new WritableStream()).catch(() => {});
    const port = Number(match[1]);
    // The probe's session opens before the flood starts.
    const { client, response } = await RawWsClient.connect(port);
    if (response.status !== 101) {
      throw new Error(`probe got ${response.status}`);
    }
    const scenario = SCENARIOS[name];
    const flooder = scenario === undefined ? undefined : pinned(
      1,
      Deno.execPath(),
      [
        "run",
        "-A",
        `${HERE}flooder.ts`,
        "--port",
        String(port),
        "--kind",
        scenario.kind,
        "--clients",
        String(scenario.clients),
        "--duration-ms",
        String(durationMs + 1500),
      ],
    ).output();
    // Let the flood start before measuring.
    if (flooder !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const { rtts, failure } = await probe(client);
    rtts.sort((a, b) => a - b);
    await client.close().catch(() => {});
    let flood = "";
    if (flooder !== undefined) {
      const result = await flooder;
      const line = new TextDecoder().decode(result.stdout).trim();
      const report = JSON.parse(line || "{}");
      flood = `${report.sessions} flooder sessions, ${
        (report.bytesWritten / 1e6).toFixed(0)
      } MB written`;
    }
    return `${name.padEnd(6)} probe ${rtts.length} round trips: p50 ${
      percentile(rtts, 0.5).toFixed(1)
    } ms, p99 ${percentile(rtts, 0.99).toFixed(1)} ms, worst ${
      rtts.at(-1)?.toFixed(1)
    } ms${failure === undefined ? "" : ` (then ${failure})`}; ${flood}`;
  } finally {
    gateway.kill("SIGTERM");
    await gateway.status;
  }
}

const buildDir = await Deno.makeTempDir({ prefix: "wsgate_flood_" });
try {
  const echo = `${buildDir}/echo`;
  const built = await new Deno.Command("gcc", {
    args: ["-O2", "-o", echo, `${HERE}../load/echo.c`],
  }).output();
  if (built.code !== 0) throw new Error("Cannot compile bench/load/echo.c");
  const echoChild = pinned(1, echo, []).spawn();
  try {
    const echoPort = Number(
      (await firstMatch(echoChild.stdout, /port (\d+)/))[1],
    );
    echoChild.stderr.pipeTo(new WritableStream()).catch(() => {});
    await print(
      `# flood probe: ${
        new Date().toISOString()
      }, gateway from ${values.repo}, ${
        durationMs / 1000
      } s per scenario; loadavg ${
        (await Deno.readTextFile("/proc/loadavg")).trim()
      }`,
    );
    for (const name of only) await print(await runScenario(name, echoPort));
  } finally {
    echoChild.kill("SIGTERM");
    await echoChild.status;
  }
} finally {
  await Deno.remove(buildDir, { recursive: true });
}
