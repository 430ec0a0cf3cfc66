import { assert, assertEquals, assertStrictEquals } from "../_util/assert.ts";
import {
  type HttpResponse,
  type HttpRouteContext,
  respondToHttpRequest,
} from "../../src/http/http_routes.ts";
import { StaticFiles } from "../../src/http/static_files.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/observability/render_prometheus.ts";
import { demoPageHtml } from "../../src/demo/demo_page.ts";
import {
  parseRequestHead,
  type RequestHead,
} from "../../src/http/request_head.ts";

function request(target: string, method = "GET"): RequestHead {
  const result = parseRequestHead(
    new TextEncoder().encode(
      `${method} ${target} HTTP/1.1\r\nHost: gw\r\n\r\n`,
    ),
    8192,
  );
  if (result.kind !== "head") throw new Error(`bad head: ${result.kind}`);
  return result.head;
}

function context(overrides: Partial<HttpRouteContext> = {}): HttpRouteContext {
  return {
    isDraining: false,
    demoPage: undefined,
    isConsoleEnabled: false,
    routes: ["/ws"],
    renderMetrics: undefined,
    consoleStats: () => ({
      sessionsOpen: 0,
      bytesToBackend: 0,
      bytesToBrowser: 0,
      sessions: [],
    }),
    staticFiles: undefined,
    ...overrides,
  };
}

interface Parsed {
  statusLine: string;
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Parses a response whose body is in `bytes` (no file). */
function parse(response: HttpResponse): Parsed {
  assertStrictEquals(response.file, undefined);
  const text = new TextDecoder().decode(response.bytes);
  const end = text.indexOf("\r\n\r\n");
  assert(end > 0, text);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(
      line.slice(0, colon).toLowerCase(),
      line.slice(colon + 1).trim(),
    );
  }
  return {
    statusLine: statusLine!,
    status: Number(statusLine!.split(" ")[1]),
    headers,
    body: text.slice(end + 4),
  };
}

async function respond(
  target: string,
  overrides: Partial<HttpRouteContext> = {},
  method = "GET",
): Promise<Parsed> {
  return parse(
    await respondToHttpRequest(request(target, method), context(overrides)),
  );
}

Deno.test("respondToHttpRequest answers methods other than GET and HEAD with 405 and Allow", async (t) => {
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    await t.step(method, async () => {
      const response = await respond("/healthz", {}, method);
      assertStrictEquals(
        response.statusLine,
        "HTTP/1.1 405 Method Not Allowed",
      );
      assertStrictEquals(response.headers.get("allow"), "GET, HEAD");
      assertStrictEquals(response.headers.get("connection"), "close");
      assertStrictEquals(response.body, "Method not allowed\n");
    });
  }
});

