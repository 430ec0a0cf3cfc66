/**
 * Operator-facing endpoints of a real gateway on 127.0.0.1:0: `/healthz`
 * (also while draining), `/metrics` after real sessions, static files
 * (content types, index, traversal attempts sent as raw request lines),
 * session recordings, `traffic` events and the console switch. Every test
 * stops what it starts.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import { startBackend, unusedPort, writeAll } from "../_util/backends.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { RawWsClient } from "../_util/raw_ws_client.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import {
  patternBytes,
  utf8,
  WsTestClient,
} from "../_util/web_socket_client.ts";
import type { GatewayEvent } from "../../src/observability/events.ts";
import { formatEvent } from "../../src/observability/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/observability/render_prometheus.ts";
import { decodeRecording, replay } from "../../src/observability/recording.ts";

type TrafficEvent = Extract<GatewayEvent, { type: "traffic" }>;
type SessionOpen = Extract<GatewayEvent, { type: "session_open" }>;

function isSessionOpen(event: GatewayEvent): event is SessionOpen {
  return event.type === "session_open";
}

/** A parsed HTTP/1.1 response read to EOF. */
interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
  text: string;
}

/**
 * Sends `requestLine` (for example `GET /../x HTTP/1.1`) byte for byte, so
 * no client library normalises the path, and reads the response to EOF (the
 * responder always closes).
 */
