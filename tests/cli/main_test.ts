/**
 * CLI tests: spawn `deno run -A mod.ts ...` as a real child process and
 * check its exit status, stdout and stderr, and relay through it. Every child
 * is stopped and awaited (`await using`).
 */

import { TestPki } from "../_util/certificates.ts";
import { assert, assertEquals, within } from "../_util/assert.ts";
import { concat, u32beFrame } from "../_util/backends.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { utf8, WsTestClient } from "../_util/web_socket_client.ts";
import {
  LISTENING_LINE,
  MOD_PATH,
  runWsgate,
  spawnWsgate,
  type WsgateOutput,
  type WsgateProcess,
} from "../_util/wsgate_process.ts";
import { VERSION } from "../../src/cli/main.ts";
import { upgradeStatus } from "../_util/raw_session.ts";

Deno.test("wsgate --help prints the usage on stdout and exits 0", async () => {
  const { code, stdout, stderr } = await runWsgate(["--help"]);
  assertEquals(code, 0);
  assert(stdout.includes("Usage:"), stdout);
  assert(stdout.includes("--target HOST:PORT"), stdout);
  assert(stdout.includes("demo"), stdout);
  assertEquals(stderr, "");
});

Deno.test("wsgate --version prints the version of deno.json and exits 0", async () => {
  const { code, stdout, stderr } = await runWsgate(["--version"]);
  assertEquals(code, 0);
  assertEquals(stdout, `wsgate ${VERSION}\n`);
  assertEquals(stderr, "");
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  assertEquals(VERSION, denoJson.version);
});

Deno.test("wsgate exits 2 with one stderr line naming a bad flag and its value", async (t) => {
  const cases: [string, string[], string[]][] = [
    ["unknown flag", ["--bogus", "--target", "127.0.0.1:9"], ["--bogus"]],
    ["bad --listen", ["--listen", "nope", "--target", "127.0.0.1:9"], [
      "--listen",
      '"nope"',
    ]],
    ["bad --framing", ["--framing=u33be", "--target", "127.0.0.1:9"], [
      "--framing",
      '"u33be"',
    ]],
    ["bad --ping-interval", [
      "--ping-interval",
      "soon",
      "--target",
      "127.0.0.1:9",
    ], ["--ping-interval", '"soon"']],
    ["bad --buffer", ["--buffer", "1t", "--target", "127.0.0.1:9"], [
      "--buffer",
      '"1t"',
    ]],
    ["bad --workers", ["--workers=0", "--target", "127.0.0.1:9"], [
      "--workers",
      '"0"',
    ]],
    ["missing --config value", ["--config"], ["--config"]],
    ["ticket without --route", ["ticket", "--ttl", "60"], ["--route"]],
    ["replay without a file", ["replay"], ["replay", "FILE"]],
    ["missing value", ["--target", "127.0.0.1:9", "--listen"], ["--listen"]],
    ["missing --target", ["--listen", "127.0.0.1:0"], ["--target"]],
  ];
  // The cases are independent processes: run them side by side.
  const outputs = await Promise.all(
    cases.map(([, argv]) => runWsgate(argv)),
  );
  for (const [index, [name, , needles]] of cases.entries()) {
    await t.step(name, () => {
      const { code, stdout, stderr } = outputs[index]!;
      assertEquals(code, 2, stderr);
      assertEquals(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, `expected one line: ${stderr}`);
      for (const needle of needles) {
        assert(lines[0]!.includes(needle), `"${lines[0]}" lacks ${needle}`);
      }
    });
  }
});

// Regression: a malformed --target was only caught by resolveOptions, whose
// message names `routes[0].target` instead of the flag the user typed.
Deno.test("wsgate exits 2 naming --target and its value when the target is malformed", async () => {
  const { code, stderr } = await runWsgate(["--target", "nope"]);
  assertEquals(code, 2);
  const lines = stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, stderr);
  assert(lines[0]!.includes("--target"), `"${lines[0]}" lacks --target`);
  assert(lines[0]!.includes('"nope"'), `"${lines[0]}" lacks "nope"`);
});

Deno.test("wsgate exits 1 naming --listen when the port is taken", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stdout, stderr } = await runWsgate([
    "--listen",
    `127.0.0.1:${taken.addr.port}`,
    "--target",
    "127.0.0.1:9",
  ]);
  assertEquals(code, 1);
  assertEquals(stdout, "");
  assert(stderr.includes("--listen"), stderr);
});

