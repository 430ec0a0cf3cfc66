/**
 * A bounded soak: for about 20 seconds (`WSGATE_SOAK_SECONDS` overrides),
 * 100 concurrent workers open session after session against one in-process
 * gateway, each with random traffic and a random fault from the faults
 * suite: browsers that close cleanly, vanish, keep sending after their close
 * frame, send an oversize message or only open and close; backends that
 * close mid-frame, reset, send garbage, stay silent, push and close; idle
 * and lifetime timeouts. Every message carries its stream id, sequence
 * number and a checksum. Each session checks the close code it gets and what
 * both ends received (exactly once and in order, or an in-order prefix where
 * the fault may cut traffic short); at the end the gateway must hold no
 * session, every session must have reported its close, and the process's
 * open descriptors must return to the baseline. `WSGATE_SEED` replays a run.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  concat,
  readOrEof,
  startBackend,
  type TestBackend,
  u32beFrame,
  writeAll,
} from "../_util/backends.ts";
import { checkedMessage, inspectMessage } from "../_util/checked_messages.ts";
import { openFdCount } from "../_util/fd_count.ts";
import { type GatewayFixture, startGateway } from "../_util/gateway_fixture.ts";
import { Prng, testSeeds } from "../_util/prng.ts";
import {
  faultAfter,
  type SoakResetBackend,
  startSoakResetBackend,
} from "../_util/soak_reset_backend.ts";
import {
  messagesOf,
  RawWsClient,
  type ReceivedFrame,
} from "../_util/raw_ws_client.ts";
import { U32beSplitter } from "../_util/u32be_splitter.ts";
import { waitUntil } from "../_util/wait_until.ts";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

const DEFAULT_SOAK_SECONDS = 20;
const WORKERS = 100;
const SMALL_MAX_BYTES = 64 * 1024;

function soakSeconds(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("WSGATE_SOAK_SECONDS");
  } catch {
    text = undefined; // no --allow-env: the default
  }
  if (text === undefined || text.trim() === "") return DEFAULT_SOAK_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new TypeError(
      `Cannot read WSGATE_SOAK_SECONDS as it must be a positive number: current value is "${text}"`,
    );
  }
  return seconds;
}

// ---- checked messages ------------------------------------------------------

/** Throws unless `messages` are messages 0..n-1 of `stream`, intact. */
function checkSequence(
  messages: readonly Uint8Array[],
  stream: number,
  what: string,
): void {
  for (const [index, message] of messages.entries()) {
    const seen = inspectMessage(message);
    if (seen === undefined) {
      throw new Error(`${what}: message ${index} corrupt`);
    }
    if (seen.stream !== stream || seen.seq !== index) {
      throw new Error(
        `${what}: expected ${stream}/${index}, got ${seen.stream}/${seen.seq}`,
      );
    }
  }
}

/** Throws unless `seqs` is 0..n-1 with n in [min, max]. */
function checkPrefix(
  seqs: readonly number[],
  min: number,
  max: number,
  what: string,
): void {
  if (seqs.length < min || seqs.length > max) {
    throw new Error(
      `${what}: ${seqs.length} messages, expected ${min}..${max}`,
    );
  }
  for (const [index, seq] of seqs.entries()) {
    if (seq !== index) {
      throw new Error(`${what}: message ${index} is seq ${seq}`);
    }
  }
}

// ---- backends --------------------------------------------------------------

/** What one backend connection received, keyed by the stream it carried. */
interface BackendLog {
  seqs: number[];
  corrupt: number;
  isEnded: boolean;
}

type Logs = Map<number, BackendLog>;

/** How many frames the push backend sends. */
function pushCount(stream: number): number {
  return (stream * 13) % 40;
}

/** Records one received payload in the log of its stream. */
function record(
  logs: Logs,
  log: BackendLog | undefined,
  payload: Uint8Array,
): BackendLog {
  return recordSeen(logs, log, inspectMessage(payload));
}

/** Records one received message (undefined: corrupt) in its stream's log. */
function recordSeen(
  logs: Logs,
  log: BackendLog | undefined,
  seen: { stream: number; seq: number } | undefined,
): BackendLog {
  if (log === undefined) {
    log = { seqs: [], corrupt: 0, isEnded: false };
    // A corrupt first frame has no stream; park it where no one looks.
    logs.set(seen?.stream ?? -1, log);
  }
  if (seen === undefined) log.corrupt++;
  else log.seqs.push(seen.seq);
  return log;
}

