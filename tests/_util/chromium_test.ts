import assert from "node:assert/strict";
import { chromiumSkipReason, launchChromium } from "./chromium.ts";

const SKIP_REASON = chromiumSkipReason();
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const PAGE_HTML = `<!doctype html>
<html><head><title>chromium_test</title></head>
<body style="background:#fff"><h1>wsgate chromium self-test</h1></body></html>`;

/** Runs in the page: echoes one text and one binary message, then closes. */
const ECHO_SCRIPT = `new Promise((resolve, reject) => {
  const socket = new WebSocket("ws://" + location.host + "/echo");
  socket.binaryType = "arraybuffer";
  const received = [];
  socket.onopen = () => {
    socket.send("hello from chromium");
    socket.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
  };
  socket.onmessage = (event) => {
    received.push(
      typeof event.data === "string"
        ? event.data
        : Array.from(new Uint8Array(event.data)),
    );
    if (received.length === 2) socket.close(1000, "done");
  };
  socket.onerror = () => reject(new Error("page WebSocket error"));
  socket.onclose = (event) => resolve({ code: event.code, received });
})`;

/** A loopback server with an HTML page and a WebSocket echo at /echo. */
function serveEchoPage(): {
  server: Deno.HttpServer<Deno.NetAddr>;
  serverSocketClosed: Promise<void>;
} {
  const serverSocketClosed = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/echo") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => socket.send(event.data);
      socket.onclose = () => serverSocketClosed.resolve();
      return response;
    }
    if (pathname === "/") {
      return new Response(PAGE_HTML, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    return new Response("not found", { status: 404 });
  });
  return { server, serverSocketClosed: serverSocketClosed.promise };
}

Deno.test({
  name: "launchChromium drives a page whose WebSocket echoes text and binary" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn(t) {
    const { server, serverSocketClosed } = serveEchoPage();
    const screenshotPath = await Deno.makeTempFile({ suffix: ".png" });
    try {
      await using browser = await launchChromium();
      const page = await browser.newPage(
        `http://127.0.0.1:${server.addr.port}/`,
      );

      await t.step("newPage loads the served page", async () => {
        assert.equal(await page.evaluate("document.title"), "chromium_test");
      });

      await t.step("evaluate awaits a WebSocket round trip", async () => {
        const result = await page.evaluate<{
          code: number;
          received: unknown[];
        }>(ECHO_SCRIPT);
        assert.equal(result.code, 1000);
        assert.deepEqual(result.received, [
          "hello from chromium",
          [0, 1, 2, 253, 254, 255],
        ]);
        await serverSocketClosed;
      });

      await t.step("evaluate rejects with the page's exception", async () => {
        await assert.rejects(
          page.evaluate("Promise.reject(new RangeError('boom'))"),
          /threw: RangeError: boom/,
        );
        await assert.rejects(page.evaluate("undefinedName"), /ReferenceError/);
      });

      await t.step("waitFor resolves once the condition holds", async () => {
        await page.evaluate(
          "setTimeout(() => { globalThis.isReady = true; }, 50)",
        );
        await page.waitFor("globalThis.isReady === true", { timeoutMs: 3000 });
      });

      await t.step("waitFor rejects when the deadline passes", async () => {
        await assert.rejects(
          page.waitFor("false", { timeoutMs: 100, intervalMs: 20 }),
          /stayed falsy for 100 ms/,
        );
      });

      await t.step("screenshot writes a PNG file", async () => {
        await page.screenshot(screenshotPath);
        const bytes = await Deno.readFile(screenshotPath);
        assert.ok(bytes.length > PNG_SIGNATURE.length);
        assert.deepEqual([...bytes.subarray(0, 8)], PNG_SIGNATURE);
      });

      await t.step("goto rejects a URL that cannot load", async () => {
        // A port that was just free: nothing listens there any more.
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const closedPort = listener.addr.port;
        listener.close();
        await assert.rejects(
          page.goto(`http://127.0.0.1:${closedPort}/`),
          /Cannot navigate to "http:\/\/127\.0\.0\.1:\d+\/": net::ERR_CONNECTION_REFUSED/,
        );
      });

      await page.close();
      await page.close();
    } finally {
      await server.shutdown();
      await Deno.remove(screenshotPath);
    }
  },
});

Deno.test({
  name: "ChromiumBrowser.close stops the process and removes the profile" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const browser = await launchChromium();
    const { pid, profileDir } = browser;
    assert.ok((await Deno.stat(profileDir)).isDirectory);
    await browser.close();
    await browser.close();
    // The process was awaited (reaped), so signalling its pid fails.
    assert.throws(() => Deno.kill(pid, "SIGCONT"));
    await assert.rejects(Deno.stat(profileDir), Deno.errors.NotFound);
    await assert.rejects(browser.newPage("about:blank"), /browser is closed/);
  },
});

Deno.test("launchChromium rejects a missing executable and cleans up", async () => {
  await assert.rejects(
    launchChromium({ executablePath: "/nonexistent/chromium" }),
    /Cannot start Chromium "\/nonexistent\/chromium"/,
  );
});

Deno.test("launchChromium fails fast and cleans up when the browser never listens", async (t) => {
  await t.step("a process that exits early", async () => {
    await assert.rejects(
      launchChromium({ executablePath: "/bin/false", timeoutMs: 5000 }),
      /Cannot launch Chromium "\/bin\/false": it exited with code 1 before listening/,
    );
  });

  await t.step("a process that hangs past timeoutMs", async () => {
    const dir = await Deno.makeTempDir();
    const script = `${dir}/hang.sh`;
    try {
      await Deno.writeTextFile(script, "#!/bin/sh\nexec sleep 30\n");
      await Deno.chmod(script, 0o755);
      const started = performance.now();
      await assert.rejects(
        launchChromium({ executablePath: script, timeoutMs: 200 }),
        /no DevTools URL within 200 ms/,
      );
      assert.ok(performance.now() - started < 5000);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("chromiumSkipReason skips only when chromium is missing outside CI", () => {
  const missing = { executablePath: "/nonexistent/chromium" };
  const ci = Deno.env.get("CI");
  try {
    Deno.env.delete("CI");
    assert.match(chromiumSkipReason(missing) ?? "", /not found/);
    assert.equal(chromiumSkipReason({ executablePath: "/bin/sh" }), undefined);
    Deno.env.set("CI", "true");
    assert.equal(chromiumSkipReason(missing), undefined);
  } finally {
    if (ci === undefined) Deno.env.delete("CI");
    else Deno.env.set("CI", ci);
  }
});
