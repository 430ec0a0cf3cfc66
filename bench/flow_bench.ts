/**
 * Full-size flow-control measurements (a plain script, not `Deno.bench`):
 * the scenarios of tests/integration/flow_control_test.ts at full size,
 * against a gateway child process whose RSS and PSS are read from `/proc`.
 *
 * - browser flood: the backend stalls while the browser sends 1 GiB, then
 *   resumes; every byte is checked by SHA-256
 * - backend flood: the browser stalls while the backend sends 1 GiB
 * - 1000 sessions stalled both ways at once
 *
 * Run: `deno run -A bench/flow_bench.ts`. Sizes come from the environment
 * (k, m or g): `WSGATE_FLOW_BYTES` (1g), `WSGATE_FLOW_BUFFER` (the
 * gateway's `--buffer`, 256k), `WSGATE_FLOW_SESSIONS` (1000). Growth is over
 * the baseline after a warm-up session; "at stall" is the peak until the
 * stalled state was observed, "peak" covers the whole run including the
 * full-speed drain.
 *
 * @module
 */

import {
  type FloodResult,
  type GatewayMemory,
  MIB,
  runBackendFlood,
  runBrowserFlood,
  runStalledSessions,
  sizeFromEnv,
} from "../tests/_util/flow_scenarios.ts";

async function print(line: string): Promise<void> {
  let bytes = new TextEncoder().encode(line + "\n");
  for (let i = 0; i < 1000 && bytes.length > 0; i++) {
    bytes = bytes.subarray(await Deno.stdout.write(bytes));
  }
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "n/a" : `${(bytes / MIB).toFixed(1)} MiB`;
}

function memoryLine(memory: GatewayMemory): string {
  return `RSS baseline ${mib(memory.baselineRssBytes)}; growth at stall ` +
    `${mib(memory.stallRssGrowthBytes)}, peak ${
      mib(memory.peakRssGrowthBytes)
    }; PSS peak growth ${mib(memory.peakPssGrowthBytes)}`;
}

async function printFlood(name: string, result: FloodResult): Promise<void> {
  const isIntact = result.sent.sha256 === result.received.sha256 &&
    result.sent.bytes === result.received.bytes;
  const rate = result.received.bytes / MIB / (result.drainMs / 1000);
  await print(`${name}: ${memoryLine(result)}`);
  await print(
    `  sender blocked: ${result.isSenderBlocked} after ${
      mib(result.stalledAtBytes)
    }; ${mib(result.received.bytes)} drained in ${
      result.drainMs.toFixed(0)
    } ms (${rate.toFixed(0)} MiB/s); SHA-256 ${
      isIntact ? "equal" : "DIFFERENT"
    } (${result.sent.sha256.slice(0, 16)}...)`,
  );
}

if (import.meta.main) {
  const totalBytes = sizeFromEnv("WSGATE_FLOW_BYTES", 1024 * MIB);
  const bufferBytes = sizeFromEnv("WSGATE_FLOW_BUFFER", 256 * 1024);
  const sessions = sizeFromEnv("WSGATE_FLOW_SESSIONS", 1000);
  const timeoutMs = 300_000;
  await print(
    `wsgate flow bench: --buffer ${bufferBytes} (${mib(bufferBytes)}), ${
      mib(totalBytes)
    } per flood, ${sessions} stalled sessions; ` +
      `Deno ${Deno.version.deno}`,
  );
  await printFlood(
    "browser flood, backend stalled",
    await runBrowserFlood({ totalBytes, bufferBytes, timeoutMs }),
  );
  await printFlood(
    "backend flood, browser stalled",
    await runBackendFlood({ totalBytes, bufferBytes, timeoutMs }),
  );
  const stalled = await runStalledSessions({
    totalBytes,
    bufferBytes,
    sessions,
    timeoutMs,
  });
  await print(
    `${sessions} sessions stalled both ways: ${memoryLine(stalled)}`,
  );
  await print(
    `  per session ${
      (stalled.stallRssGrowthBytes / sessions / 1024).toFixed(0)
    } KiB (2 x --buffer per direction = ${
      (4 * bufferBytes / 1024).toFixed(0)
    } KiB); blocked senders ${stalled.blockedSenders} of ${2 * sessions}; ${
      mib(stalled.inFlightBytes)
    } held in kernel socket buffers and the ` +
      `gateway; set up in ${stalled.setupMs.toFixed(0)} ms`,
  );
}