async function rawHttp(
  port: number,
  requestLine: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    let head = `${requestLine}\r\nHost: 127.0.0.1:${port}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      head += `${name}: ${value}\r\n`;
    }
    await writeAll(conn, utf8(`${head}\r\n`));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    const readAll = async () => {
      for (let reads = 0; reads < 10_000; reads++) {
        const count = await conn.read(buffer);
        if (count === null) return;
        chunks.push(buffer.slice(0, count));
      }
      throw new Error("response did not end");
    };
    await within(readAll(), 5000, `the response to ${requestLine}`);
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    const latin1 = new TextDecoder("latin1").decode(bytes);
    const end = latin1.indexOf("\r\n\r\n");
    assert(end > 0, `no response head for ${requestLine}: ${latin1}`);
    const [statusLine, ...lines] = latin1.slice(0, end).split("\r\n");
    const parsed = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      parsed.set(
        line.slice(0, colon).toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
    const body = bytes.slice(end + 4);
    return {
      status: Number(statusLine!.split(" ")[1]),
      headers: parsed,
      body,
      text: new TextDecoder().decode(body),
    };
  } finally {
    conn.close();
  }
}

/**
 * Polls `condition` every 10 ms until it holds, at most `timeoutMs`; for
 * state the gateway publishes without an event (files written behind).
 */
async function waitUntil(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    if (await condition()) return;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Sends `message`, expects the same bytes back (u32be echo backend). */
async function echo(
  client: WsTestClient,
  message: Uint8Array | string,
): Promise<void> {
  client.send(message);
  const reply = await client.next();
  const expected = typeof message === "string" ? utf8(message) : message;
  assertEquals(reply, expected);
}

/** The lines of a Prometheus text body, for exact-line assertions. */
function metricLines(text: string): Set<string> {
  return new Set(text.split("\n").filter((line) => !line.startsWith("#")));
}

function assertMetric(lines: Set<string>, line: string): void {
  assert(
    lines.has(line),
    `missing metric line: ${line}\n--- got:\n${[...lines].join("\n")}`,
  );
}

Deno.test("gateway /healthz answers 200, and no longer 200 once close() starts draining", async () => {
  // The backend never reads and the raw client never answers the close
  // frame, so the session outlives the drain timeout.
  await using backend = startBackend(async (conn) => {
    const buffer = new Uint8Array(1024);
    while ((await conn.read(buffer)) !== null) {
      // Discard.
    }
  });
  await using fixture = await startGateway({
    routes: [{ path: "/slow", target: backend.target }],
    drainTimeoutMs: 200,
    closeTimeoutMs: 600,
  });
  const healthy = await rawHttp(fixture.port, "GET /healthz HTTP/1.1");
  assertEquals([healthy.status, healthy.text], [200, "ok\n"]);
  assertEquals(
    healthy.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  const head = await rawHttp(fixture.port, "HEAD /healthz HTTP/1.1");
  assertEquals([head.status, head.body.length], [200, 0]);

  const { client, response } = await RawWsClient.connect(fixture.port, "/slow");
  await using _client = client;
  assertEquals(response.status, 101);
  await within(fixture.waitForEvent(isSessionOpen), 5000, "session_open");

  const started = performance.now();
  const closing = fixture.gateway.close();
  assert(fixture.gateway.isDraining);
  assertEquals(fixture.gateway.sessionCount, 1);
  // A load balancer must not see "healthy" any more: 503, or no answer at
  // all (the listener is closed as draining starts).
  const during = await rawHttp(fixture.port, "GET /healthz HTTP/1.1").then(
    (answer) => answer.status,
    (error: Error) => error.name,
  );
  assert(during !== 200, `healthz during drain: ${during}`);
  const close = await client.nextClose(2000);
  assertEquals([close?.code, close?.reason], [1001, "gateway shutting down"]);

  await within(closing, 2000, "close() to finish draining");
  const elapsedMs = performance.now() - started;
  assert(elapsedMs >= 150, `close() returned before the drain timeout`);
  // The session still ends, with 1001, once its close timeout passes.
  const ended = await within(fixture.nextClose(), 3000, "session_close");
  assertEquals([ended.route, ended.code], ["/slow", 1001]);
  assertEquals(fixture.gateway.sessionCount, 0);
});

Deno.test({
  name: "gateway close() force-closes sessions left after drainTimeoutMs",
  // Regression: #shutdown only raced the drain timer and resolved with the
  // session still open until the session's own closeTimeoutMs.
  async fn() {
    await using backend = startBackend(async (conn) => {
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer)) !== null) {
        // Discard.
      }
    });
    await using fixture = await startGateway({
      routes: [{ path: "/slow", target: backend.target }],
      drainTimeoutMs: 200,
      closeTimeoutMs: 5000,
    });
    const { client } = await RawWsClient.connect(fixture.port, "/slow");
    await using _client = client;
    await within(fixture.waitForEvent(isSessionOpen), 5000, "session_open");
    await within(fixture.gateway.close(), 2000, "close()");
    assertEquals(fixture.gateway.sessionCount, 0);
    await client.waitForEof(1000);
  },
});

Deno.test("gateway close() cuts a static download the client stopped reading at drainTimeoutMs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate-drain-" });
  try {
    // Larger than the loopback socket buffers: the response cannot finish
    // while the client reads nothing.
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(48 * 1024 * 1024));
    await using fixture = await startGateway({
      routes: [{ path: "/ws", target: "127.0.0.1:9" }],
      staticDir: dir,
      drainTimeoutMs: 200,
    });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: fixture.port,
    });
    try {
      await writeAll(
        conn,
        new TextEncoder().encode(
          `GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:${fixture.port}\r\n\r\n`,
        ),
      );
      // The response has started: the client has its first bytes.
      const first = await within(
        conn.read(new Uint8Array(16)),
        5000,
        "the response to start",
      );
      assert(first !== null && first > 0);
      await within(fixture.gateway.close(), 3000, "close()");
    } finally {
      conn.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway /metrics counts sessions, closes, bytes, frames, refusals and histograms of real sessions", async () => {
  await using backend = startU32beBackend();
  await using fixture = await startGateway({
    routes: [
      { path: "/a", target: backend.target },
      { path: "/b", target: backend.target },
      { path: "/down", target: `127.0.0.1:${unusedPort()}` },
    ],
  });
  const url = fixture.url.bind(fixture);

  // Session 1 on /a: three binary messages; session 2 on /a: one text
  // message; session 3 on /b: one binary message. The backend echoes.
  {
    await using first = await WsTestClient.open(url("/a"));
    await echo(first, patternBytes(10, 1));
    await echo(first, patternBytes(100, 2));
    await echo(first, patternBytes(5000, 3));
    assertEquals((await first.close(1000)).code, 1000);
  }
  {
    await using second = await WsTestClient.open(url("/a"));
    await echo(second, "abc");
    assertEquals((await second.close(1000)).code, 1000);
  }
  {
    await using third = await WsTestClient.open(url("/b"));
    await echo(third, patternBytes(300, 4));
    assertEquals((await third.close(1000)).code, 1000);
  }
  {
    // Unreachable backend: upgraded, then closed with 1011.
    await using down = await WsTestClient.open(url("/down"));
    assertEquals((await down.waitClosed()).code, 1011);
  }
  const closes = [];
  for (let i = 0; i < 4; i++) {
    closes.push(await within(fixture.nextClose(), 5000, "session_close"));
  }
  assertEquals(closes.map((close) => close.code).sort(), [
    1000,
    1000,
    1000,
    1011,
  ]);

  // Refused upgrades: two unknown paths (404), one foreign origin (403).
  for (const path of ["/nope", "/a/extra"]) {
    const { client, response } = await RawWsClient.connect(fixture.port, path);
    await client.close();
    assertEquals(response.status, 404);
  }
  {
    const { client, response } = await RawWsClient.connect(
      fixture.port,
      "/a",
      { Origin: "http://evil.example" },
    );
    await client.close();
    assertEquals(response.status, 403);
  }

  const scrape = await rawHttp(fixture.port, "GET /metrics HTTP/1.1");
  assertEquals(scrape.status, 200);
  assertEquals(scrape.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  const lines = metricLines(scrape.text);
  const expected = [
    'wsgate_sessions_total{route="/a"} 2',
    'wsgate_sessions_total{route="/b"} 1',
    'wsgate_sessions_total{route="/down"} 1',
    'wsgate_sessions_open{route="/a"} 0',
    'wsgate_sessions_open{route="/b"} 0',
    'wsgate_sessions_open{route="/down"} 0',
    'wsgate_closes_total{code="1000"} 3',
    'wsgate_closes_total{code="1011"} 1',
    // 10 + 100 + 5000 + 3 bytes in 4 messages, each way.
    'wsgate_bytes_total{route="/a",direction="to_backend"} 5113',
    'wsgate_bytes_total{route="/a",direction="to_browser"} 5113',
    'wsgate_frames_total{route="/a",direction="to_backend"} 4',
    'wsgate_frames_total{route="/a",direction="to_browser"} 4',
    'wsgate_bytes_total{route="/b",direction="to_backend"} 300',
    'wsgate_bytes_total{route="/b",direction="to_browser"} 300',
    'wsgate_frames_total{route="/b",direction="to_backend"} 1',
    'wsgate_frames_total{route="/b",direction="to_browser"} 1',
    'wsgate_handshake_refusals_total{reason="No such route",status="404"} 2',
    'wsgate_handshake_refusals_total{reason="Origin not allowed",status="403"} 1',
    // Three backends reached; the refused connect is not a latency sample.
    "wsgate_backend_connect_seconds_count 3",
    'wsgate_backend_connect_seconds_bucket{le="+Inf"} 3',
    "wsgate_buffered_bytes 0",
  ];
  // Sizes 10, 100, 5000, 3, 300 each way, cumulative per bucket.
  for (const direction of ["to_backend", "to_browser"]) {
    const buckets: [string, number][] = [
      ["16", 2],
      ["64", 2],
      ["256", 3],
      ["1024", 4],
      ["4096", 4],
      ["16384", 5],
      ["65536", 5],
      ["+Inf", 5],
    ];
    for (const [le, count] of buckets) {
      expected.push(
        `wsgate_frame_bytes_bucket{direction="${direction}",le="${le}"} ${count}`,
      );
    }
    expected.push(`wsgate_frame_bytes_sum{direction="${direction}"} 5413`);
    expected.push(`wsgate_frame_bytes_count{direction="${direction}"} 5`);
  }
  for (const line of expected) assertMetric(lines, line);
  // Every metric announces its type.
  for (
    const [name, type] of [
      ["wsgate_sessions_open", "gauge"],
      ["wsgate_sessions_total", "counter"],
      ["wsgate_handshake_refusals_total", "counter"],
      ["wsgate_closes_total", "counter"],
      ["wsgate_bytes_total", "counter"],
      ["wsgate_frames_total", "counter"],
      ["wsgate_backend_connect_seconds", "histogram"],
      ["wsgate_frame_bytes", "histogram"],
      ["wsgate_buffered_bytes", "gauge"],
    ]
  ) {
    assert(
      scrape.text.includes(`\n# TYPE ${name} ${type}\n`),
      `missing # TYPE ${name} ${type}`,
    );
  }
});