Deno.test("wsgate relays a round trip, logs JSON lines and exits 0 on SIGTERM", async () => {
  await using backend = startU32beBackend();
  await using wsgate = spawnWithTarget(backend.target, [
    "--framing",
    "u32be",
    "--log-format",
    "json",
  ]);
  const { line, hostname, port } = await wsgate.listening();
  assertEquals(hostname, "127.0.0.1");
  assert(port > 0 && port < 65536, line);
  assertEquals(wsgate.stdoutLines.length, 1, "only the listening line");
  {
    await using client = await WsTestClient.open(`ws://127.0.0.1:${port}/`);
    client.send("through a process");
    client.send(new Uint8Array([1, 2, 3]));
    const replies = await client.take(2);
    assertEquals(replies, [
      utf8("through a process"),
      new Uint8Array([1, 2, 3]),
    ]);
    assertEquals((await client.close(1000, "bye")).code, 1000);
  }
  const closeLine = await wsgate.waitForLine(
    "stderr",
    (text) => text.includes('"session_close"'),
  );
  const event = JSON.parse(closeLine);
  assertEquals(
    [event.code, event.bytesToBackend, event.bytesToBrowser],
    [1000, 20, 20],
  );
  const log = backend.connections[0]!;
  await within(log.ended, 5000, "backend EOF");
  assertEquals(
    log.raw.reduce((sum, chunk) => sum + chunk.length, 0),
    u32beFrame(utf8("through a process")).length + 4 + 3,
  );
  const status = await wsgate.stop("SIGTERM");
  assertEquals([status.code, status.signal], [0, null]);
  for (const text of wsgate.stderrLines) JSON.parse(text);
  assertEquals(wsgate.stdoutLines.length, 1);
  // Regression (issue 18): the listening line was plain text in JSON mode.
  const listening = JSON.parse(wsgate.stdoutLines[0]!);
  assertEquals(
    [listening.level, listening.event, listening.url],
    ["info", "listening", `ws://127.0.0.1:${port}`],
  );
});

Deno.test("wsgate --log-format json writes a flag error and a listen failure as JSON lines", async (t) => {
  await t.step("bad --listen value", async () => {
    const { code, stdout, stderr } = await runWsgate([
      "--log-format=json",
      "--target",
      "127.0.0.1:9",
      "--listen",
      "nope",
    ]);
    assertEquals([code, stdout], [2, ""]);
    const lines = stderr.trimEnd().split("\n");
    assertEquals(lines.length, 1, stderr);
    const record = JSON.parse(lines[0]!);
    assertEquals([record.level, record.event], ["error", "error"]);
    assert(record.message.includes("--listen"), stderr);
  });
  await t.step("port already taken", async () => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { code, stderr } = await runWsgate([
      "--log-format",
      "json",
      "--target",
      "127.0.0.1:9",
      "--listen",
      `127.0.0.1:${taken.addr.port}`,
    ]);
    assertEquals(code, 1, stderr);
    const lines = stderr.trimEnd().split("\n");
    for (const line of lines) JSON.parse(line);
    assert(
      lines.some((line) => JSON.parse(line).message.includes("--listen")),
      stderr,
    );
  });
});

Deno.test("wsgate closes open sessions with 1001 and exits 0 on SIGTERM", async () => {
  await using backend = startU32beBackend();
  await using wsgate = spawnWithTarget(backend.target);
  const { port } = await wsgate.listening();
  await using client = await WsTestClient.open(`ws://127.0.0.1:${port}/`);
  client.send("ping");
  assertEquals(await client.next(), utf8("ping"));
  wsgate.child.kill("SIGTERM");
  const info = await client.waitClosed();
  assertEquals([info.code, info.wasClean], [1001, true]);
  const status = await within(wsgate.status, 5000, "wsgate to exit");
  assertEquals(status.code, 0);
});