type BackendMode = "echo" | "silent" | "mid-frame" | "garbage" | "push";

/** A loopback backend that records by stream and misbehaves per `mode`. */
function startSoakBackend(mode: BackendMode, logs: Logs): TestBackend {
  return startBackend(async (conn) => {
    const splitter = new U32beSplitter();
    const buffer = new Uint8Array(64 * 1024);
    let log: BackendLog | undefined;
    let isFaulted = false;
    let isWriteFailed = false;
    try {
      for (let reads = 0; reads < 1_000_000; reads++) {
        const count = await readOrEof(conn, buffer);
        if (count === null) return;
        const replies: Uint8Array[] = [];
        for (const payload of splitter.push(buffer.subarray(0, count))) {
          log = record(logs, log, payload);
          if (isFaulted || mode === "silent") continue;
          const stream = inspectMessage(payload)?.stream ?? 0;
          if (mode === "echo") {
            replies.push(u32beFrame(payload));
          } else if (mode === "push") {
            for (let seq = 0; seq < pushCount(stream); seq++) {
              replies.push(u32beFrame(checkedMessage(stream, seq, 20 + seq)));
            }
            await writeAll(conn, concat(replies));
            return; // a clean close after the pushed frames
          } else if (log.seqs.length <= faultAfter(stream)) {
            replies.push(u32beFrame(payload));
          } else if (mode === "mid-frame") {
            replies.push(u32beFrame(new Uint8Array(100)).subarray(0, 50));
            await writeAll(conn, concat(replies));
            return;
          } else {
            // Garbage: a length far above the 16 MiB default.
            replies.push(new Uint8Array([0xf0, 1, 2, 3, 4, 5, 6, 7]));
            isFaulted = true;
          }
        }
        if (replies.length > 0 && !isWriteFailed) {
          try {
            await writeAll(conn, concat(replies));
          } catch {
            // The gateway closed first; keep reading what it delivered.
            isWriteFailed = true;
          }
        }
      }
    } finally {
      if (log !== undefined) log.isEnded = true;
    }
  });
}

/**
 * The node:net backend that echoes, then resets (SO_LINGER 0), in a child
 * process (see soak_reset_backend.ts for why), logged like the others.
 */
function startResetBackend(logs: Logs): Promise<SoakResetBackend> {
  const connections = new Map<number, BackendLog>();
  return startSoakResetBackend({
    onFrame(connection, seen) {
      connections.set(
        connection,
        recordSeen(logs, connections.get(connection), seen),
      );
    },
    onClosed(connection) {
      const log = connections.get(connection);
      if (log !== undefined) log.isEnded = true;
      connections.delete(connection);
    },
  });
}

// ---- browsers --------------------------------------------------------------

const SCENARIOS = [
  ["clean", 25],
  ["vanish", 10],
  ["close-then-send", 8],
  ["huge", 6],
  ["mid-frame", 8],
  ["garbage", 6],
  ["reset", 8],
  ["silent", 4],
  ["push", 10],
  ["idle", 4],
  ["lifetime", 4],
  ["flash", 7],
] as const;

type Scenario = typeof SCENARIOS[number][0];

function pickScenario(prng: Prng): Scenario {
  const total = SCENARIOS.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = prng.int(0, total - 1);
  for (const [name, weight] of SCENARIOS) {
    if (roll < weight) return name;
    roll -= weight;
  }
  return "clean";
}

function messageSize(prng: Prng, max = 300_000): number {
  const roll = prng.float();
  const size = roll < 0.7
    ? prng.int(12, 500)
    : roll < 0.95
    ? prng.int(500, 20_000)
    : prng.int(20_000, 300_000);
  return Math.min(size, max);
}

interface SoakContext {
  gateway: GatewayFixture;
  logs: Logs;
  /** Upgraded sessions, to match against session_close events. */
  upgraded: number;
}

async function openRaw(
  context: SoakContext,
  path: string,
): Promise<RawWsClient> {
  const { client, response } = await RawWsClient.connect(
    context.gateway.port,
    path,
  );
  if (response.status !== 101) {
    await client.close();
    throw new Error(`upgrade on ${path}: ${response.status}`);
  }
  context.upgraded++;
  return client;
}