Deno.test("gateway /metrics includes the traffic of sessions still open", async () => {
  await using backend = startU32beBackend();
  await using fixture = await startGateway({
    routes: [{ path: "/live", target: backend.target }],
  });
  await using client = await WsTestClient.open(fixture.url("/live"));
  await echo(client, patternBytes(7, 9));
  await echo(client, patternBytes(70, 10));
  // Scraped at once, before the sweep had a reason to fold the counts in.
  const lines = metricLines(
    (await rawHttp(fixture.port, "GET /metrics HTTP/1.1")).text,
  );
  assertMetric(lines, 'wsgate_sessions_open{route="/live"} 1');
  assertMetric(
    lines,
    'wsgate_bytes_total{route="/live",direction="to_backend"} 77',
  );
  assertMetric(
    lines,
    'wsgate_bytes_total{route="/live",direction="to_browser"} 77',
  );
  assertMetric(
    lines,
    'wsgate_frames_total{route="/live",direction="to_browser"} 2',
  );
  await client.close();
  await within(fixture.nextClose(), 5000, "session_close");
  const after = metricLines(
    (await rawHttp(fixture.port, "GET /metrics HTTP/1.1")).text,
  );
  // Folding at render and again at close does not count anything twice.
  assertMetric(
    after,
    'wsgate_bytes_total{route="/live",direction="to_backend"} 77',
  );
  assertMetric(after, 'wsgate_sessions_open{route="/live"} 0');
});

