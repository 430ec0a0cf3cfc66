/**
 * Debian's noVNC through `wsgate websockify`, the way noVNC deployments run
 * websockify: `websockify --web /usr/share/novnc PORT 127.0.0.1:VNCPORT` in
 * front of a real desktop (Xvfb + x11vnc), and headless Chromium opening
 * `vnc.html?...&autoconnect=true` until noVNC says "Connected". Then the
 * same through `--token-plugin TokenFile` and through `TokenRedis` on a
 * redis-server the test starts. Skipped only when a package is missing and
 * `CI` is unset.
 *
 * @module
 */

import { assert } from "../_util/assert.ts";
import { chromiumSkipReason, launchChromium } from "../_util/chromium.ts";
import {
  NOVNC_DIR,
  startVncDesktop,
  vncSkipReason,
} from "../_util/vnc_desktop.ts";
import { spawnWsgate } from "../_util/wsgate_process.ts";
import { startRedisServer } from "../_util/redis_server.ts";
import { RedisClient } from "../../src/store/redis_client.ts";
import { parseStoreUrl } from "../../src/store/store_url.ts";

const SKIP_REASON = vncSkipReason() ?? chromiumSkipReason();
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);
const CONNECT_TIMEOUT_MS = 30000;

/** noVNC's status line; it keeps its text after fading out. */
const STATUS_TEXT =
  `document.getElementById("noVNC_status")?.textContent ?? ""`;

/**
 * Opens noVNC from `port` (the gateway serves the page and the WebSocket)
 * with `query` added, and waits until noVNC reports the connection.
 */
async function connectNoVnc(
  port: number,
  query: Record<string, string>,
  screenshotName: string,
): Promise<string> {
  await using browser = await launchChromium({ timeoutMs: 20000 });
  const params = new URLSearchParams({
    host: "127.0.0.1",
    port: String(port),
    autoconnect: "true",
    ...query,
  });
  await using page = await browser.newPage(
    `http://127.0.0.1:${port}/vnc.html?${params}`,
  );
  try {
    await page.waitFor(
      `(${STATUS_TEXT}).startsWith("Connected") && document.documentElement.classList.contains("noVNC_connected")`,
      { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 100 },
    );
  } catch (error) {
    const status = await page.evaluate<string>(STATUS_TEXT).catch(() => "?");
    throw new Error(
      `noVNC did not connect (status: "${status}"): ${
        (error as Error).message
      }\nchromium:\n${browser.stderrTail()}`,
    );
  } finally {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot(new URL(screenshotName, ARTIFACTS)).catch(() => {});
  }
  return await page.evaluate<string>(STATUS_TEXT);
}

Deno.test({
  name:
    "noVNC from Debian's novnc reaches Connected through wsgate websockify --web, directly, through TokenFile and through TokenRedis" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn(t) {
    await using desktop = await startVncDesktop();
    await t.step("websockify --web DIR PORT host:port", async () => {
      await using wsgate = spawnWsgate([
        "websockify",
        "--web",
        NOVNC_DIR,
        "127.0.0.1:0",
        `127.0.0.1:${desktop.port}`,
      ]);
      const { port } = await wsgate.listening(15000);
      const status = await connectNoVnc(port, {}, "novnc_direct.png");
      assert(status.includes("wsgate-test"), status);
      await wsgate.waitForLine(
        "stderr",
        (line) => line.includes("session_open"),
        5000,
      );
    });
    await t.step("websockify --token-plugin TokenFile", async () => {
      const dir = await Deno.makeTempDir({ prefix: "wsgate_novnc_" });
      try {
        const tokens = `${dir}/tokens.cfg`;
        await Deno.writeTextFile(
          tokens,
          `desk: 127.0.0.1:${desktop.port}\nother: 127.0.0.1:9\n`,
        );
        await using wsgate = spawnWsgate([
          "websockify",
          "--web",
          NOVNC_DIR,
          "--token-plugin",
          "TokenFile",
          "--token-source",
          tokens,
          "127.0.0.1:0",
        ]);
        const { port } = await wsgate.listening(15000);
        const status = await connectNoVnc(
          port,
          { path: "websockify?token=desk" },
          "novnc_token_file.png",
        );
        assert(status.includes("wsgate-test"), status);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    await t.step("websockify --token-plugin TokenRedis", async () => {
      await using redis = await startRedisServer();
      await using writer = new RedisClient(
        parseStoreUrl(`${redis.url}/1`),
      );
      // websockify's JSON value, under the source's namespace and db.
      await writer.send([
        "SET",
        "vnc:desk",
        JSON.stringify({ host: `127.0.0.1:${desktop.port}` }),
      ]);
      await using wsgate = spawnWsgate([
        "websockify",
        "--web",
        NOVNC_DIR,
        "--token-plugin",
        "TokenRedis",
        "--token-source",
        `127.0.0.1:${redis.port}:1::vnc`,
        "127.0.0.1:0",
      ]);
      const { port } = await wsgate.listening(15000);
      const status = await connectNoVnc(
        port,
        { path: "websockify?token=desk" },
        "novnc_token_redis.png",
      );
      assert(status.includes("wsgate-test"), status);
    });
  },
});