Deno.test("wsgate demo serves the page at / and uppercases on /echo", async () => {
  await using wsgate = spawnWsgate(["demo", "--listen", "127.0.0.1:0"]);
  const { line, port } = await wsgate.listening();
  assert(line.includes(`http://127.0.0.1:${port}/`), line);
  assert(LISTENING_LINE.test(line));
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assertEquals(page.status, 200);
  assert(page.headers.get("content-type")?.startsWith("text/html"));
  const html = await page.text();
  for (
    const needle of [
      "<title>wsgate demo</title>",
      'id="input"',
      'id="send"',
      'id="log"',
      '"/echo"',
    ]
  ) {
    assert(html.includes(needle), `demo page lacks ${needle}`);
  }
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assertEquals([health.status, await health.text()], [200, "ok\n"]);
  {
    await using client = await WsTestClient.open(`ws://127.0.0.1:${port}/echo`);
    client.send("hello, wsgate \u00e9!");
    client.send(new Uint8Array([0x61, 0x00, 0x7a, 0xff]));
    const replies = await client.take(2);
    // Only ASCII a-z change: other bytes (UTF-8 of é included) pass as is.
    assertEquals(replies, [
      utf8("HELLO, WSGATE \u00e9!"),
      new Uint8Array([0x41, 0x00, 0x5a, 0xff]),
    ]);
    await client.close();
  }
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

/** A temporary directory, removed with everything in it on dispose. */
async function makeTempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "wsgate_main_test_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Sends `text` and asserts the echo (or `expected`) comes back. */
async function assertRoundTrip(
  client: WsTestClient,
  text: string,
  expected: string = text,
): Promise<void> {
  client.send(text);
  assertEquals(await client.next(), utf8(expected));
}

/**
 * Opens a session on `path`, asserts one round trip (as
 * {@linkcode assertRoundTrip}) and closes it.
 */
async function roundTripInNewSession(
  port: number,
  path: string,
  text: string,
  expected: string = text,
): Promise<void> {
  await using client = await openClient(port, path);
  await assertRoundTrip(client, text, expected);
  await client.close();
}

/** Spawns `wsgate --listen 127.0.0.1:0 --target TARGET` plus `flags`. */
function spawnWithTarget(target: string, flags: string[] = []): WsgateProcess {
  return spawnWsgate(["--listen", "127.0.0.1:0", "--target", target, ...flags]);
}

/** Opens a WebSocket to `path` on `port` (127.0.0.1). */
function openClient(port: number, path: string): Promise<WsTestClient> {
  return WsTestClient.open(`ws://127.0.0.1:${port}${path}`);
}

/** Waits for the JSON log line of a `warning`/`error` event whose message includes `needle`. */
function waitForLogMessage(
  wsgate: WsgateProcess,
  needle: string,
  timeoutMs = 5000,
): Promise<string> {
  return wsgate.waitForLine(
    "stderr",
    (line) => line.includes(needle),
    timeoutMs,
  );
}

/** Resolves after `ms`; only for polling state that is pushed on a timer. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sums the samples of counter `name` (all label sets) in Prometheus text. */
function sumSamples(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/**
 * Polls `url` until the sum of counter `name` equals `expected`. Worker
 * metrics reach the main thread on a timer, so there is no event to await;
 * the loop is bounded by `timeoutMs`.
 */
async function waitForMetric(
  url: string,
  name: string,
  expected: number,
  timeoutMs = 8000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  for (let attempt = 0; attempt < 1000; attempt++) {
    const response = await fetch(url);
    text = await response.text();
    assertEquals(response.status, 200, text);
    if (sumSamples(text, name) === expected) return text;
    if (Date.now() > deadline) break;
    await delay(100);
  }
  throw new Error(
    `${name} did not reach ${expected} within ${timeoutMs} ms:\n${text}`,
  );
}

/**
 * Runs `mod.ts ticket ...` with `env` added to the environment (the shared
 * helper cannot set variables); kills it if it outlives `timeoutMs`.
 */
async function runTicket(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 10000,
): Promise<WsgateOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD_PATH, "ticket", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const output = child.output();
  try {
    const { code, signal, stdout, stderr } = await within(
      output,
      timeoutMs,
      "wsgate ticket",
    );
    const decoder = new TextDecoder();
    return {
      code,
      signal,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
    };
  } catch (error) {
    child.kill("SIGKILL");
    await output.catch(() => {});
    throw error;
  }
}

/** The claims of a JWT (not verified). */
function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1]!.replaceAll("-", "+").replaceAll(
    "_",
    "/",
  );
  return JSON.parse(
    atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "=")),
  );
}

Deno.test("wsgate --config serves every route of a JSONC file with comments and trailing commas", async () => {
  await using a = startU32beBackend();
  await using b = startU32beBackend({
    reply: (payload) => concat([utf8("b:"), payload]),
  });
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    `// wsgate test configuration
{
  "listen": "127.0.0.1:0", // any free port
  "logFormat": "json",
  /* two routes, two backends */
  "routes": [
    { "path": "/a", "target": "${a.target}", },
    {
      "path": "/b",
      "target": "${b.target}",
      "framing": "u32be",
    },
  ],
}
`,
  );
  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  {
    await using clientA = await openClient(port, "/a");
    await using clientB = await openClient(port, "/b");
    await assertRoundTrip(clientA, "to a");
    await assertRoundTrip(clientB, "to b", "b:to b");
    await clientA.close();
    await clientB.close();
  }
  assertEquals([a.accepted, b.accepted], [1, 1]);
  assertEquals(await upgradeStatus(port, "/c"), 404);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
  for (const line of wsgate.stderrLines) JSON.parse(line);
});

