/**
 * The `websockify` command's server options, run as websockify users run
 * them (the CLI in a child process, real sockets): `--auth-plugin
 * BasicHTTPAuth` and `ExpectOrigin`, `--web-auth`, `--run-once`,
 * `--idle-timeout`, `--timeout` and `--log-file`, each with websockify's
 * meaning (websocketproxy.py, websockifyserver.py, auth_plugins.py).
 *
 * @module
 */

import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import { startEchoBackend } from "../_util/backends.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { utf8 } from "../_util/web_socket_client.ts";
import { spawnWsgate, type WsgateProcess } from "../_util/wsgate_process.ts";
import { within } from "../_util/assert.ts";

const CREDENTIALS = "alice:s3cret";

async function startWebsockify(
  args: readonly string[],
): Promise<{ wsgate: WsgateProcess; port: number }> {
  const wsgate = spawnWsgate(["websockify", ...args]);
  try {
    const { port } = await wsgate.listening(15000);
    return { wsgate, port };
  } catch (error) {
    await wsgate[Symbol.asyncDispose]();
    throw error;
  }
}

function basic(credentials: string): string {
  return `Basic ${btoa(credentials)}`;
}

/** One plain GET; resolves with the status, headers and body. */
async function get(
  port: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { headers });
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
  };
}

/** Opens a session, checks one echo, and closes it cleanly. */
async function echoOnce(
  port: number,
  headers: Record<string, string> = {},
): Promise<void> {
  const { client, response } = await RawWsClient.connect(port, "/", headers);
  await using _client = client;
  assertStrictEquals(response.status, 101, response.head);
  await client.send(utf8("ping"));
  const frame = await client.next(5000);
  assertEquals(frame, {
    kind: "message",
    isText: false,
    payload: utf8("ping"),
  });
  await client.sendClose(1000);
  await client.nextClose(5000);
}

async function withWebDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_websockify_web_" });
  try {
    await Deno.writeTextFile(`${dir}/index.html`, "<h1>noVNC here</h1>\n");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("websockify --auth-plugin BasicHTTPAuth answers 401 with WWW-Authenticate until the credentials match", async () => {
  await using backend = startEchoBackend();
  const { wsgate, port } = await startWebsockify([
    "--auth-plugin",
    "BasicHTTPAuth",
    "--auth-source",
    CREDENTIALS,
    "127.0.0.1:0",
    backend.target,
  ]);
  await using _wsgate = wsgate;
  const cases: [string, Record<string, string>, number][] = [
    ["no credentials", {}, 401],
    ["wrong password", { Authorization: basic("alice:nope") }, 401],
    ["not Basic", { Authorization: "Bearer x" }, 403],
  ];
  for (const [name, headers, status] of cases) {
    const { client, response } = await RawWsClient.connect(port, "/", headers);
    await client.close();
    assertStrictEquals(response.status, status, `${name}: ${response.head}`);
    if (status === 401) {
      assert(
        /^www-authenticate: Basic realm="Websockify"\r?$/im.test(
          response.head,
        ),
        response.head,
      );
    }
  }
  assertStrictEquals(backend.accepted, 0);
  await echoOnce(port, { Authorization: basic(CREDENTIALS) });
  assertStrictEquals(backend.accepted, 1);
});

Deno.test("websockify --auth-plugin ExpectOrigin answers 403 to an unlisted or missing Origin", async () => {
  await using backend = startEchoBackend();
  const { wsgate, port } = await startWebsockify([
    "--auth-plugin",
    "ExpectOrigin",
    "--auth-source",
    "https://a.example https://vnc.example",
    "127.0.0.1:0",
    backend.target,
  ]);
  await using _wsgate = wsgate;
  for (const headers of [{ Origin: "https://evil.example" }, {}]) {
    const { client, response } = await RawWsClient.connect(port, "/", headers);
    await client.close();
    assertStrictEquals(response.status, 403, response.head);
  }
  await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("Invalid Origin") && line.includes("evil.example"),
    5000,
  );
  await echoOnce(port, { Origin: "https://vnc.example" });
});