/** Reads exactly `count` data messages (nothing else may come first). */
async function takeMessages(
  client: RawWsClient,
  count: number,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const frame = await client.next();
    if (frame?.kind !== "message") {
      throw new Error(`message ${i} of ${count}: got ${JSON.stringify(frame)}`);
    }
    out.push(frame.payload);
  }
  return out;
}

/** Waits for the close, answers it, then closes TCP once the server has. */
async function expectClose(
  client: RawWsClient,
  code: number,
  reason: string | undefined,
): Promise<ReceivedFrame[]> {
  const close = await client.nextClose();
  if (close === undefined) throw new Error(`EOF instead of close ${code}`);
  if (
    close.code !== code || (reason !== undefined && close.reason !== reason)
  ) {
    throw new Error(
      `close ${close.code} "${close.reason}", expected ${code} "${reason}"`,
    );
  }
  await client.sendClose(close.code).catch(() => {});
  await client.waitForEof();
  return close.before;
}

/**
 * The backend log of `stream` once its connection ended (bounded wait).
 * When the browser's messages may not have reached the backend at all
 * (`isExpected` false), a missing log counts as empty; the final pass over
 * every log still checks whatever did arrive.
 */
async function endedLog(
  context: SoakContext,
  stream: number,
  isExpected = true,
): Promise<BackendLog> {
  if (isExpected || context.logs.has(stream)) {
    await waitUntil(
      () => context.logs.get(stream)?.isEnded === true,
      5000,
      () => `the backend connection of stream ${stream} to end`,
    );
  }
  const log = context.logs.get(stream) ??
    { seqs: [], corrupt: 0, isEnded: true };
  if (log.corrupt > 0) throw new Error(`stream ${stream}: corrupt at backend`);
  return log;
}

async function sendAll(
  client: RawWsClient,
  stream: number,
  count: number,
  prng: Prng,
  max?: number,
): Promise<void> {
  for (let seq = 0; seq < count; seq++) {
    await client.send(checkedMessage(stream, seq, messageSize(prng, max)));
  }
}

