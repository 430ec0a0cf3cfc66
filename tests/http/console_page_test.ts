import assert from "node:assert/strict";
import {
  consolePage,
  consolePageCsp,
  type ConsoleStats,
} from "../../src/http/console_page.ts";

function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  assert.ok(from >= 0, `missing ${start}`);
  const to = text.indexOf(end, from + start.length);
  assert.ok(to >= 0, `missing ${end}`);
  return text.slice(from + start.length, to);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return new Uint8Array(digest).toBase64();
}

Deno.test("consolePage has the stable ids the browser test relies on", () => {
  const html = consolePage({ routes: ["/vnc", "/telnet"] });
  for (
    const id of [
      "route",
      "query",
      "connect",
      "disconnect",
      "mode",
      "input",
      "send",
      "log",
      "status",
      "error",
      "sessions-open",
      "sessions-label",
      "sessions",
      "chart",
      "stats-status",
    ]
  ) {
    assert.equal(
      html.split(`id="${id}"`).length,
      2,
      `id ${id} must appear once`,
    );
  }
  assert.ok(
    html.includes(
      '<option value="text">text</option><option value="hex">hex</option>',
    ),
  );
  assert.ok(
    html.includes(
      '<option value="/vnc">/vnc</option><option value="/telnet">/telnet</option>',
    ),
  );
  assert.ok(html.includes("<title>wsgate console</title>"));
  assert.ok(html.includes('"frame " + direction'));
  assert.ok(html.includes("entry.dataset.hex"));
});

Deno.test("consolePage escapes route names and the title", () => {
  const html = consolePage({
    routes: ['/x"><script>alert(1)</script>', "/a&b'"],
    title: "<img src=x onerror=alert(2)>",
  });
  assert.equal(html.includes("<script>alert"), false);
  assert.equal(html.includes("<img"), false);
  assert.ok(
    html.includes(
      '<option value="/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</option>',
    ),
  );
  assert.ok(
    html.includes('<option value="/a&amp;b&#39;">/a&amp;b&#39;</option>'),
  );
  assert.ok(html.includes("<title>&lt;img src=x onerror=alert(2)&gt;</title>"));
});

Deno.test("consolePage keeps a hostile stats URL inside its JSON block", () => {
  const statsUrl = "/s</script><script>alert(1)</script>\u2028";
  const html = consolePage({ routes: [], statsUrl, statsIntervalMs: 250 });
  assert.equal(html.split("</script>").length, 3);
  const config = JSON.parse(
    between(
      html,
      '<script type="application/json" id="console-config">',
      "</script>",
    ),
  );
  assert.deepEqual(config, { statsUrl, statsIntervalMs: 250 });
});

Deno.test("consolePage inline script parses as JavaScript", () => {
  const script = between(
    consolePage({ routes: ["/a"] }),
    '<script type="module">',
    "</script>",
  );
  // Compiles without running: a syntax error in the template throws here.
  assert.equal(typeof new Function(script), "function");
});

Deno.test("consolePage rejects a stats interval below 100 ms", () => {
  assert.throws(
    () => consolePage({ routes: [], statsIntervalMs: 10 }),
    RangeError,
  );
  assert.throws(
    () => consolePage({ routes: [], statsIntervalMs: Number.NaN }),
    RangeError,
  );
});

Deno.test("consolePageCsp pins the exact inline script and style of the page", async () => {
  const html = consolePage({ routes: ["/vnc"], title: "other" });
  const script = between(html, '<script type="module">', "</script>");
  const style = between(html, "<style>", "</style>");
  const csp = await consolePageCsp();
  assert.ok(csp.includes(`script-src 'sha256-${await sha256(script)}'`), csp);
  assert.ok(csp.includes(`style-src 'sha256-${await sha256(style)}'`), csp);
  assert.ok(csp.startsWith("default-src 'none'; "));
  assert.ok(csp.includes("connect-src 'self'"));
});

Deno.test("ConsoleStats describes the stats endpoint body", () => {
  const stats: ConsoleStats = {
    sessionsOpen: 1,
    bytesToBackend: 10,
    bytesToBrowser: 20,
    sessions: [{
      id: "s1",
      route: "/vnc",
      client: "127.0.0.1:5000",
      openedAtMs: 0,
      bytesToBackend: 10,
      bytesToBrowser: 20,
    }],
  };
  assert.deepEqual(JSON.parse(JSON.stringify(stats)), stats);
});
