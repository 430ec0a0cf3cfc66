/**
 * Flow control proven with real sockets and a real gateway process: a
 * stalled peer makes the gateway stop reading the other side, so the
 * flooding sender's writes block, the gateway's memory stays near the
 * high-water mark (`--buffer`), and nothing is lost once the peer resumes.
 *
 * The gateway runs as a child (`deno run -A mod.ts`) so its RSS and PSS can
 * be read from `/proc`; see tests/_util/flow_scenarios.ts. Sizes are small
 * for CI; raise them with environment variables (sizes take k, m or g):
 *
 * - `WSGATE_FLOW_BYTES`: bytes each flooding sender tries to send (64m)
 * - `WSGATE_FLOW_BUFFER`: the gateway's `--buffer` (256k)
 * - `WSGATE_FLOW_SESSIONS`: stalled sessions in the many-sessions test (100)
 *
 * The bounds, over the RSS (and PSS) baseline taken after a warm-up:
 * one stalled direction may hold 2 x `--buffer` plus 512 KiB of read
 * buffers; the runtime may add 32 MiB; a phase where data flows at full
 * speed may add V8's 64 MiB garbage slack. A flood must stay within the
 * direction bound plus the runtime allowance until the stall, and within
 * that plus the slack over the whole run; N sessions stalled both ways
 * within N x 2 direction bounds plus both allowances.
 *
 * `bench/flow_bench.ts` runs the same scenarios at full size.
 *
 * @module
 */

import { assert, assertStrictEquals } from "../_util/assert.ts";
import {
  type FloodResult,
  type GatewayMemory,
  MIB,
  runBackendFlood,
  runBrowserFlood,
  runStalledSessions,
  sizeFromEnv,
} from "../_util/flow_scenarios.ts";

const TOTAL_BYTES = sizeFromEnv("WSGATE_FLOW_BYTES", 64 * MIB);
const BUFFER_BYTES = sizeFromEnv("WSGATE_FLOW_BUFFER", 256 * 1024);
const SESSIONS = sizeFromEnv("WSGATE_FLOW_SESSIONS", 100);

/**
 * What the runtime itself may add once traffic starts (JIT code, heap
 * pages, allocator arenas), independent of sessions and of the mark.
 */
const RUNTIME_ALLOWANCE_BYTES = 32 * MIB;

/**
 * Buffers a stalled direction holds besides its queue, independent of the
 * mark: twice the gateway's 256 KiB maximum read size (the read buffer that
 * queued views pin whole, and the next one). Measured with 1000 sessions
 * (bench/flow_bench.ts): about 0.3 MiB per direction.
 */
const FIXED_PER_DIRECTION_BYTES = 512 * 1024;

/**
 * While data flows at full speed (filling the pipes before the stall,
 * draining after it), released buffers wait for the next garbage
 * collection: V8 starts one when external (ArrayBuffer) memory has grown by
 * its 64 MiB soft limit. Allowed once per gateway, on top, for every phase
 * with a full-speed flow of more than a few MiB.
 */
const GC_SLACK_BYTES = 64 * MIB;

/** The bound for one stalled direction: twice the mark plus fixed buffers. */
const DIRECTION_BOUND_BYTES = 2 * BUFFER_BYTES + FIXED_PER_DIRECTION_BYTES;

Deno.test("gateway blocks a flooding browser within 2 x bufferBytes while the backend is stalled, and loses no byte", async () => {
  const result = await runBrowserFlood({
    totalBytes: TOTAL_BYTES,
    bufferBytes: BUFFER_BYTES,
  });
  assertFlood(result, "browser");
});

Deno.test("gateway blocks a flooding backend within 2 x bufferBytes while the browser is stalled, and loses no byte", async () => {
  const result = await runBackendFlood({
    totalBytes: TOTAL_BYTES,
    bufferBytes: BUFFER_BYTES,
  });
  assertFlood(result, "backend");
});

Deno.test("gateway keeps N sessions stalled both ways within N x the per-session bound", async () => {
  const result = await runStalledSessions({
    totalBytes: TOTAL_BYTES,
    bufferBytes: BUFFER_BYTES,
    sessions: SESSIONS,
  });
  assertStrictEquals(
    result.blockedSenders,
    2 * SESSIONS,
    "every browser and every backend must be blocked",
  );
  // Filling 2 x N pipes moves GiBs at full speed, hence the GC slack.
  const bound = SESSIONS * 2 * DIRECTION_BOUND_BYTES + RUNTIME_ALLOWANCE_BYTES +
    GC_SLACK_BYTES;
  assertWithin(result, bound, bound, `${SESSIONS} stalled sessions`);
});

function assertFlood(result: FloodResult, sender: string): void {
  assert(
    result.isSenderBlocked && result.stalledAtBytes < TOTAL_BYTES,
    `the ${sender}'s writes must block while its peer is stalled: it wrote ` +
      `${mib(result.stalledAtBytes)} of ${
        mib(TOTAL_BYTES)
      } (raise WSGATE_FLOW_BYTES ` +
      "when the kernel's socket buffers took everything)",
  );
  assertStrictEquals(result.received.bytes, TOTAL_BYTES);
  assertStrictEquals(result.sent.bytes, TOTAL_BYTES);
  assertStrictEquals(
    result.received.sha256,
    result.sent.sha256,
    "SHA-256 of the bytes received must equal that of the bytes sent",
  );
  const stallBound = DIRECTION_BOUND_BYTES + RUNTIME_ALLOWANCE_BYTES;
  assertWithin(
    result,
    stallBound,
    stallBound + GC_SLACK_BYTES,
    `a ${sender} flood`,
  );
}

/** Checks the stall-phase growth and the whole-run growth (RSS and PSS). */
function assertWithin(
  memory: GatewayMemory,
  stallBound: number,
  runBound: number,
  what: string,
): void {
  const report = `${what} (--buffer ${BUFFER_BYTES}): RSS baseline ` +
    `${mib(memory.baselineRssBytes)}, growth at the stall ` +
    `${mib(memory.stallRssGrowthBytes)} (bound ${mib(stallBound)}), peak ` +
    `growth ${mib(memory.peakRssGrowthBytes)}, PSS peak growth ` +
    `${mib(memory.peakPssGrowthBytes ?? 0)} (bound ${mib(runBound)})`;
  assert(memory.stallRssGrowthBytes <= stallBound, report);
  assert(memory.peakRssGrowthBytes <= runBound, report);
  assert((memory.peakPssGrowthBytes ?? 0) <= runBound, report);
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
