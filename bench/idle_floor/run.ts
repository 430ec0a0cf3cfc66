/**
 * The runtime's floor for idle sessions: the PSS a bare Deno relay
 * (`server.ts`) needs per idle connection pair, measured the way
 * `deno task bench:load` measures wsgate's idle workload (warm-up
 * connections first, then the PSS growth over N more, divided by N), with the
 * same V8 flags as `deno task start`.
 *
 * Run: `deno task bench:idle-floor` (`--sessions N`, default 5000).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startTaskV8Flags } from "../_start_task_flags.ts";

const HERE = new URL(".", import.meta.url).pathname;
const MODES = ["sockets", "reads", "handshake"] as const;
const WARM_SESSIONS = 100;
const REQUEST = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
);

function pssKib(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? NaN);
}

/** Waits until `count()` reaches `want`, polling a bounded number of times. */
async function until(count: () => number, want: number): Promise<void> {
  for (let i = 0; i < 3000 && count() < want; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (count() < want) throw new Error(`only ${count()} of ${want} arrived`);
}

async function measure(mode: typeof MODES[number], sessions: number) {
  const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of backend) accepted.push(conn);
  })();
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      Deno.execPath(),
      "run",
      "-A",
      ...startTaskV8Flags(),
      `${HERE}server.ts`,
      mode,
      String(backend.addr.port),
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const clients: Deno.Conn[] = [];
  try {
    const first = await child.stdout.pipeThrough(new TextDecoderStream())
      .values().next();
    const port = Number(/port (\d+)/.exec(first.value ?? "")?.[1]);
    if (!port) throw new Error("the bare server did not start");
    const open = async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      clients.push(conn);
      if (mode === "handshake") {
        await conn.write(REQUEST);
        await conn.read(new Uint8Array(512));
      }
    };
    for (let i = 0; i < WARM_SESSIONS; i++) await open();
    await until(() => accepted.length, WARM_SESSIONS);
    const before = pssKib(child.pid);
    for (let i = 0; i < sessions; i += 64) {
      const batch = Math.min(64, sessions - i);
      await Promise.all(Array.from({ length: batch }, open));
    }
    await until(() => accepted.length, WARM_SESSIONS + sessions);
    const after = pssKib(child.pid);
    return (after - before) / sessions;
  } finally {
    for (const conn of clients) conn.close();
    child.kill("SIGTERM");
    await child.status;
    backend.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
  }
}

const { values } = parseArgs({
  args: Deno.args,
  options: { sessions: { type: "string", default: "5000" } },
  strict: true,
});
const sessions = Number(values.sessions);
if (!Number.isInteger(sessions) || sessions < 1) {
  throw new Error("--sessions must be a positive integer");
}
// deno-lint-ignore no-console
console.log(
  `# bare Deno relay, ${sessions} idle sessions, ${
    startTaskV8Flags().join(" ") || "no V8 flags"
  }; ${Deno.version.deno}`,
);
for (const mode of MODES) {
  const kib = await measure(mode, sessions);
  // deno-lint-ignore no-console
  console.log(`${mode.padEnd(10)} ${kib.toFixed(1)} KiB/session`);
}