/** A static root plus a secret file next to it (outside the root). */
async function makeStaticRoot(): Promise<
  { base: string; root: string; secret: string }
> {
  const base = await Deno.makeTempDir({ prefix: "wsgate_static_" });
  const root = `${base}/root`;
  const secret = `secret-${crypto.randomUUID()}`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.mkdir(`${root}/docs`);
  await Deno.writeTextFile(`${base}/secret.txt`, secret);
  await Deno.writeTextFile(`${root}/index.html`, "<h1>home</h1>");
  await Deno.writeTextFile(`${root}/app.js`, "export const x = 1;\n");
  await Deno.writeTextFile(`${root}/style.css`, "body{}");
  await Deno.writeTextFile(`${root}/data.json`, '{"a":1}');
  await Deno.writeFile(`${root}/logo.png`, Uint8Array.of(0x89, 0x50, 1, 2));
  await Deno.writeFile(`${root}/blob.bin`, patternBytes(3000, 5));
  await Deno.writeTextFile(`${root}/sub/index.html`, "<p>sub</p>");
  await Deno.writeTextFile(`${root}/docs/readme.txt`, "docs");
  await Deno.writeTextFile(`${root}/.env`, secret);
  await Deno.writeTextFile(`${root}/100%.txt`, "percent");
  await Deno.symlink(base, `${root}/escape`);
  return { base, root, secret };
}