/** Runs one session of `scenario`; throws on any broken invariant. */
async function runSession(
  context: SoakContext,
  scenario: Scenario,
  stream: number,
  prng: Prng,
): Promise<void> {
  const what = `stream ${stream} (${scenario})`;
  switch (scenario) {
    case "clean": {
      await using client = await openRaw(context, "/echo");
      const count = prng.int(1, 30);
      await sendAll(client, stream, count, prng);
      checkSequence(await takeMessages(client, count), stream, what);
      await client.sendClose(1000);
      const close = await client.nextClose();
      if (close?.code !== 1000) {
        throw new Error(`${what}: close ${close?.code}`);
      }
      await client.waitForEof();
      const log = await endedLog(context, stream);
      checkPrefix(log.seqs, count, count, `${what} backend`);
      return;
    }
    case "vanish": {
      const client = await openRaw(context, "/echo");
      const count = prng.int(1, 30);
      await sendAll(client, stream, count, prng);
      const echoed = prng.int(0, count);
      checkSequence(await takeMessages(client, echoed), stream, what);
      if (prng.chance(0.5)) await client.conn.closeWrite();
      await client.close();
      const log = await endedLog(context, stream, echoed > 0);
      checkPrefix(log.seqs, echoed, count, `${what} backend`);
      return;
    }
    case "close-then-send": {
      await using client = await openRaw(context, "/echo");
      const count = prng.int(1, 20);
      await sendAll(client, stream, count, prng);
      await client.sendClose(1000);
      for (let seq = count; seq < count + prng.int(1, 5); seq++) {
        await client.send(checkedMessage(stream, seq, 100)).catch(() => {});
      }
      const close = await client.nextClose();
      if (close?.code !== 1000) {
        throw new Error(`${what}: close ${close?.code}`);
      }
      const echoes = messagesOf(close.before);
      checkSequence(echoes, stream, what);
      await client.waitForEof();
      const log = await endedLog(context, stream);
      checkPrefix(log.seqs, count, count, `${what} backend`);
      return;
    }
    case "huge": {
      await using client = await openRaw(context, "/small");
      const count = prng.int(0, 10);
      await sendAll(client, stream, count, prng, SMALL_MAX_BYTES);
      await client.sendRaw(
        encodeClientFrame(
          Opcode.BINARY,
          checkedMessage(stream, count, prng.int(SMALL_MAX_BYTES + 1, 200_000)),
        ),
      ).catch(() => {});
      const before = await expectClose(client, 1009, "message too big");
      const echoes = messagesOf(before);
      checkSequence(echoes, stream, what);
      if (echoes.length > count) throw new Error(`${what}: extra echoes`);
      const log = await endedLog(context, stream, count > 0);
      checkPrefix(log.seqs, count, count, `${what} backend`);
      return;
    }
    case "mid-frame":
    case "garbage":
    case "reset": {
      await using client = await openRaw(context, `/${scenario}`);
      const echoes = faultAfter(stream);
      await sendAll(client, stream, echoes + 1, prng);
      const [code, reason] = scenario === "mid-frame"
        ? [1011, "backend closed mid-frame"]
        : scenario === "garbage"
        ? [1009, "backend frame too big"]
        : [1011, "backend connection reset"];
      const received = messagesOf(await expectClose(client, code, reason));
      checkSequence(received, stream, what);
      // A reset discards what the backend had not sent yet.
      const fewest = scenario === "reset" ? 0 : echoes;
      if (received.length < fewest || received.length > echoes) {
        throw new Error(`${what}: ${received.length} of ${echoes} echoes`);
      }
      const log = await endedLog(context, stream);
      checkPrefix(log.seqs, echoes + 1, echoes + 1, `${what} backend`);
      return;
    }
    case "silent": {
      // A message that reaches the gateway after it decided to close may be
      // dropped (RFC 6455 allows it), so the backend gets an in-order prefix.
      await using client = await openRaw(context, "/silent");
      const count = prng.int(1, 10);
      await sendAll(client, stream, count, prng);
      const before = await expectClose(client, 4000, "backend silent");
      if (before.length > 0) throw new Error(`${what}: frames before close`);
      const log = await endedLog(context, stream, false);
      checkPrefix(log.seqs, 0, count, `${what} backend`);
      return;
    }
    case "push": {
      await using client = await openRaw(context, "/push");
      await client.send(checkedMessage(stream, 0, 20));
      const before = await expectClose(client, 1000, "backend closed");
      const pushed = messagesOf(before);
      checkSequence(pushed, stream, what);
      if (pushed.length !== pushCount(stream)) {
        throw new Error(`${what}: ${pushed.length} of ${pushCount(stream)}`);
      }
      const log = await endedLog(context, stream);
      checkPrefix(log.seqs, 1, 1, `${what} backend`);
      return;
    }
    case "idle": {
      // The idle timer may fire before the traffic starts when the loop is
      // busy, so this checks an in-order prefix.
      await using client = await openRaw(context, "/idle");
      const count = prng.int(1, 10);
      await sendAll(client, stream, count, prng);
      const received = messagesOf(
        await expectClose(client, 4001, "idle timeout"),
      );
      checkSequence(received, stream, what);
      const log = await endedLog(context, stream, false);
      checkPrefix(log.seqs, received.length, count, `${what} backend`);
      return;
    }
    case "lifetime": {
      await using client = await openRaw(context, "/lifetime");
      let echoed = 0;
      let sent = 0;
      let close: { code: number; reason: string } | undefined;
      for (let seq = 0; seq < 10_000 && close === undefined; seq++) {
        // Once the gateway has closed, a write may fail: that ends the loop.
        const isSent = await client.send(checkedMessage(stream, seq, 100))
          .then(() => true, () => false);
        if (!isSent) break;
        sent++;
        const frame = await client.next();
        if (frame?.kind === "message") {
          const seen = inspectMessage(frame.payload);
          if (seen?.stream !== stream || seen.seq !== seq) {
            throw new Error(`${what}: echo ${seq} wrong or corrupt`);
          }
          echoed++;
        } else if (frame?.kind === "close") {
          close = frame;
        } else {
          throw new Error(`${what}: got ${JSON.stringify(frame)}`);
        }
      }
      close ??= await client.nextClose();
      if (
        close?.code !== 4002 || close.reason !== "session lifetime exceeded"
      ) {
        throw new Error(`${what}: close ${JSON.stringify(close)}`);
      }
      await client.sendClose(4002).catch(() => {});
      await client.waitForEof();
      const log = await endedLog(context, stream, echoed > 0);
      checkPrefix(log.seqs, echoed, sent, `${what} backend`);
      return;
    }
    case "flash": {
      if (prng.chance(0.5)) {
        const client = await openRaw(context, "/echo");
        await client.close();
      } else {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: context.gateway.port,
        });
        conn.close();
      }
      return;
    }
  }
}

