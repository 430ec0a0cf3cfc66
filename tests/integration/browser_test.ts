/**
 * Real-browser tests: headless Chromium (tests/_util/chromium.ts) opens
 * WebSockets through an in-process wsgate to loopback TCP backends, and
 * drives the demo page. Screenshots go to test-artifacts/ (git-ignored).
 * Skipped only when Chromium is missing and CI is unset, like
 * tests/_util/chromium_test.ts.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import { concat, u32beFrame, unusedPort } from "../_util/backends.ts";
import { chromiumSkipReason, launchChromium } from "../_util/chromium.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { utf8 } from "../_util/web_socket_client.ts";
import { startDemoBackend } from "../../src/demo/demo_backend.ts";

const SKIP_REASON = chromiumSkipReason();
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const BIG_LENGTH = 70_000;

/** The same bytes the page builds: `(i * 31 + 7) & 255`. */
function bigPattern(): Uint8Array {
  return Uint8Array.from({ length: BIG_LENGTH }, (_, i) => (i * 31 + 7) & 255);
}

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>wsgate browser_test</title></head>
<body style="background:#fff;font:14px monospace">
<h1>wsgate browser_test</h1><pre id="log"></pre>
<script>
const log = (text) => { document.getElementById("log").textContent += text + "\\n"; };
/** Opens url, sends every message, waits for count replies, then closes. */
globalThis.roundTrip = (url, messages, count) => new Promise((resolve, reject) => {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const received = [];
  socket.onopen = () => {
    log("open " + url);
    for (const message of messages) socket.send(message);
    if (count === 0) socket.close(1000, "done");
  };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      received.push({ text: event.data });
    } else {
      const bytes = new Uint8Array(event.data);
      let sum = 0;
      for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
      received.push({ length: bytes.length, sum, head: Array.from(bytes.subarray(0, 8)) });
    }
    log("<- message " + received.length);
    if (received.length === count) socket.close(1000, "done");
  };
  socket.onerror = () => log("error on " + url);
  socket.onclose = (event) => {
    log("closed " + event.code + " " + event.reason);
    resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean, received });
  };
});
/** Opens url offering protocols, echoes one message, reports what was chosen. */
globalThis.protocolTrip = (url, protocols) => new Promise((resolve) => {
  const socket = new WebSocket(url, protocols);
  let protocol = null;
  let echoed = null;
  socket.onopen = () => { protocol = socket.protocol; socket.send("hi " + protocol); };
  socket.onmessage = (event) => {
    echoed = typeof event.data === "string" ? event.data : "binary";
    socket.close(1000, "done");
  };
  socket.onclose = (event) => resolve({ protocol, echoed, code: event.code });
});
globalThis.bigPattern = () => Uint8Array.from({ length: ${BIG_LENGTH} }, (_, i) => (i * 31 + 7) & 255);
</script></body></html>`;

/** The page's checksum of a binary message. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
  return sum;
}

interface PageResult {
  code: number;
  reason: string;
  wasClean: boolean;
  received:
    ({ text: string } | { length: number; sum: number; head: number[] })[];
}

function servePage(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (
    request,
  ) => {
    if (new URL(request.url).pathname !== "/") {
      return new Response("not found", { status: 404 });
    }
    return new Response(PAGE_HTML, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  });
}

Deno.test({
  name:
    "wsgate relays a Chromium page's text and binary messages to a TCP backend" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using server = servePage();
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      // The page comes from another port, so its origin must be allowed.
      allowOrigins: [`http://127.0.0.1:${server.addr.port}`],
      routes: [
        { path: "/bin", target: backend.target, framing: "u32be" },
        { path: "/text", target: backend.target, framing: "u32be,text" },
        { path: "/down", target: `127.0.0.1:${unusedPort()}` },
      ],
    });
    await using browser = await launchChromium();
    await using page = await browser.newPage(
      `http://127.0.0.1:${server.addr.port}/`,
    );
    const ws = `ws://127.0.0.1:${gateway.port}`;

    const binary = await page.evaluate<PageResult>(
      `roundTrip(${JSON.stringify(`${ws}/bin`)}, [
        "hello from chromium",
        new Uint8Array([0, 1, 2, 253, 254, 255]),
        bigPattern(),
        new Uint8Array(0),
      ], 4)`,
    );
    const big = bigPattern();
    assertEquals(binary, {
      code: 1000,
      reason: "done",
      wasClean: true,
      received: [
        {
          length: 19,
          sum: checksum(utf8("hello from chromium")),
          head: [...utf8("hello fr")],
        },
        {
          length: 6,
          sum: checksum(new Uint8Array([0, 1, 2, 253, 254, 255])),
          head: [0, 1, 2, 253, 254, 255],
        },
        {
          length: BIG_LENGTH,
          sum: checksum(big),
          head: [...big.subarray(0, 8)],
        },
        { length: 0, sum: 0, head: [] },
      ],
    });

    const text = await page.evaluate<PageResult>(
      `roundTrip(${
        JSON.stringify(`${ws}/text`)
      }, ["h\u00e9llo \u20ac \u{1f600}", ""], 2)`,
    );
    assertEquals(text.received, [{ text: "h\u00e9llo \u20ac \u{1f600}" }, {
      text: "",
    }]);
    assertEquals(text.code, 1000);

    // A browser never sees the HTTP status of a failed upgrade, so wsgate
    // upgrades and closes with 1011 and a reason the page can read.
    const down = await page.evaluate<PageResult>(
      `roundTrip(${JSON.stringify(`${ws}/down`)}, [], -1)`,
    );
    assertEquals(down.code, 1011);
    assert(down.reason.includes("unreachable"), `reason: "${down.reason}"`);

    // The backend received exactly the u32be frames of what the page sent.
    assertEquals(backend.connections.length, 2);
    const [binLog, textLog] = backend.connections;
    await within(
      Promise.all([binLog!.ended, textLog!.ended]),
      5000,
      "backend EOF",
    );
    const expected = concat([
      u32beFrame(utf8("hello from chromium")),
      u32beFrame(new Uint8Array([0, 1, 2, 253, 254, 255])),
      u32beFrame(big),
      u32beFrame(new Uint8Array(0)),
    ]);
    assertEquals(concat(binLog!.raw), expected);
    assertEquals(
      concat(textLog!.raw),
      concat([
        u32beFrame(utf8("h\u00e9llo \u20ac \u{1f600}")),
        u32beFrame(new Uint8Array(0)),
      ]),
    );

    await page.waitFor(
      `document.getElementById("log").textContent.includes("closed 1011")`,
    );
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot(new URL("browser_round_trip.png", ARTIFACTS));
  },
});