Deno.test("wsgate exits 2 listing every problem of a bad config file and never listens", async () => {
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/bad.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      lisen: "127.0.0.1:0",
      pingInterval: "soon",
      routes: [
        { path: "/a", target: "127.0.0.1:1" },
        { path: "/b", target: "127.0.0.1:2", framing: "u7" },
        { path: "/c", target: "127.0.0.1:3", buffer: "big", colour: "red" },
      ],
    }),
  );
  const { code, stdout, stderr } = await runWsgate(["--config", configPath]);
  assertEquals(code, 2, stderr);
  assertEquals(stdout, "", "no listening line");
  assert(!stderr.includes("listening"), stderr);
  const lines = stderr.trimEnd().split("\n");
  for (const line of lines) assert(line.startsWith("wsgate: "), line);
  const paths = lines.map((line) =>
    line.slice("wsgate: ".length, line.indexOf(": ", "wsgate: ".length))
  );
  assertEquals(paths.sort(), [
    "lisen",
    "pingInterval",
    "routes[1].framing",
    "routes[2].buffer",
    "routes[2].colour",
  ]);
});

// Regression: the file's own checks threw before the gateway's, so problems
// only resolveOptions finds (a malformed target, a path without "/", a
// duplicate path) were reported one run later, after the user had fixed the
// first batch.
Deno.test("wsgate reports a bad config file's target and path problems together with the others", async () => {
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/bad.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      pingInterval: "soon",
      routes: [
        { path: "/a", target: "nope" },
        { path: "/b", target: "127.0.0.1:2", framing: "u7" },
        { path: "c", target: "127.0.0.1:3" },
      ],
    }),
  );
  const { code, stdout, stderr } = await runWsgate(["--config", configPath]);
  assertEquals(code, 2, stderr);
  assertEquals(stdout, "");
  for (
    const path of [
      "pingInterval",
      "routes[0].target",
      "routes[1].framing",
      "routes[2].path",
    ]
  ) {
    assert(stderr.includes(`wsgate: ${path}: `), `lacks ${path}:\n${stderr}`);
  }
});

Deno.test("wsgate exits 2 naming the file when --config is missing or not JSONC", async (t) => {
  await using dir = await makeTempDir();
  const broken = `${dir.path}/broken.jsonc`;
  await Deno.writeTextFile(
    broken,
    '{\n  "listen": "127.0.0.1:0",\n  oops\n}\n',
  );
  const cases: [string, string, string[]][] = [
    ["missing file", `${dir.path}/absent.jsonc`, ["--config", "absent.jsonc"]],
    ["syntax error", broken, ["--config", "broken.jsonc", "3:"]],
  ];
  const outputs = await Promise.all(
    cases.map(([, path]) => runWsgate(["--config", path])),
  );
  for (const [index, [name, , needles]] of cases.entries()) {
    await t.step(name, () => {
      const { code, stdout, stderr } = outputs[index]!;
      assertEquals(code, 2, stderr);
      assertEquals(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, stderr);
      for (const needle of needles) {
        assert(lines[0]!.includes(needle), `"${lines[0]}" lacks ${needle}`);
      }
    });
  }
});

