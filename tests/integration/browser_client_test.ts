/**
 * Real-browser tests of what the gateway serves to pages: headless Chromium
 * (tests/_util/chromium.ts) loads a same-origin page from the gateway's
 * `staticDir` that imports `/wsgate-client.js` and survives a backend crash
 * by reconnecting, and drives the console at `/_console` to send a hex
 * frame. The console screenshot goes to test-artifacts/ (git-ignored).
 * Skipped only when Chromium is missing and CI is unset, like
 * tests/_util/chromium_test.ts.
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import {
  startBackend,
  type TestBackend,
  u32beFrame,
  unusedPort,
  writeAll,
} from "../_util/backends.ts";
import { chromiumSkipReason, launchChromium } from "../_util/chromium.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";

const SKIP_REASON = chromiumSkipReason();
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The page under test: it imports the client module from the gateway and
 * records every client event in `globalThis.seen` (`established` as a
 * count). When `queueOnClose` is set, the close listener sends it while the
 * client is disconnected, so it lands in the client's queue
 * deterministically; when `sendOnOpen` is set, every open sends it.
 */
const CLIENT_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>wsgate client page</title></head>
<body style="background:#fff;font:14px monospace">
<h1>wsgate-client.js in Chromium</h1><pre id="log"></pre>
<script type="module">
import { WsgateClient } from "/wsgate-client.js";
const log = (text) => { document.getElementById("log").textContent += text + "\\n"; };
const seen = { events: [], messages: [], queuedSendResult: null, established: 0 };
globalThis.seen = seen;
globalThis.queueOnClose = null;
globalThis.sendOnOpen = null;
globalThis.start = (route, options = {}) => {
  const client = new WsgateClient(route, { initialDelayMs: 40, random: () => 0.5, ...options });
  globalThis.client = client;
  client.addEventListener("open", () => {
    seen.events.push({ type: "open" });
    log("open");
    if (globalThis.sendOnOpen !== null) client.send(globalThis.sendOnOpen);
  });
  client.addEventListener("established", () => { seen.established++; log("established"); });
  client.addEventListener("message", (event) => {
    const text = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
    seen.messages.push(text);
    log("<- " + text);
  });
  client.addEventListener("close", (event) => {
    seen.events.push({ type: "close", code: event.code, willReconnect: event.willReconnect, state: client.readyState });
    log("close " + event.code + " " + event.reason + (event.willReconnect ? " (will reconnect)" : ""));
    if (event.willReconnect && globalThis.queueOnClose !== null) {
      seen.queuedSendResult = client.send(globalThis.queueOnClose);
      seen.queuedMessages = client.queuedMessages;
      globalThis.queueOnClose = null;
    }
  });
  client.addEventListener("reconnect", (event) => {
    seen.events.push({ type: "reconnect", attempt: event.attempt, delayMs: event.delayMs });
    log("reconnect " + event.attempt + " in " + event.delayMs + " ms");
  });
  return client.url;
};
globalThis.ready = true;
</script></body></html>`;

/** How the controllable backend ends its connections. */
type KillMode = "mid-frame" | "clean";

/** A u32be echo backend whose live connections the test can end at will. */
interface ControllableBackend extends TestBackend {
  /** The payloads each connection received, in accept order. */
  readonly payloads: string[][];
  /**
   * Ends every live connection: `mid-frame` writes half a frame header
   * first (a crash mid-write: the gateway closes with 1011), `clean` just
   * sends FIN (the gateway closes with 1000).
   */
  killAll(mode: KillMode): Promise<void>;
}

function startControllableBackend(): ControllableBackend {
  const live = new Set<Deno.TcpConn>();
  const payloads: string[][] = [];
  const backend = startBackend(async (conn) => {
    live.add(conn);
    const mine: string[] = [];
    payloads.push(mine);
    let pending = new Uint8Array(0);
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) return;
        const joined = new Uint8Array(pending.length + count);
        joined.set(pending);
        joined.set(buffer.subarray(0, count), pending.length);
        let at = 0;
        while (joined.length - at >= 4) {
          const length = new DataView(joined.buffer, at, 4).getUint32(0);
          if (joined.length - at - 4 < length) break;
          const payload = joined.slice(at + 4, at + 4 + length);
          mine.push(new TextDecoder().decode(payload));
          if (live.has(conn)) await writeAll(conn, u32beFrame(payload));
          at += 4 + length;
        }
        pending = joined.slice(at);
      }
    } finally {
      live.delete(conn);
    }
  });
  return Object.assign(backend, {
    payloads,
    async killAll(mode: KillMode) {
      const conns = [...live];
      live.clear();
      for (const conn of conns) {
        // Half-close: the handler keeps reading until the gateway closes.
        if (mode === "mid-frame") await writeAll(conn, Uint8Array.of(0, 0));
        await conn.closeWrite();
      }
    },
  });
}

interface SeenEvent {
  type: "open" | "close" | "reconnect";
  code?: number;
  willReconnect?: boolean;
  state?: string;
  attempt?: number;
  delayMs?: number;
}

interface Seen {
  events: SeenEvent[];
  established: number;
  messages: string[];
  queuedSendResult: boolean | null;
  queuedMessages?: number;
}

Deno.test({
  name:
    "wsgate-client.js in Chromium reconnects after the backend dies and delivers what was queued meanwhile" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wsgate_client_page_" });
    try {
      await Deno.writeTextFile(`${dir}/index.html`, CLIENT_PAGE);
      await using backend = startControllableBackend();
      await using gateway = await startGateway({
        staticDir: dir,
        routes: [{ path: "/echo", target: backend.target }],
      });
      await using browser = await launchChromium();
      // Same origin as the WebSocket, so the default origin policy admits it.
      await using page = await browser.newPage(
        `http://127.0.0.1:${gateway.port}/`,
      );
      await page.waitFor("globalThis.ready === true");
      const seen = () => page.evaluate<Seen>("globalThis.seen");

      assertEquals(
        await page.evaluate("start('/echo')"),
        `ws://127.0.0.1:${gateway.port}/echo`,
      );
      await page.waitFor(
        `seen.events.filter((e) => e.type === "open").length === 1`,
      );
      await page.evaluate(`client.send("before the crash")`);
      await page.waitFor(`seen.messages.includes("before the crash")`);

      // The backend crashes mid-frame: the gateway closes with 1011 and the
      // client, by its default policy, reconnects. The page's close listener
      // sends while disconnected, which queues.
      await page.evaluate(`globalThis.queueOnClose = "queued while down"`);
      await backend.killAll("mid-frame");
      await page.waitFor(
        `seen.events.filter((e) => e.type === "open").length === 2`,
      );
      await page.waitFor(`seen.messages.includes("queued while down")`);
      await page.evaluate(`client.send("after reconnect")`);
      await page.waitFor(`seen.messages.includes("after reconnect")`);

      const afterCrash = await seen();
      assertEquals(afterCrash.events, [
        { type: "open" },
        {
          type: "close",
          code: 1011,
          willReconnect: true,
          state: "reconnecting",
        },
        { type: "reconnect", attempt: 1, delayMs: 30 },
        { type: "open" },
      ]);
      assertEquals(afterCrash.queuedSendResult, false);
      assertEquals(afterCrash.queuedMessages, 1);
      assertEquals(afterCrash.messages, [
        "before the crash",
        "queued while down",
        "after reconnect",
      ]);
      assertEquals(backend.payloads, [
        ["before the crash"],
        ["queued while down", "after reconnect"],
      ]);
      const crashed = await within(gateway.nextClose(), 5000, "session_close");
      assertEquals([crashed.code, crashed.route], [1011, "/echo"]);
      assertEquals([crashed.bytesToBackend, crashed.bytesToBrowser], [16, 16]);

      // A clean backend end is 1000, which the default policy does not retry.
      await backend.killAll("clean");
      await page.waitFor(`client.readyState === "closed"`);
      const final = await seen();
      assertEquals(final.events.slice(4), [
        { type: "close", code: 1000, willReconnect: false, state: "closed" },
      ]);
      const ended = await within(gateway.nextClose(), 5000, "session_close");
      assertEquals(ended.code, 1000);
      assertEquals(backend.accepted, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Starts a u32be echo backend as a separate Deno process listening on
 * `port` (the bytes come back as they are, frames included) and resolves
 * once it printed that it listens.
 */
async function spawnEchoProcess(port: number): Promise<AsyncDisposable> {
  const script = `
    const listener = Deno.listen({ hostname: "127.0.0.1", port: ${port} });
    console.log("listening");
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(65536);
        try {
          for (;;) {
            const count = await conn.read(buffer);
            if (count === null) break;
            let written = 0;
            while (written < count) {
              written += await conn.write(buffer.subarray(written, count));
            }
          }
        } catch { /* the gateway went away */ }
        conn.close();
      })();
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let output = "";
  while (!output.includes("listening\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`echo process exited early: ${output}`);
    output += value;
  }
  return {
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
    },
  };
}

Deno.test({
  name:
    "wsgate-client.js in Chromium backs off with growing delays while the backend is down and recovers when a backend process starts" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "wsgate_client_page_" });
    try {
      await Deno.writeTextFile(`${dir}/index.html`, CLIENT_PAGE);
      const port = unusedPort();
      await using gateway = await startGateway({
        staticDir: dir,
        routes: [{ path: "/down", target: `127.0.0.1:${port}` }],
      });
      await using browser = await launchChromium();
      await using page = await browser.newPage(
        `http://127.0.0.1:${gateway.port}/`,
      );
      await page.waitFor("globalThis.ready === true");
      await page.evaluate(`globalThis.sendOnOpen = "hello again"`);
      await page.evaluate(
        "start('/down', { initialDelayMs: 20, maxDelayMs: 400, random: Math.random })",
      );
      // Before the fix every attempt was attempt 1 with a delay below
      // initialDelayMs: the gateway upgrades, so each try looked "open".
      await page.waitFor(
        `seen.events.filter((e) => e.type === "reconnect").length >= 5`,
      );
      const down = await page.evaluate<Seen>("globalThis.seen");
      const reconnects = down.events.filter((e) => e.type === "reconnect")
        .slice(0, 5);
      assertEquals(reconnects.map((e) => e.attempt), [1, 2, 3, 4, 5]);
      const delays = reconnects.map((e) => e.delayMs!);
      for (const [i, delay] of delays.entries()) {
        const cap = Math.min(400, 20 * 2 ** i);
        assert(
          delay >= cap / 2 && delay < cap,
          `attempt ${i + 1}: ${delays.join(", ")} ms`,
        );
        if (i > 0) assert(delay > delays[i - 1]!, delays.join(", "));
      }
      const closes = down.events.filter((e) => e.type === "close");
      assert(closes.length >= 5);
      assertEquals(new Set(closes.map((e) => e.code)), new Set([1011]));
      assert(down.events.some((e) => e.type === "open"), "never upgraded");
      assertEquals(down.established, 0);
      const refused = await within(gateway.nextClose(), 5000, "session_close");
      assertEquals([refused.route, refused.code], ["/down", 1011]);

      // A real backend process comes up on the route's port: the next
      // attempt is established by the echo and the count starts again.
      await using _echo = await spawnEchoProcess(port);
      await page.waitFor("seen.established === 1", { timeoutMs: 10000 });
      await page.waitFor(`seen.messages.includes("hello again")`);
      assertEquals(
        await page.evaluate(
          "[client.readyState, client.attempt, client.isEstablished]",
        ),
        ["open", 0, true],
      );
      await page.evaluate(`client.send("still here")`);
      await page.waitFor(`seen.messages.includes("still here")`);
      await page.evaluate("client.close()");
      await page.waitFor(`client.readyState === "closed"`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "wsgate console page connects to a chosen route, sends a hex frame and logs the reply" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using backend = startU32beBackend({
      reply: (payload) => payload.slice().reverse(),
    });
    await using gateway = await startGateway({
      routes: [
        { path: "/first", target: backend.target },
        { path: "/hex", target: backend.target },
      ],
    });
    await using browser = await launchChromium();
    await using page = await browser.newPage(
      `http://127.0.0.1:${gateway.port}/_console`,
    );
    assertEquals(await page.evaluate("document.title"), "wsgate console");
    assertEquals(
      await page.evaluate(
        `[...document.querySelectorAll("#route option")].map((o) => o.value)`,
      ),
      ["/first", "/hex"],
    );
    await page.evaluate(`(() => {
      const route = document.getElementById("route");
      route.value = "/hex";
      route.dispatchEvent(new Event("change"));
      document.getElementById("connect").click();
    })()`);
    await page.waitFor(
      `document.getElementById("status").textContent === "open"`,
    );
    await page.evaluate(`(() => {
      const mode = document.getElementById("mode");
      mode.value = "hex";
      mode.dispatchEvent(new Event("change"));
      const input = document.getElementById("input");
      input.focus();
      document.execCommand("insertText", false, "de ad be ef 00 01");
      document.getElementById("send").click();
    })()`);
    await page.waitFor(
      `document.querySelector('#log .frame.in[data-hex="0100efbeadde"]') !== null`,
    );
    assertEquals(
      await page.evaluate(
        `[...document.querySelectorAll("#log .frame")].map((f) => [f.className, f.dataset.hex, f.dataset.size])`,
      ),
      [
        ["frame out", "deadbeef0001", "6"],
        ["frame in", "0100efbeadde", "6"],
      ],
    );
    assertEquals(
      await page.evaluate(`document.getElementById("error").textContent`),
      "",
    );
    // The stats poll (same origin, allowed by the page's CSP) sees the session.
    await page.waitFor(
      `document.getElementById("sessions-open").textContent === "1"`,
    );
    assertEquals(backend.connections.length, 1);
    assertEquals(backend.connections[0]!.payloads, [
      Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x00, 0x01),
    ]);

    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const screenshot = new URL("console.png", ARTIFACTS);
    await page.screenshot(screenshot);
    const png = await Deno.readFile(screenshot);
    assert(png.length > PNG_SIGNATURE.length);
    assertEquals([...png.subarray(0, 8)], PNG_SIGNATURE);

    await page.evaluate(`document.getElementById("disconnect").click()`);
    await page.waitFor(
      `document.getElementById("status").textContent === "closed 1000 closed by console"`,
    );
    const close = await within(gateway.nextClose(), 5000, "session_close");
    assertEquals([close.route, close.code], ["/hex", 1000]);
    assertEquals([close.bytesToBackend, close.bytesToBrowser], [6, 6]);
  },
});