Deno.test("gateway soak: random traffic and faults leave no session, descriptor or lost message behind", async (t) => {
  const seconds = soakSeconds();
  for (const seed of testSeeds([])) {
    await t.step(`seed ${seed}, ${seconds} s, ${WORKERS} workers`, async () => {
      const logs: Logs = new Map();
      await using echo = startSoakBackend("echo", logs);
      await using silent = startSoakBackend("silent", logs);
      await using midFrame = startSoakBackend("mid-frame", logs);
      await using garbage = startSoakBackend("garbage", logs);
      await using push = startSoakBackend("push", logs);
      await using reset = await startResetBackend(logs);
      await using gateway = await startGateway({
        routes: [
          { path: "/echo", target: echo.target },
          {
            path: "/small",
            target: echo.target,
            framing: `u32be,max=${SMALL_MAX_BYTES}`,
          },
          { path: "/silent", target: silent.target, backendSilenceMs: 100 },
          { path: "/mid-frame", target: midFrame.target },
          { path: "/garbage", target: garbage.target },
          { path: "/reset", target: reset.target },
          { path: "/push", target: push.target },
          { path: "/idle", target: echo.target, idleTimeoutMs: 100 },
          { path: "/lifetime", target: echo.target, maxLifetimeMs: 150 },
        ],
      });
      const context: SoakContext = { gateway, logs, upgraded: 0 };
      // Warm up (lazily opened runtime handles), then take the baseline.
      await runSession(context, "clean", 0, new Prng(seed));
      await waitUntil(
        () => gateway.gateway.sessionCount === 0,
        5000,
        () => "the warm-up session to end",
      );
      const baselineFds = openFdCount();

      const deadline = Date.now() + seconds * 1000;
      const failures: string[] = [];
      const counts = new Map<Scenario, number>();
      let nextStream = 1;
      await Promise.all(
        Array.from({ length: WORKERS }, async (_, worker) => {
          const prng = new Prng((seed + worker * 0x9e3779b9) >>> 0);
          for (let round = 0; round < 1_000_000; round++) {
            if (Date.now() >= deadline || failures.length > 0) return;
            const scenario = pickScenario(prng);
            const stream = nextStream++;
            counts.set(scenario, (counts.get(scenario) ?? 0) + 1);
            try {
              await within(
                runSession(context, scenario, stream, prng),
                15_000,
                `stream ${stream} (${scenario})`,
              );
            } catch (error) {
              failures.push(
                `stream ${stream} (${scenario}): ${
                  error instanceof Error ? error.message : String(error)
                }`,
              );
            }
          }
        }),
      );
      assert(
        failures.length === 0,
        `${failures.length} failures, first:\n${
          failures.slice(0, 5).join("\n")
        }`,
      );
      const sessions = nextStream - 1;
      assert(sessions >= WORKERS, `only ${sessions} sessions ran`);
      if (sessions >= 1000) {
        for (const [scenario] of SCENARIOS) {
          assert((counts.get(scenario) ?? 0) > 0, `no ${scenario} session ran`);
        }
      }

      await waitUntil(
        () => gateway.gateway.sessionCount === 0,
        10_000,
        () => `sessionCount 0 (now ${gateway.gateway.sessionCount})`,
      );
      await waitUntil(
        () =>
          gateway.events.filter((event) => event.type === "session_close")
            .length === context.upgraded,
        5000,
        () => `${context.upgraded} session_close events`,
      );
      await waitUntil(
        () => [...logs.values()].every((log) => log.isEnded),
        5000,
        () => "every backend connection to end",
      );
      // Whatever reached a backend arrived intact, once, in order.
      for (const [stream, log] of logs) {
        assertEquals(log.corrupt, 0, `stream ${stream}: corrupt at backend`);
        checkPrefix(log.seqs, 0, Infinity, `stream ${stream} backend`);
      }
      await waitUntil(
        () => openFdCount() <= baselineFds,
        5000,
        () => `open fds back to ${baselineFds} (now ${openFdCount()})`,
      );
    });
  }
});