Deno.test("wsgate on SIGHUP adds a new route while an open session goes on undisturbed", async () => {
  await using a = startU32beBackend();
  await using b = startU32beBackend({
    reply: (payload) => concat([utf8("b:"), payload]),
  });
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/wsgate.jsonc`;
  const config = (routes: unknown[]) =>
    JSON.stringify({ listen: "127.0.0.1:0", logFormat: "json", routes });
  await Deno.writeTextFile(
    configPath,
    config([{ path: "/a", target: a.target }]),
  );
  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  await using old = await openClient(port, "/a");
  await assertRoundTrip(old, "before the reload");
  assertEquals(await upgradeStatus(port, "/b"), 404);

  await Deno.writeTextFile(
    configPath,
    config([{ path: "/a", target: a.target }, {
      path: "/b",
      target: b.target,
    }]),
  );
  wsgate.child.kill("SIGHUP");
  const line = await waitForLogMessage(wsgate, "configuration reloaded");
  assertEquals(JSON.parse(line).level, "warn");

  await roundTripInNewSession(port, "/b", "new route", "b:new route");
  await assertRoundTrip(old, "after the reload");
  assertEquals(a.accepted, 1, "the old session kept its backend connection");
  assertEquals((await old.close(1000)).code, 1000);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

Deno.test("wsgate on SIGHUP with an invalid config logs every problem and keeps the old routes", async () => {
  await using a = startU32beBackend();
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      logFormat: "json",
      routes: [{ path: "/a", target: a.target }],
    }),
  );
  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  await using old = await openClient(port, "/a");
  await assertRoundTrip(old, "before");

  // Valid /b next to a broken /c: nothing of it may be applied.
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      logFormat: "json",
      routes: [
        { path: "/b", target: a.target },
        { path: "/c", target: a.target, framing: "u7" },
      ],
      colour: "red",
    }),
  );
  wsgate.child.kill("SIGHUP");
  const line = await waitForLogMessage(wsgate, "new configuration rejected");
  const event = JSON.parse(line);
  assertEquals(event.level, "error");
  assert(String(event.detail).includes("routes[1].framing"), line);
  assert(String(event.detail).includes("colour"), line);

  assertEquals(await upgradeStatus(port, "/b"), 404);
  await roundTripInNewSession(port, "/a", "old route, new session");
  await assertRoundTrip(old, "after");
  assertEquals((await old.close(1000)).code, 1000);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

Deno.test("wsgate --watch-config reloads when the config file changes", async () => {
  await using a = startU32beBackend();
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/wsgate.jsonc`;
  const config = (routes: unknown[]) =>
    JSON.stringify({
      listen: "127.0.0.1:0",
      logFormat: "json",
      watchConfig: true,
      routes,
    });
  await Deno.writeTextFile(
    configPath,
    config([{ path: "/a", target: a.target }]),
  );
  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  assertEquals(await upgradeStatus(port, "/b"), 404);
  await Deno.writeTextFile(
    configPath,
    config([{ path: "/a", target: a.target }, {
      path: "/b",
      target: a.target,
    }]),
  );
  await waitForLogMessage(
    wsgate,
    "config file changed: configuration reloaded",
  );
  await roundTripInNewSession(port, "/b", "watched");
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

Deno.test("wsgate --workers 2 serves sessions and sums wsgate_sessions_total across workers", async () => {
  await using backend = startU32beBackend();
  await using wsgate = spawnWithTarget(backend.target, ["--workers", "2"]);
  const { port } = await wsgate.listening(20000);
  const sessions = 6;
  for (let i = 0; i < sessions; i++) {
    await roundTripInNewSession(port, "/", `session ${i}`);
  }
  assertEquals(backend.accepted, sessions);
  await waitForMetric(
    `http://127.0.0.1:${port}/metrics`,
    "wsgate_sessions_total",
    sessions,
  );
  const status = await wsgate.stop("SIGTERM", 10000);
  assertEquals(status.code, 0);
});

// Regression (issue 18): series appeared only after their first event, so
// rate() had no first sample.
Deno.test("wsgate /metrics shows every route's counters at zero before the first session", async () => {
  await using dir = await makeTempDir();
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      routes: [
        { path: "/chat", target: "127.0.0.1:9" },
        { path: "/vnc", target: "127.0.0.1:9" },
      ],
    }),
  );
  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  assertEquals(response.status, 200, text);
  for (const route of ["/chat", "/vnc"]) {
    assert(text.includes(`wsgate_sessions_total{route="${route}"} 0\n`), text);
    assert(
      text.includes(
        `wsgate_bytes_total{route="${route}",direction="to_browser"} 0\n`,
      ),
      text,
    );
  }
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

// Regression: the default memory budget read the machine's memory in the
// sweep, which without --allow-sys threw and killed the process about a
// second after it started (the README's own command and `deno task demo`).
Deno.test("wsgate with only --allow-net keeps serving past its sweeps: the default memory budget falls back to 1 GiB with one warning", async () => {
  await using backend = startU32beBackend();
  await using wsgate = spawnWsgate(
    ["--listen", "127.0.0.1:0", "--target", backend.target],
    [],
    ["--allow-net"],
  );
  const { port } = await wsgate.listening(15000);
  const warning = await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("memory budget"),
    10_000,
  );
  assert(warning.includes("--allow-sys=systemMemoryInfo"), warning);
  assert(warning.includes(`${2 ** 30} bytes`), warning);
  assertEquals(await upgradeStatus(port, "/"), 101);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
  assertEquals(
    wsgate.stderrLines.filter((line) => line.includes("memory budget")).length,
    1,
    "said once",
  );
});