Deno.test("gateway serves staticDir with content types and index.html, and refuses traversal sent raw", async (t) => {
  const { base, root, secret } = await makeStaticRoot();
  try {
    await using fixture = await startGateway({
      staticDir: root,
      routes: [{ path: "/ws", target: "127.0.0.1:9" }],
    });
    const get = (path: string) => rawHttp(fixture.port, `GET ${path} HTTP/1.1`);

    await t.step("files get their content type and exact bytes", async () => {
      const cases: [string, string, Uint8Array][] = [
        ["/", "text/html; charset=utf-8", utf8("<h1>home</h1>")],
        ["/index.html", "text/html; charset=utf-8", utf8("<h1>home</h1>")],
        [
          "/app.js",
          "text/javascript; charset=utf-8",
          utf8("export const x = 1;\n"),
        ],
        ["/style.css", "text/css; charset=utf-8", utf8("body{}")],
        ["/data.json", "application/json; charset=utf-8", utf8('{"a":1}')],
        ["/logo.png", "image/png", Uint8Array.of(0x89, 0x50, 1, 2)],
        ["/blob.bin", "application/octet-stream", patternBytes(3000, 5)],
        ["/sub/", "text/html; charset=utf-8", utf8("<p>sub</p>")],
        [
          "/app.js?v=3",
          "text/javascript; charset=utf-8",
          utf8("export const x = 1;\n"),
        ],
      ];
      for (const [path, type, body] of cases) {
        const response = await get(path);
        assertEquals(response.status, 200, path);
        assertEquals(response.headers.get("content-type"), type, path);
        assertEquals(
          response.headers.get("content-length"),
          String(body.length),
          path,
        );
        assertEquals(response.body, body, path);
      }
      const head = await rawHttp(fixture.port, "HEAD /blob.bin HTTP/1.1");
      assertEquals(head.status, 200);
      assertEquals(head.headers.get("content-length"), "3000");
      assertEquals(head.body.length, 0);
    });

    await t.step("a directory without its slash redirects", async () => {
      const response = await get("/sub");
      assertEquals(response.status, 301);
      assertEquals(response.headers.get("location"), "./sub/");
    });

    await t.step(
      "no listing, no dotfiles, no 200 for the WebSocket path",
      async () => {
        assertEquals((await get("/docs/")).status, 404);
        assertEquals((await get("/.env")).status, 404);
        assertEquals((await get("/missing.txt")).status, 404);
        assertEquals((await get("/ws")).status, 426);
        const post = await rawHttp(fixture.port, "POST /app.js HTTP/1.1", {
          "Content-Length": "0",
        });
        assertEquals(post.status, 405);
      },
    );

    await t.step("traversal attempts never leave the root", async () => {
      const attempts = [
        "/../secret.txt",
        "/../../etc/passwd",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/%2e%2e%2fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%252e%252e/secret.txt",
        "/%2e%2e%252fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/./../secret.txt",
        "/escape/secret.txt",
        "/sub/%00",
        "//etc/passwd",
      ];
      for (const path of attempts) {
        const response = await get(path);
        assert(
          response.status === 400 || response.status === 404,
          `${path}: ${response.status}`,
        );
        assert(!response.text.includes(secret), `${path} leaked the secret`);
        assert(!response.text.includes("root:"), `${path} leaked passwd`);
      }
    });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test({
  name: "gateway serves a static file whose name holds a percent sign",
  // Regression: the request path was percent-decoded twice (parseRequestHead,
  // then StaticFiles.resolve), so `/100%25.txt` was refused with 400.
  async fn() {
    const { base, root } = await makeStaticRoot();
    try {
      await using fixture = await startGateway({ staticDir: root });
      const response = await rawHttp(fixture.port, "GET /100%25.txt HTTP/1.1");
      assertEquals([response.status, response.text], [200, "percent"]);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test("gateway lists a directory without index.html only with listDirectories", async () => {
  const { base, root } = await makeStaticRoot();
  try {
    await using fixture = await startGateway({
      staticDir: root,
      listDirectories: true,
    });
    const listing = await rawHttp(fixture.port, "GET /docs/ HTTP/1.1");
    assertEquals(listing.status, 200);
    assertEquals(
      listing.headers.get("content-type"),
      "text/html; charset=utf-8",
    );
    assert(listing.text.includes('href="./readme.txt"'), listing.text);
    // A directory with an index still serves the index.
    assertEquals(
      (await rawHttp(fixture.port, "GET /sub/ HTTP/1.1")).text,
      "<p>sub</p>",
    );
    // The root has index.html, so it is not listed; dotfiles stay hidden.
    const home = await rawHttp(fixture.port, "GET / HTTP/1.1");
    assertEquals(home.text, "<h1>home</h1>");
    const traversal = await rawHttp(fixture.port, "GET /../ HTTP/1.1");
    assertEquals(traversal.status, 400);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("gateway records each session of a recordDir route to its own file that replays both directions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgate_record_" });
  try {
    await using backend = startU32beBackend({
      reply: (payload) => Uint8Array.from([0xee, ...payload]),
    });
    await using fixture = await startGateway({
      routes: [
        { path: "/rec", target: backend.target, recordDir: dir },
        { path: "/plain", target: backend.target },
      ],
    });
    for (const word of ["one", "two"]) {
      await using client = await WsTestClient.open(fixture.url("/rec"));
      client.send(word);
      client.send(Uint8Array.of(1, 2, 3));
      assertEquals(await client.take(2), [
        Uint8Array.from([0xee, ...utf8(word)]),
        Uint8Array.of(0xee, 1, 2, 3),
      ]);
      await client.close();
    }
    {
      await using client = await WsTestClient.open(fixture.url("/plain"));
      client.send("not recorded");
      assertEquals(
        await client.next(),
        Uint8Array.from([0xee, ...utf8("not recorded")]),
      );
      await client.close();
    }
    const closes = [];
    for (let i = 0; i < 3; i++) {
      closes.push(await within(fixture.nextClose(), 5000, "session_close"));
    }
    const recorded = closes.filter((close) => close.route === "/rec");
    const files = recorded.map((close) => `${dir}/${close.sessionId}.wsrec`);
    // The recorder appends behind the relay: wait until both files hold
    // all four messages.
    await waitUntil(async () => {
      for (const file of files) {
        try {
          const recording = decodeRecording(await Deno.readFile(file));
          if (recording.records.length < 4 || recording.truncated) {
            return false;
          }
        } catch {
          return false;
        }
      }
      return true;
    }, "both recordings to be written");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assertEquals(
      names.sort(),
      recorded.map((close) => `${close.sessionId}.wsrec`).sort(),
    );
    for (const [i, file] of files.entries()) {
      const close = recorded[i]!;
      const word = i === 0 ? "one" : "two";
      const bytes = await Deno.readFile(file);
      const recording = decodeRecording(bytes);
      assertEquals(recording.header?.sessionId, close.sessionId);
      assertEquals(recording.header?.route, "/rec");
      assertEquals(recording.header?.target, backend.target);
      const toBackend = recording.records.filter((r) =>
        r.direction === "to_backend"
      );
      const toBrowser = recording.records.filter((r) =>
        r.direction === "to_browser"
      );
      assertEquals(toBackend.map((r) => r.bytes), [
        utf8(word),
        Uint8Array.of(1, 2, 3),
      ]);
      assertEquals(toBrowser.map((r) => r.bytes), [
        Uint8Array.from([0xee, ...utf8(word)]),
        Uint8Array.of(0xee, 1, 2, 3),
      ]);
      const report = replay(bytes);
      assert(report.startsWith(`session ${close.sessionId} route /rec `));
      assert(report.includes("browser -> backend  3 B"), report);
      assert(report.includes("browser <- backend  4 B"), report);
      assert(report.includes(`|${word}|`), report);
      assert(report.includes(" ee 01 02 03 "), report);
      assert(
        report.includes(
          "4 messages in ",
        ) && report.endsWith(
          `: 6 B to backend in 2, 8 B to browser in 2\n`,
        ),
        report,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gateway emits traffic events whose bytes and hex dumps stop at logTrafficBytes", async () => {
  await using backend = startU32beBackend();
  await using fixture = await startGateway({
    logTrafficBytes: 8,
    routes: [{ path: "/t", target: backend.target }],
  });
  const long = patternBytes(20, 7);
  const short = utf8("hey");
  {
    await using client = await WsTestClient.open(fixture.url("/t"));
    await echo(client, long);
    await echo(client, short);
    await client.close();
  }
  const close = await within(fixture.nextClose(), 5000, "session_close");
  const traffic = fixture.events.filter((event): event is TrafficEvent =>
    event.type === "traffic"
  );
  assertEquals(
    traffic.map((event) => [event.sessionId, event.direction, event.bytes]),
    [
      [close.sessionId, "to_backend", long.slice(0, 8)],
      [close.sessionId, "to_browser", long.slice(0, 8)],
      [close.sessionId, "to_backend", short],
      [close.sessionId, "to_browser", short],
    ],
  );
  const hex = [...long.subarray(0, 8)].map((byte) =>
    byte.toString(16).padStart(2, "0")
  ).join(" ");
  const line = formatEvent(traffic[0]!, { level: "debug", timeMs: 0 })!;
  const [summary, dump, ...rest] = line.split("\n");
  assertEquals(
    summary,
    `1970-01-01T00:00:00.000Z DEBUG traffic sessionId=${close.sessionId} direction=to_backend size=20`,
  );
  assert(dump!.startsWith(`00000000  ${hex} `), dump);
  assertEquals(rest, []);
  const json = JSON.parse(
    formatEvent(traffic[2]!, { level: "debug", format: "json" })!,
  );
  assertEquals([json.size, json.hex], [3, "686579"]);

  // Off by default: no traffic events at all.
  await using quiet = await startGateway({
    routes: [{ path: "/t", target: backend.target }],
  });
  {
    await using client = await WsTestClient.open(quiet.url("/t"));
    await echo(client, long);
    await client.close();
  }
  await within(quiet.nextClose(), 5000, "session_close");
  assertEquals(quiet.events.filter((e) => e.type === "traffic"), []);
});

Deno.test("gateway serves the console and the client module, and console: false turns the console off", async () => {
  await using fixture = await startGateway({
    routes: [{ path: "/vnc", target: "127.0.0.1:9" }],
  });
  const page = await rawHttp(fixture.port, "GET /_console HTTP/1.1");
  assertEquals(page.status, 200);
  assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert(
    page.headers.get("content-security-policy")?.includes(
      "default-src 'none'",
    ),
  );
  assert(page.text.includes('<option value="/vnc">/vnc</option>'));
  const stats = await rawHttp(fixture.port, "GET /_console/stats HTTP/1.1");
  assertEquals(stats.status, 200);
  assertEquals(JSON.parse(stats.text), {
    sessionsOpen: 0,
    bytesToBackend: 0,
    bytesToBrowser: 0,
    sessions: [],
  });
  const module = await rawHttp(fixture.port, "GET /wsgate-client.js HTTP/1.1");
  assertEquals(module.status, 200);
  assertEquals(
    module.headers.get("content-type"),
    "text/javascript; charset=utf-8",
  );
  assert(module.text.includes("export class WsgateClient"));

  await using off = await startGateway({
    console: false,
    routes: [{ path: "/vnc", target: "127.0.0.1:9" }],
  });
  for (const path of ["/_console", "/_console/stats"]) {
    const response = await rawHttp(off.port, `GET ${path} HTTP/1.1`);
    assertEquals(response.status, 404, path);
    assert(!response.text.includes("<html"), path);
  }
  // Health and metrics do not depend on the console.
  assertEquals((await rawHttp(off.port, "GET /healthz HTTP/1.1")).status, 200);
  assertEquals((await rawHttp(off.port, "GET /metrics HTTP/1.1")).status, 200);
});