Deno.test({
  name: "wsgate demo page sends typed text and shows the uppercased reply" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const demoBackend = startDemoBackend();
    try {
      await using gateway = await startGateway({
        demoPage: true,
        routes: [{
          path: "/echo",
          target: `127.0.0.1:${demoBackend.addr.port}`,
        }],
      });
      const health = await fetch(`http://127.0.0.1:${gateway.port}/healthz`);
      assertEquals([health.status, await health.text()], [200, "ok\n"]);

      await using browser = await launchChromium();
      await using page = await browser.newPage(
        `http://127.0.0.1:${gateway.port}/`,
      );
      assertEquals(await page.evaluate("document.title"), "wsgate demo");
      await page.waitFor(
        `document.getElementById("status").textContent === "open"`,
      );
      await page.evaluate(`(() => {
        const input = document.getElementById("input");
        input.focus();
        document.execCommand("insertText", false, "hello from the demo page");
        document.getElementById("send").click();
      })()`);
      await page.waitFor(
        `document.getElementById("log").textContent.includes("<- HELLO FROM THE DEMO PAGE")`,
      );
      assertEquals(
        await page.evaluate(`document.getElementById("input").value`),
        "",
      );
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot(new URL("demo_page.png", ARTIFACTS));
      await page.close();
      // Closing the tab closes its WebSocket; the session ends cleanly.
      const close = await within(gateway.nextClose(), 5000, "session_close");
      assertEquals(close.route, "/echo");
      assertEquals(
        [close.bytesToBackend, close.bytesToBrowser],
        [24, 24],
      );
    } finally {
      await demoBackend.close();
    }
  },
});

Deno.test({
  name:
    "wsgate answers Chromium's binary and mqtt offers on a route without subprotocols, and the session relays" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    // Regression: such a route refused every offer with 400, which Chromium
    // reports only as 1006, so websockify-era pages and mqtt.js failed.
    await using server = servePage();
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      allowOrigins: [`http://127.0.0.1:${server.addr.port}`],
      routes: [{ path: "/t", target: backend.target, framing: "u32be,text" }],
    });
    await using browser = await launchChromium();
    await using page = await browser.newPage(
      `http://127.0.0.1:${server.addr.port}/`,
    );
    const url = JSON.stringify(`ws://127.0.0.1:${gateway.port}/t`);
    const cases: [string[], string][] = [
      [["binary"], "binary"],
      [["mqtt"], "mqtt"],
      [["base64", "binary"], "binary"],
    ];
    for (const [offered, expected] of cases) {
      const result = await page.evaluate<
        { protocol: string | null; echoed: string | null; code: number }
      >(`protocolTrip(${url}, ${JSON.stringify(offered)})`);
      assertEquals(result, {
        protocol: expected,
        echoed: `hi ${expected}`,
        code: 1000,
      }, `offered ${offered.join(", ")}`);
    }
  },
});