Deno.test("wsgate --admin-listen serves /metrics and /healthz on the admin address and not on the gateway port", async () => {
  await using backend = startU32beBackend();
  await using wsgate = spawnWithTarget(backend.target, [
    "--admin-listen",
    "127.0.0.1:0",
  ]);
  const { line, port } = await wsgate.listening();
  const admin = /\(admin: http:\/\/127\.0\.0\.1:(\d+)\/metrics\)/.exec(line);
  assert(admin !== null, `the listening line names no admin address: ${line}`);
  const adminPort = Number(admin[1]);
  assert(adminPort > 0 && adminPort !== port, line);
  await roundTripInNewSession(port, "/", "counted");
  const text = await waitForMetric(
    `http://127.0.0.1:${adminPort}/metrics`,
    "wsgate_sessions_total",
    1,
  );
  assert(text.includes("# TYPE wsgate_sessions_total counter"), text);
  const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  assertEquals([health.status, await health.text()], [200, "ok\n"]);
  const onGateway = await fetch(`http://127.0.0.1:${port}/metrics`);
  const body = await onGateway.text();
  assertEquals(onGateway.status, 404, body);
  assert(!body.includes("wsgate_sessions_total"), body);
  const healthOnGateway = await fetch(`http://127.0.0.1:${port}/healthz`);
  const healthBody = await healthOnGateway.text();
  assertEquals(healthOnGateway.status, 404, healthBody);
  assert(healthBody !== "ok\n", healthBody);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

// Regression (issue 18): `--static /nonexistent` said "staticDir", and
// swapped --cert/--key were reported under --listen.
Deno.test("wsgate exits 2 naming --static, or --cert/--key as swapped, before listening", async (t) => {
  await t.step("--static /nonexistent", async () => {
    const { code, stdout, stderr } = await runWsgate([
      "--listen",
      "127.0.0.1:0",
      "--target",
      "127.0.0.1:9",
      "--static",
      "/nonexistent",
    ]);
    assertEquals([code, stdout], [2, ""]);
    const lines = stderr.trimEnd().split("\n");
    assertEquals(lines.length, 1, stderr);
    assert(
      lines[0]!.startsWith(`wsgate: --static: cannot open "/nonexistent"`),
      stderr,
    );
    assert(!stderr.includes("staticDir"), stderr);
  });
  await t.step(
    "a config file's static naming a missing directory",
    async () => {
      await using dir = await makeTempDir();
      const config = `${dir.path}/wsgate.jsonc`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          static: "/nonexistent",
          routes: [{ path: "/", target: "127.0.0.1:9" }],
        }),
      );
      const { code, stdout, stderr } = await runWsgate([
        "--listen",
        "127.0.0.1:0",
        "--config",
        config,
      ]);
      assertEquals([code, stdout], [2, ""]);
      assert(
        stderr.startsWith(`wsgate: static: cannot open "/nonexistent"`),
        stderr,
      );
    },
  );
  await t.step("--cert KEY --key CERT", async () => {
    await using pki = await TestPki.create();
    const ca = await pki.createCa("wsgate test CA");
    const server = await pki.issue(ca, { commonName: "127.0.0.1" });
    const { code, stdout, stderr } = await runWsgate([
      "--listen",
      "127.0.0.1:0",
      "--target",
      "127.0.0.1:9",
      "--cert",
      server.keyFile,
      "--key",
      server.certFile,
    ]);
    assertEquals([code, stdout], [2, ""]);
    const lines = stderr.trimEnd().split("\n");
    assertEquals(lines.length, 1, stderr);
    assert(lines[0]!.startsWith("wsgate: --cert/--key: swapped"), stderr);
    assert(!stderr.includes("--listen"), stderr);
  });
});

/** Runs mod.ts with exactly `permissions` (no -A) and stdin closed, so Deno cannot prompt. */
async function runWithPermissions(
  permissions: readonly string[],
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<WsgateOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MOD_PATH, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const output = child.output();
  try {
    const { code, signal, stdout, stderr } = await within(
      output,
      10000,
      `wsgate ${args.join(" ")}`,
    );
    const decoder = new TextDecoder();
    return {
      code,
      signal,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
    };
  } catch (error) {
    child.kill("SIGKILL");
    await output.catch(() => {});
    throw error;
  }
}

// Regression (issue 18): missing permissions failed late (one error per
// recorded session) or as uncaught NotCapable / RangeError stack traces.
Deno.test("wsgate exits 2 at start with one line per missing permission naming the --allow flag", async (t) => {
  await using dir = await makeTempDir();
  const steps: [string, string[], string[], Record<string, string>, RegExp][] =
    [
      [
        "demo without --allow-net",
        [],
        ["demo"],
        {},
        /^wsgate: --allow-net: needed for listening on /,
      ],
      [
        "record without --allow-write",
        ["--allow-net", "--allow-read"],
        [
          "--config",
          `${dir.path}/record.json`,
        ],
        {},
        /^wsgate: --allow-write: needed for route "\/r" to record sessions into /,
      ],
      [
        "--ticket-secret-env without --allow-env",
        ["--allow-net"],
        [
          "--target",
          "127.0.0.1:9",
          "--ticket-secret-env",
          "MY_SECRET",
        ],
        {},
        /^wsgate: --allow-env: needed for --ticket-secret-env to read "MY_SECRET"/,
      ],
      [
        "ticket without --allow-env",
        [],
        ["ticket", "--route", "/chat"],
        {},
        /^wsgate: --allow-env: needed to read the ticket secret from "WSGATE_TICKET_SECRET"/,
      ],
      [
        "ticket with a short secret",
        ["--allow-env"],
        ["ticket", "--route", "/chat"],
        {
          WSGATE_TICKET_SECRET: "short",
        },
        /^wsgate: --ticket-secret-env: environment variable "WSGATE_TICKET_SECRET" holds 5 bytes \(expected at least 32/,
      ],
    ];
  await Deno.writeTextFile(
    `${dir.path}/record.json`,
    JSON.stringify({
      listen: "127.0.0.1:0",
      routes: [{ path: "/r", target: "127.0.0.1:9", record: "rec" }],
    }),
  );
  for (const [name, permissions, args, env, expected] of steps) {
    await t.step(name, async () => {
      const { code, stdout, stderr } = await runWithPermissions(
        permissions,
        args,
        env,
      );
      assertEquals([code, stdout], [2, ""], stderr);
      const lines = stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, stderr);
      assert(expected.test(lines[0]!), stderr);
    });
  }
});