Deno.test("respondToHttpRequest /healthz answers 200 ok, and 503 draining while draining", async () => {
  const ok = await respond("/healthz");
  assertStrictEquals(ok.statusLine, "HTTP/1.1 200 OK");
  assertStrictEquals(
    ok.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  assertStrictEquals(ok.body, "ok\n");
  const draining = await respond("/healthz", { isDraining: true });
  assertStrictEquals(draining.statusLine, "HTTP/1.1 503 Service Unavailable");
  assertStrictEquals(draining.body, "draining\n");
});

Deno.test("respondToHttpRequest /healthz answers 404 when health is served elsewhere (admin listener)", async () => {
  assertStrictEquals(
    (await respond("/healthz", { isHealthEnabled: false })).status,
    404,
  );
  assertStrictEquals(
    (await respond("/healthz", { isHealthEnabled: true })).status,
    200,
  );
});

Deno.test("respondToHttpRequest answers HEAD with the GET head and no body", async (t) => {
  for (const target of ["/healthz", "/nope", "/ws", "/wsgate-client.js"]) {
    await t.step(target, async () => {
      const get = await respond(target);
      const head = await respond(target, {}, "HEAD");
      assertStrictEquals(head.statusLine, get.statusLine);
      assertEquals(head.headers, get.headers);
      assertStrictEquals(
        head.headers.get("content-length"),
        String(new TextEncoder().encode(get.body).length),
      );
      assertStrictEquals(head.body, "");
    });
  }
});

Deno.test("respondToHttpRequest /metrics renders metrics only when a renderer is given", async () => {
  const served = await respond("/metrics", {
    renderMetrics: () => "wsgate_up 1\n",
  });
  assertStrictEquals(served.status, 200);
  assertStrictEquals(
    served.headers.get("content-type"),
    PROMETHEUS_CONTENT_TYPE,
  );
  assertStrictEquals(served.body, "wsgate_up 1\n");
  assertStrictEquals((await respond("/metrics")).status, 404);
});

Deno.test("respondToHttpRequest serves the client module with its bytes", async () => {
  const response = await respondToHttpRequest(
    request("/wsgate-client.js"),
    context(),
  );
  const parsed = parse(response);
  assertStrictEquals(parsed.status, 200);
  assertStrictEquals(
    parsed.headers.get("content-type"),
    "text/javascript; charset=utf-8",
  );
  assertStrictEquals(parsed.headers.get("cache-control"), "no-cache");
  const file = await Deno.readTextFile(
    new URL("../../src/client/wsgate_client.js", import.meta.url),
  );
  assertStrictEquals(parsed.body, file);
});

Deno.test("respondToHttpRequest serves the console and its stats only when enabled", async () => {
  const stats = {
    sessionsOpen: 1,
    bytesToBackend: 2,
    bytesToBrowser: 3,
    sessions: [],
  };
  const enabled = { isConsoleEnabled: true, consoleStats: () => stats };
  const page = await respond("/_console", enabled);
  assertStrictEquals(page.status, 200);
  assertStrictEquals(
    page.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assertStrictEquals(page.headers.get("cache-control"), "no-store");
  assert(page.headers.get("content-security-policy")!.length > 0);
  const json = await respond("/_console/stats", enabled);
  assertStrictEquals(json.status, 200);
  assertStrictEquals(
    json.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assertEquals(JSON.parse(json.body), stats);
  assertStrictEquals((await respond("/_console")).status, 404);
  assertStrictEquals((await respond("/_console/stats")).status, 404);
});

Deno.test("respondToHttpRequest serves the demo page at / and /index.html only when enabled", async () => {
  for (const target of ["/", "/index.html"]) {
    const page = await respond(target, {
      demoPage: demoPageHtml,
      routes: ["/echo"],
    });
    assertStrictEquals(page.status, 200, target);
    assertStrictEquals(page.body, demoPageHtml(["/echo"]));
    assertStrictEquals((await respond(target)).status, 404, target);
  }
});

Deno.test("respondToHttpRequest answers a plain GET of a WebSocket route with 426", async () => {
  const response = await respond("/ws?token=x");
  assertStrictEquals(response.statusLine, "HTTP/1.1 426 Upgrade Required");
  assertStrictEquals(response.headers.get("upgrade"), "websocket");
  assertStrictEquals(response.body, "This path expects a WebSocket upgrade\n");
});

Deno.test("respondToHttpRequest serves the static index at a route path and answers 426 only where no file is", async () => {
  // Regression: with --static DIR --target H:P (a route at /), GET / answered
  // 426 instead of DIR/index.html, unlike websockify's --web.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/index.html`, "<p>hi</p>\n");
    const staticFiles = await StaticFiles.open(dir);
    for (const method of ["GET", "HEAD"]) {
      const response = await respondToHttpRequest(
        request("/", method),
        context({ routes: ["/", "/ws"], staticFiles }),
      );
      try {
        const head = new TextDecoder().decode(response.bytes);
        assert(head.startsWith("HTTP/1.1 200 OK\r\n"), `${method}: ${head}`);
        assert(head.includes("content-type: text/html"), head);
      } finally {
        response.file?.close();
      }
    }
    assertStrictEquals(
      (await respond("/ws", { routes: ["/", "/ws"], staticFiles })).status,
      426,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("respondToHttpRequest matches routes on the decoded path", async () => {
  const response = await respond("/a%20b", { routes: ["/a b"] });
  assertStrictEquals(response.status, 426);
});

Deno.test("respondToHttpRequest answers 404 for anything else", async () => {
  const response = await respond("/nope");
  assertStrictEquals(response.statusLine, "HTTP/1.1 404 Not Found");
  assertStrictEquals(response.body, "Not found\n");
  assertStrictEquals((await respond("/ws/")).status, 404);
});

Deno.test("respondToHttpRequest streams a static file after its head and closes it for HEAD", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "hello static\n");
    const staticFiles = await StaticFiles.open(dir);
    const get = await respondToHttpRequest(
      request("/a.txt?v=2"),
      context({ staticFiles }),
    );
    assert(get.file !== undefined);
    try {
      const head = new TextDecoder().decode(get.bytes);
      assert(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
      assert(head.endsWith("\r\n\r\n"), head);
      assert(head.includes("content-length: 13\r\n"), head);
      assert(
        head.includes("content-type: text/plain; charset=utf-8\r\n"),
        head,
      );
      assert(head.includes("connection: close\r\n"), head);
      const body = new Uint8Array(64);
      const count = await get.file.read(body);
      assertStrictEquals(
        new TextDecoder().decode(body.subarray(0, count ?? 0)),
        "hello static\n",
      );
    } finally {
      get.file.close();
    }
    const head = await respondToHttpRequest(
      request("/a.txt", "HEAD"),
      context({ staticFiles }),
    );
    assertStrictEquals(head.file, undefined);
    assert(
      new TextDecoder().decode(head.bytes).includes("content-length: 13\r\n"),
    );
    // Routes and built-in paths win over files of the same name.
    await Deno.writeTextFile(`${dir}/healthz`, "file");
    assertStrictEquals(
      (await respond("/healthz", { staticFiles })).body,
      "ok\n",
    );
    assertStrictEquals(
      (await respond("/nope.txt", { staticFiles })).status,
      404,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  // Regression: STATUS_TEXT has no 301 (nor 502), so the static redirect
  // goes out as "HTTP/1.1 301 Unknown".
  name:
    "respondToHttpRequest redirects a directory without its slash with a proper 301 status line",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/sub`);
      const staticFiles = await StaticFiles.open(dir);
      const response = await respond("/sub", { staticFiles });
      assertStrictEquals(response.statusLine, "HTTP/1.1 301 Moved Permanently");
      assertStrictEquals(response.headers.get("location"), "./sub/");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Regression (issue 17 item 10): a static 404 (or any static answer with a
// body in memory) carried two content-length lines.
Deno.test("respondToHttpRequest sends one content-length on static answers with a body", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub`);
    const staticFiles = await StaticFiles.open(dir, { listDirectories: true });
    for (const target of ["/nope.txt", "/sub", "/sub/", "/.hidden"]) {
      const response = await respondToHttpRequest(
        request(target),
        context({ staticFiles }),
      );
      const text = new TextDecoder().decode(response.bytes);
      const head = text.slice(0, text.indexOf("\r\n\r\n"));
      const lengths = head.split("\r\n").filter((line) =>
        line.toLowerCase().startsWith("content-length:")
      );
      assertEquals(lengths.length, 1, `${target}: ${head}`);
      assertEquals(
        Number(lengths[0]!.split(":")[1]),
        text.length - head.length - 4,
        target,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