Deno.test("websockify --web-auth asks for the credentials on plain GETs too", async () => {
  await withWebDir(async (dir) => {
    await using backend = startEchoBackend();
    const auth = ["--auth-plugin", "BasicHTTPAuth", "--auth-source"];
    {
      const { wsgate, port } = await startWebsockify([
        "--web",
        dir,
        "--web-auth",
        ...auth,
        CREDENTIALS,
        "127.0.0.1:0",
        backend.target,
      ]);
      await using _wsgate = wsgate;
      const refused = await get(port);
      assertStrictEquals(refused.status, 401);
      assertEquals(
        refused.headers.get("www-authenticate"),
        'Basic realm="Websockify"',
      );
      const served = await get(port, { Authorization: basic(CREDENTIALS) });
      assertEquals([served.status, served.body], [
        200,
        "<h1>noVNC here</h1>\n",
      ]);
    }
    {
      // Without --web-auth, files are public and only upgrades are checked.
      const { wsgate, port } = await startWebsockify([
        "--web",
        dir,
        ...auth,
        CREDENTIALS,
        "127.0.0.1:0",
        backend.target,
      ]);
      await using _wsgate = wsgate;
      assertStrictEquals((await get(port)).status, 200);
      const { client, response } = await RawWsClient.connect(port);
      await client.close();
      assertStrictEquals(response.status, 401);
    }
  });
});

Deno.test("websockify --run-once exits 0 once the first WebSocket session ends, not after a plain GET", async () => {
  await withWebDir(async (dir) => {
    await using backend = startEchoBackend();
    const { wsgate, port } = await startWebsockify([
      "--run-once",
      "--web",
      dir,
      "127.0.0.1:0",
      backend.target,
    ]);
    await using _wsgate = wsgate;
    assertStrictEquals((await get(port)).status, 200);
    await echoOnce(port);
    const status = await within(wsgate.status, 10000, "wsgate to exit");
    assertStrictEquals(status.code, 0);
    assert(
      wsgate.stderrLines.some((line) => line.includes("--run-once")),
      wsgate.stderrLines.join("\n"),
    );
  });
});

Deno.test("websockify --idle-timeout exits 0 when no client has come for that long", async () => {
  await using backend = startEchoBackend();
  const { wsgate } = await startWebsockify([
    "--idle-timeout",
    "1",
    "127.0.0.1:0",
    backend.target,
  ]);
  await using _wsgate = wsgate;
  const status = await within(wsgate.status, 15000, "wsgate to exit");
  assertStrictEquals(status.code, 0);
  assert(
    wsgate.stderrLines.some((line) => line.includes("--idle-timeout 1")),
    wsgate.stderrLines.join("\n"),
  );
});

Deno.test("websockify --timeout stops taking sessions but lets the open one finish, then exits 0", async () => {
  await using backend = startEchoBackend();
  const { wsgate, port } = await startWebsockify([
    "--timeout",
    "1",
    "127.0.0.1:0",
    backend.target,
  ]);
  await using _wsgate = wsgate;
  const { client, response } = await RawWsClient.connect(port);
  await using _client = client;
  assertStrictEquals(response.status, 101, response.head);
  await wsgate.waitForLine(
    "stderr",
    (line) => line.includes("--timeout 1: refusing new sessions"),
    15000,
  );
  const late = await RawWsClient.connect(port);
  await late.client.close();
  assertStrictEquals(late.response.status, 404, late.response.head);
  // The session open before the timeout still relays.
  await client.send(utf8("still here"));
  assertEquals(await client.next(5000), {
    kind: "message",
    isText: false,
    payload: utf8("still here"),
  });
  await client.sendClose(1000);
  await client.nextClose(5000);
  const status = await within(wsgate.status, 10000, "wsgate to exit");
  assertStrictEquals(status.code, 0);
});

Deno.test("websockify --log-file appends the settings block and the event lines to the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_websockify_log_" });
  const logFile = `${dir}/websockify.log`;
  try {
    await Deno.writeTextFile(logFile, "earlier line\n");
    await using backend = startEchoBackend();
    const { wsgate, port } = await startWebsockify([
      "--log-file",
      logFile,
      "127.0.0.1:0",
      backend.target,
    ]);
    await echoOnce(port);
    await wsgate.waitForLine(
      "stderr",
      (line) => line.includes("session_close"),
      10000,
    );
    assertStrictEquals((await wsgate.stop("SIGTERM", 10000)).code, 0);
    const text = await Deno.readTextFile(logFile);
    assert(text.startsWith("earlier line\nWebSocket server settings:\n"), text);
    for (const event of ["listening", "session_open", "session_close"]) {
      assert(text.includes(event), `${event} missing from:\n${text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