// Issue 18: startup said almost nothing; --quiet keeps the single line.
Deno.test("wsgate prints a settings block under the listening line, and only the line with --quiet", async (t) => {
  await t.step("default", async () => {
    await using wsgate = spawnWsgate([
      "--listen",
      "127.0.0.1:0",
      "--target",
      "127.0.0.1:9",
      "--framing",
      "lines",
      "--max-sessions",
      "7",
    ]);
    const { port } = await wsgate.listening();
    await wsgate.waitForLine("stdout", (line) => line.includes("metrics:"));
    assertEquals(wsgate.stdoutLines.slice(1), [
      "  route / -> 127.0.0.1:9 (framing lines both ways)",
      "  allowed origins: same origin only (add --allow-origin URL for pages served elsewhere)",
      "  limits: maxSessions=7",
      `  console: http://127.0.0.1:${port}/_console`,
      `  metrics: http://127.0.0.1:${port}/metrics`,
    ]);
    assertEquals((await wsgate.stop("SIGTERM")).code, 0);
  });
  await t.step("--quiet", async () => {
    await using wsgate = spawnWsgate([
      "--listen",
      "127.0.0.1:0",
      "--target",
      "127.0.0.1:9",
      "--quiet",
    ]);
    await wsgate.listening();
    assertEquals((await wsgate.stop("SIGTERM")).code, 0);
    assertEquals(wsgate.stdoutLines.length, 1, wsgate.stdoutLines.join("\n"));
  });
});

Deno.test("wsgate ticket prints a JWT that a ticket-requiring route accepts", async () => {
  const secret = "correct horse battery staple, 32+ bytes of secret";
  await using backend = startU32beBackend();
  await using dir = await makeTempDir();
  await Deno.writeTextFile(`${dir.path}/ticket.secret`, `${secret}\n`);
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      // Relative: resolved against the config file's directory.
      ticketSecretFile: "ticket.secret",
      routes: [{ path: "/chat", target: backend.target, ticket: true }],
    }),
  );
  const issued = await runTicket(["--route", "/chat", "--ttl", "60"], {
    WSGATE_TICKET_SECRET: secret,
  });
  assertEquals(issued.code, 0, issued.stderr);
  assertEquals(issued.stderr, "");
  const lines = issued.stdout.trimEnd().split("\n");
  assertEquals(lines.length, 1, issued.stdout);
  const ticket = lines[0]!;
  assert(/^[\w-]+\.[\w-]+\.[\w-]+$/.test(ticket), ticket);
  const claims = jwtClaims(ticket);
  assertEquals(claims.route, "/chat");
  assertEquals(Number(claims.exp) - Number(claims.iat), 60);

  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  assertEquals(await upgradeStatus(port, "/chat"), 401);
  {
    await using client = await openClient(port, `/chat?ticket=${ticket}`)
      .catch((error: Error) => {
        throw new Error(
          `${error.message}\nwsgate stderr:\n${wsgate.stderrLines.join("\n")}`,
        );
      });
    await assertRoundTrip(client, "with a ticket");
    await client.close();
  }
  assertEquals(backend.accepted, 1);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

Deno.test("wsgate ticket --help prints the ticket command's options, with the secret's variable the code reads", async () => {
  const { code, stdout, stderr } = await runTicket(["--help"], {});
  assertEquals(code, 0, stderr);
  assertEquals(stderr, "");
  assert(stdout.startsWith("wsgate ticket:"), stdout);
  for (const flag of ["--route", "--ttl", "--jti", "--target", "--help"]) {
    assert(stdout.includes(flag), `${flag} missing:\n${stdout}`);
  }
  assert(stdout.includes("WSGATE_TICKET_SECRET"), stdout);
  const main = await runWsgate(["--help"]);
  assert(!main.stdout.includes("WSGATE_SECRET "), main.stdout);
  assert(main.stdout.includes("ticket --help"), main.stdout);
});

