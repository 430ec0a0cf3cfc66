import { assertEquals } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { utf8, WsTestClient } from "../_util/web_socket_client.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";

/** Descriptors the child may open beyond those it holds when listening. */
const HEADROOM = 20;

function childFdCount(pid: number): number {
  let count = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) count++;
  return count;
}

async function lowerDescriptorLimit(pid: number, limit: number): Promise<void> {
  const { code, stderr } = await new Deno.Command("prlimit", {
    args: [`--pid=${pid}`, `--nofile=${limit}:${limit}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
}

// Regression: one failed accept() (EMFILE) ended the accept loop for good;
// the process lived on but never accepted again, although descriptors were
// free once the idle sockets went away.
Deno.test("gateway keeps accepting after running out of file descriptors", async () => {
  await using backend = startEchoBackend();
  await using wsgate = spawnWsgate([
    "--listen",
    "127.0.0.1:0",
    "--target",
    backend.target,
  ]);
  const { port } = await wsgate.listening();
  const pid = wsgate.child.pid;
  await lowerDescriptorLimit(pid, childFdCount(pid) + HEADROOM);

  const idle: Deno.TcpConn[] = [];
  try {
    // More idle sockets than the child can accept: its accept() fails.
    for (let i = 0; i < HEADROOM * 2; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await wsgate.waitForLine(
      "stderr",
      (line) => /\baccept\b.*\bfailed\b/.test(line),
      10000,
    );
  } finally {
    for (const conn of idle) conn.close();
  }

  // Descriptors are free again: within the backoff (at most 1 s) plus the
  // time to notice the closed sockets, a new upgrade gets through.
  let client: WsTestClient | undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && client === undefined; attempt++) {
    try {
      client = await WsTestClient.open(`ws://127.0.0.1:${port}/`, 3000);
    } catch (error) {
      lastError = error;
    }
  }
  if (client === undefined) {
    throw new Error(
      `No upgrade after the descriptors were freed: ${lastError}\nstderr:\n${
        wsgate.stderrLines.join("\n")
      }`,
    );
  }
  await using _client = client;
  client.send("after exhaustion");
  assertEquals(await client.next(), utf8("after exhaustion"));
  await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("accepting again"),
  );
});

// Regression (issue 17 item 1): the default of 10,000 sessions ignored the
// open-file limit, so accept() ran out of descriptors long before the cap.
Deno.test("wsgate derives its default session limit from the open-file limit at start and refuses beyond it with 503", async () => {
  await using backend = startEchoBackend();
  // (100 - 64 reserved) / 3 descriptors per session = 12 sessions.
  await using wsgate = spawnWsgate(
    ["--listen", "127.0.0.1:0", "--target", backend.target],
    ["prlimit", "--nofile=100:100"],
  );
  const { port } = await wsgate.listening();
  const clients: WsTestClient[] = [];
  try {
    for (let index = 0; index < 12; index++) {
      clients.push(await WsTestClient.open(`ws://127.0.0.1:${port}/`, 5000));
    }
    let isRefused = false;
    try {
      clients.push(await WsTestClient.open(`ws://127.0.0.1:${port}/`, 5000));
    } catch {
      isRefused = true;
    }
    assertEquals(isRefused, true, "the 13th session was not refused");
    await wsgate.waitForLine("stderr", (line) => line.includes("503"));
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("wsgate warns at start when --max-sessions is above what the open-file limit carries", async () => {
  await using wsgate = spawnWsgate(
    [
      "--listen",
      "127.0.0.1:0",
      "--target",
      "127.0.0.1:9",
      "--max-sessions",
      "500",
    ],
    ["prlimit", "--nofile=100:100"],
  );
  await wsgate.listening();
  await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("maxSessions 500") && line.includes("ulimit -n"),
  );
  assertEquals((await wsgate.stop("SIGTERM")).code, 0);
});
