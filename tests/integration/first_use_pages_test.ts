/**
 * The two pages a new user meets first, in headless Chromium
 * (tests/_util/chromium.ts): the demo page shows each message's TCP frame
 * in hex, and the console clears its input after Send, takes a query
 * (`token=...`), says "1 session open", and draws both throughput lines.
 * Screenshots go to test-artifacts/ (git-ignored). Skipped only when
 * Chromium is missing and CI is unset, like tests/_util/chromium_test.ts.
 */

import { assert, assertEquals } from "../_util/assert.ts";
import { concat, startEchoBackend } from "../_util/backends.ts";
import { chromiumSkipReason, launchChromium } from "../_util/chromium.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";

const SKIP_REASON = chromiumSkipReason();
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** Types `text` into the page's `#input` as a user would, then clicks Send. */
function typeAndSend(text: string): string {
  return `(() => {
    const input = document.getElementById("input");
    input.focus();
    document.execCommand("insertText", false, ${JSON.stringify(text)});
    document.getElementById("send").click();
  })()`;
}

async function screenshot(
  page: { screenshot(path: URL): Promise<void> },
  name: string,
): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const file = new URL(name, ARTIFACTS);
  await page.screenshot(file);
  const png = await Deno.readFile(file);
  assertEquals([...png.subarray(0, 8)], PNG_SIGNATURE);
}

// Issue 18: the demo page never showed the bytes on the wire, which is what
// wsgate does (one length-prefixed TCP frame per WebSocket message).
Deno.test({
  name:
    "wsgate demo page shows beside each message the u32be TCP frame the backend got or sent, in hex" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using backend = startU32beBackend({
      reply: (payload) =>
        new TextEncoder().encode(
          new TextDecoder().decode(payload).toUpperCase(),
        ),
    });
    await using gateway = await startGateway({
      demoPage: true,
      routes: [{ path: "/echo", target: backend.target }],
    });
    await using browser = await launchChromium();
    await using page = await browser.newPage(
      `http://127.0.0.1:${gateway.port}/`,
    );
    await page.waitFor(
      `document.getElementById("status").textContent === "open"`,
    );
    await page.evaluate(typeAndSend("héllo"));
    await page.waitFor(`document.querySelector("#log .msg.in") !== null`);
    const rows = await page.evaluate<string[][]>(
      `[...document.querySelectorAll("#log .msg")].map((row) => {
        const wire = row.querySelector(".wire");
        return [
          row.className,
          wire.dataset.hex,
          wire.querySelector(".prefix").textContent,
          wire.querySelector(".payload").textContent,
        ];
      })`,
    );
    // "héllo" is 6 bytes of UTF-8: the prefix is 00 00 00 06.
    const sent = concat(backend.connections[0]!.raw);
    assertEquals(hexOf(sent), "0000000668c3a96c6c6f");
    assertEquals(rows, [
      ["msg out", hexOf(sent), "00 00 00 06", "68 c3 a9 6c 6c 6f"],
      ["msg in", "0000000648c3894c4c4f", "00 00 00 06", "48 c3 89 4c 4c 4f"],
    ]);
    assert(
      (await page.evaluate<string>(
        `document.querySelector("#log .msg.in").textContent`,
      )).includes("<- HÉLLO"),
    );
    await screenshot(page, "demo_page_wire.png");
  },
});

/** Counts the chart's pixels near each series' colour (--out, --in). */
const CHART_PIXELS = `(() => {
  const canvas = document.getElementById("chart");
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const near = (i, [r, g, b]) =>
    Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12 &&
    Math.abs(data[i + 2] - b) < 12 && data[i + 3] > 200;
  let out = 0, into = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (near(i, [0x33, 0x77, 0xcc])) out++;
    if (near(i, [0x22, 0xaa, 0x77])) into++;
  }
  return { out, in: into };
})()`;

// Issue 18: the console kept the last input after Send, could not add
// ?token= or ?ticket=, said "1 sessions", and with echo traffic one chart
// line hid under the other.
Deno.test({
  name:
    "wsgate console clears its input after Send, connects with a ?token= query, says 1 session open, and shows both chart lines" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using backend = startEchoBackend();
    const dir = await Deno.makeTempDir({ prefix: "wsgate_console_" });
    try {
      const tokens = `${dir}/tokens`;
      await Deno.writeTextFile(tokens, `abc: ${backend.target}\n`);
      await using gateway = await startGateway({
        routes: [
          { path: "/plain", target: backend.target },
          { path: "/by-token", tokens },
        ],
      });
      await using browser = await launchChromium();
      // The console's own query fills the query field.
      await using page = await browser.newPage(
        `http://127.0.0.1:${gateway.port}/_console?token=abc`,
      );
      assertEquals(
        await page.evaluate(`document.getElementById("query").value`),
        "token=abc",
      );
      await page.evaluate(`(() => {
        const route = document.getElementById("route");
        route.value = "/by-token";
        route.dispatchEvent(new Event("change"));
        document.getElementById("connect").click();
      })()`);
      await page.waitFor(
        `document.getElementById("status").textContent === "open"`,
      );
      await page.evaluate(typeAndSend("hello"));
      await page.waitFor(`document.querySelector("#log .frame.in") !== null`);
      assertEquals(
        await page.evaluate(`document.getElementById("input").value`),
        "",
      );
      await page.waitFor(
        `document.getElementById("sessions-open").textContent === "1"`,
      );
      assertEquals(
        await page.evaluate(
          `document.getElementById("sessions-label").textContent`,
        ),
        "session open",
      );
      // Echo traffic: equal rates both ways, the two lines on one path.
      for (let i = 0; i < 5; i++) {
        await page.evaluate(typeAndSend(`message ${i}`));
      }
      await page.waitFor(
        `(() => { const p = ${CHART_PIXELS}; return p.out > 20 && p.in > 20; })()`,
        { timeoutMs: 10_000 },
      );
      await screenshot(page, "console_first_use.png");
      await page.evaluate(
        `document.getElementById("chart").scrollIntoView({ block: "center" })`,
      );
      await screenshot(page, "console_chart.png");
      const open = gateway.events.find((event) =>
        event.type === "session_open"
      );
      assert(open?.type === "session_open" && open.route === "/by-token");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