// Regression (issue 18): a new user could not mint a ticket that a
// singleUseTickets route accepts (`401 missing jti`).
Deno.test("wsgate ticket --jti --target mints a single-use ticket that a singleUseTickets route accepts once", async () => {
  const secret = "correct horse battery staple, 32+ bytes of secret";
  await using backend = startU32beBackend();
  await using dir = await makeTempDir();
  await Deno.writeTextFile(`${dir.path}/ticket.secret`, secret);
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      ticketSecretFile: "ticket.secret",
      routes: [{
        path: "/chat",
        target: backend.target,
        ticket: true,
        singleUseTickets: true,
      }],
    }),
  );
  const issued = await runTicket([
    "--route",
    "/chat",
    "--jti",
    "--target",
    backend.target,
  ], { WSGATE_TICKET_SECRET: secret });
  assertEquals(issued.code, 0, issued.stderr);
  const ticket = issued.stdout.trim();
  const claims = jwtClaims(ticket);
  assertEquals(claims.target, backend.target);
  assert(typeof claims.jti === "string" && claims.jti.length >= 16, ticket);

  await using wsgate = spawnWsgate(["--config", configPath]);
  const { port } = await wsgate.listening();
  {
    await using client = await openClient(port, `/chat?ticket=${ticket}`);
    await assertRoundTrip(client, "single-use ticket");
    await client.close();
  }
  // The same ticket again is a replay.
  assertEquals(await upgradeStatus(port, `/chat?ticket=${ticket}`), 401);
  assertEquals(backend.accepted, 1);
  const status = await wsgate.stop("SIGTERM");
  assertEquals(status.code, 0);
});

Deno.test("wsgate ticket exits 2 naming the variable when the secret is not set", async () => {
  const { code, stdout, stderr } = await runTicket(["--route", "/chat"], {
    WSGATE_TICKET_SECRET: "",
  });
  assertEquals(code, 2, stderr);
  assertEquals(stdout, "");
  assert(stderr.includes("WSGATE_TICKET_SECRET"), stderr);
});

Deno.test("wsgate replay prints a recording made by a route with record", async () => {
  await using backend = startU32beBackend();
  await using dir = await makeTempDir();
  await Deno.mkdir(`${dir.path}/rec`);
  const configPath = `${dir.path}/wsgate.jsonc`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      listen: "127.0.0.1:0",
      logFormat: "json",
      routes: [{ path: "/rec", target: backend.target, record: "rec" }],
    }),
  );
  {
    await using wsgate = spawnWsgate(["--config", configPath]);
    const { port } = await wsgate.listening();
    await roundTripInNewSession(port, "/rec", "hello replay");
    await wsgate.waitForLine(
      "stderr",
      (line) => line.includes('"session_close"'),
    );
    // Stopping drains the session and its recorder before the file is read.
    assertEquals((await wsgate.stop("SIGTERM")).code, 0);
  }
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir.path}/rec`)) {
    files.push(entry.name);
  }
  assertEquals(files.length, 1, files.join(" "));
  assert(files[0]!.endsWith(".wsrec"), files[0]);
  const { code, stdout, stderr } = await runWsgate([
    "replay",
    `${dir.path}/rec/${files[0]}`,
  ]);
  assertEquals(code, 0, stderr);
  assertEquals(stderr, "");
  for (
    const needle of [
      "route /rec",
      `target ${backend.target}`,
      "browser -> backend  12 B",
      "browser <- backend  12 B",
      "|hello replay|",
      "2 messages in ",
    ]
  ) {
    assert(stdout.includes(needle), `replay lacks "${needle}":\n${stdout}`);
  }
});

// Regression: `replay` let the read or decode error escape as an uncaught
// exception with a stack trace instead of one `wsgate: ...` line.
Deno.test("wsgate replay exits non-zero with one line naming a missing or malformed file", async (t) => {
  await using dir = await makeTempDir();
  const malformed = `${dir.path}/garbage.wsrec`;
  await Deno.writeTextFile(malformed, "hello\nworld\n");
  const cases: [string, string][] = [
    ["missing file", `${dir.path}/absent.wsrec`],
    ["malformed file", malformed],
  ];
  const outputs = await Promise.all(
    cases.map(([, path]) => runWsgate(["replay", path])),
  );
  for (const [index, [name, path]] of cases.entries()) {
    await t.step(name, () => {
      const { code, stdout, stderr } = outputs[index]!;
      assert(code === 1 || code === 2, `exit ${code}`);
      assertEquals(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assertEquals(lines.length, 1, stderr);
      assert(lines[0]!.startsWith("wsgate: "), lines[0]);
      assert(lines[0]!.includes(path), `"${lines[0]}" lacks ${path}`);
    });
  }
});
