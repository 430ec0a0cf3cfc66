/**
 * The built-in web console served at `/_console`: one self-contained HTML
 * page (inline CSS and JavaScript, no external resources) to pick a route,
 * connect, send text or hex, watch every frame with timestamps in hex and
 * text, see close codes and reasons, and follow the gateway's sessions and
 * throughput (polled from `/_console/stats`, see {@linkcode ConsoleStats}).
 *
 * Stable element ids for tests: `#route`, `#query` (appended to the URL,
 * for `token=...` or `ticket=...`; filled from the page's own query),
 * `#connect`, `#disconnect`, `#mode` (`text` or `hex`), `#input` (emptied
 * after each send), `#send`, `#log` (each frame a `.frame.in` or `.frame.out`
 * element with `data-hex`), `#status` (`idle`, `connecting`, `open`, or
 * `closed CODE REASON`), `#error`, `#sessions-open` (the count) and
 * `#sessions-label` (`session open` or `sessions open`), `#sessions`,
 * `#chart` (to backend solid, to browser dashed on top, so equal rates show
 * both), `#stats-status`.
 *
 * The script and style are constant; per-page data travels in a JSON block,
 * so {@linkcode consolePageCsp} can pin both with hashes.
 *
 * @module
 */

/** One open session in {@linkcode ConsoleStats}. */
export interface ConsoleSessionStats {
  /** The session id. */
  id: string;
  /** The route of the session. */
  route: string;
  /** The browser's address as `host:port`. */
  client: string;
  /** When the session opened, in milliseconds since the Unix epoch. */
  openedAtMs: number;
  /** Payload bytes relayed from browser to backend so far. */
  bytesToBackend: number;
  /** Payload bytes relayed from backend to browser so far. */
  bytesToBrowser: number;
}

/** The JSON body of `GET /_console/stats`. */
export interface ConsoleStats {
  /** Sessions open now. */
  sessionsOpen: number;
  /** Payload bytes relayed from browsers to backends since start. */
  bytesToBackend: number;
  /** Payload bytes relayed from backends to browsers since start. */
  bytesToBrowser: number;
  /** The open sessions. */
  sessions: ConsoleSessionStats[];
}

/** Options of {@linkcode consolePage}. */
export interface ConsolePageOptions {
  /** The routes offered in `#route`, for example `["/vnc", "/telnet"]`. */
  routes: readonly string[];
  /**
   * The page title.
   * @default {"wsgate console"}
   */
  title?: string;
  /**
   * Where the page polls {@linkcode ConsoleStats} from.
   * @default {"/_console/stats"}
   */
  statsUrl?: string;
  /**
   * How often the page polls the stats, in milliseconds.
   * @default {1000}
   */
  statsIntervalMs?: number;
}

const STYLE = `
:root { color-scheme: light dark; --in: #2a7; --out: #37c; --muted: #888; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em; border-bottom: 1px solid #8884; }
h1 { font-size: 1.2em; margin: 0; }
h2 { font-size: 1em; margin: .5em 0; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em; padding: 1em; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
.row { display: flex; gap: .5em; align-items: center; flex-wrap: wrap; margin-bottom: .5em; }
#input { flex: 1; min-width: 12em; font-family: ui-monospace, monospace; }
#query { width: 14em; font-family: ui-monospace, monospace; }
#status { font-family: ui-monospace, monospace; }
#status[data-state="open"] { color: var(--in); }
#status[data-state="closed"] { color: #c33; }
#error { color: #c33; }
#log { height: 60vh; overflow: auto; border: 1px solid #8884; font: 12px/1.35 ui-monospace, monospace; }
.frame, .note { display: grid; grid-template-columns: 7.5em 1.5em 5em minmax(0, 1fr) minmax(0, 14em); gap: .5em; padding: 1px .5em; border-bottom: 1px solid #8882; }
.note { grid-template-columns: 7.5em 1fr; color: var(--muted); }
.frame.in .dir { color: var(--in); }
.frame.out .dir { color: var(--out); }
.hex, .text { white-space: pre-wrap; word-break: break-all; }
.text { color: var(--muted); }
.size { text-align: right; }
canvas { width: 100%; height: 120px; border: 1px solid #8884; }
table { width: 100%; border-collapse: collapse; font-size: 12px; }
th, td { text-align: left; padding: 2px 4px; border-bottom: 1px solid #8883; }
.legend-in { color: var(--in); } .legend-out { color: var(--out); }
.legend-in::before { content: "- - "; } .legend-out::before { content: "\\2014  "; }
`;

const SCRIPT = `
"use strict";
const config = JSON.parse(document.getElementById("console-config").textContent);
const $ = (id) => document.getElementById(id);
const routeSelect = $("route"), connectButton = $("connect"), disconnectButton = $("disconnect");
const modeSelect = $("mode"), input = $("input"), sendButton = $("send"), log = $("log");
const statusLine = $("status"), errorLine = $("error"), queryInput = $("query");
queryInput.value = location.search.replace(/^\\?/, "");
const MAX_LOG_ENTRIES = 1000, MAX_SHOWN_BYTES = 512, MAX_DATA_HEX_BYTES = 65536;
const encoder = new TextEncoder();
let socket = null;

function clock() {
  const now = new Date();
  return now.toTimeString().slice(0, 8) + "." + String(now.getMilliseconds()).padStart(3, "0");
}
function toHex(bytes, limit) {
  let out = "";
  const end = Math.min(bytes.length, limit);
  for (let i = 0; i < end; i++) out += bytes[i].toString(16).padStart(2, "0");
  return out;
}
function spaced(hex) { return hex.replace(/(..)(?!$)/g, "$1 "); }
function printable(bytes, limit) {
  let out = "";
  const end = Math.min(bytes.length, limit);
  for (let i = 0; i < end; i++) out += bytes[i] >= 32 && bytes[i] < 127 ? String.fromCharCode(bytes[i]) : ".";
  return out;
}
function sizeText(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}
function cell(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}
function append(entry) {
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(entry);
  while (log.childElementCount > MAX_LOG_ENTRIES) log.firstElementChild.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
}
function note(text) {
  const entry = document.createElement("div");
  entry.className = "note";
  entry.append(cell("time", clock()), cell("message", text));
  append(entry);
}
function logFrame(direction, payload) {
  const isText = typeof payload === "string";
  const bytes = isText ? encoder.encode(payload) : payload;
  const entry = document.createElement("div");
  entry.className = "frame " + direction;
  entry.dataset.type = isText ? "text" : "binary";
  entry.dataset.hex = toHex(bytes, MAX_DATA_HEX_BYTES);
  entry.dataset.size = String(bytes.length);
  const more = bytes.length > MAX_SHOWN_BYTES ? " …" : "";
  const text = isText ? payload.slice(0, MAX_SHOWN_BYTES) : printable(bytes, MAX_SHOWN_BYTES);
  entry.append(
    cell("time", clock()),
    cell("dir", direction === "in" ? "←" : "→"),
    cell("size", sizeText(bytes.length)),
    cell("hex", spaced(toHex(bytes, MAX_SHOWN_BYTES)) + more),
    cell("text", text + more),
  );
  append(entry);
}
function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}
function setConnected(connected) {
  connectButton.disabled = connected;
  routeSelect.disabled = connected;
  queryInput.disabled = connected;
  disconnectButton.disabled = !connected;
  sendButton.disabled = !connected;
}
function parseHex(text) {
  const digits = text.replace(/0x/gi, "").replace(/[\\s,:]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) return null;
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
function connect() {
  if (socket !== null) return;
  const route = routeSelect.value.startsWith("/") ? routeSelect.value : "/" + routeSelect.value;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = queryInput.value.trim().replace(/^\\?/, "");
  const url = scheme + "//" + location.host + route + (query === "" ? "" : "?" + query);
  errorLine.textContent = "";
  let current;
  try {
    current = new WebSocket(url);
  } catch (error) {
    errorLine.textContent = String(error);
    return;
  }
  socket = current;
  current.binaryType = "arraybuffer";
  setStatus("connecting", "connecting");
  connectButton.disabled = true;
  routeSelect.disabled = true;
  queryInput.disabled = true;
  note("connecting to " + url);
  current.onopen = () => {
    setStatus("open", "open");
    setConnected(true);
    note("open" + (current.protocol ? " (" + current.protocol + ")" : ""));
  };
  current.onmessage = (event) => {
    logFrame("in", typeof event.data === "string" ? event.data : new Uint8Array(event.data));
  };
  current.onclose = (event) => {
    const text = ("closed " + event.code + " " + event.reason).trim();
    setStatus("closed", text);
    note(text + (event.wasClean ? "" : " (not clean)"));
    if (socket === current) socket = null;
    setConnected(false);
  };
}
function send() {
  if (socket === null || socket.readyState !== WebSocket.OPEN) return;
  errorLine.textContent = "";
  if (modeSelect.value === "hex") {
    const bytes = parseHex(input.value);
    if (bytes === null) {
      errorLine.textContent = "hex input must be pairs of hex digits, for example 48 65 6c 6c 6f";
      return;
    }
    socket.send(bytes);
    logFrame("out", bytes);
  } else {
    socket.send(input.value);
    logFrame("out", input.value);
  }
  input.value = "";
}
connectButton.addEventListener("click", connect);
disconnectButton.addEventListener("click", () => { if (socket !== null) socket.close(1000, "closed by console"); });
sendButton.addEventListener("click", send);
$("clear").addEventListener("click", () => log.replaceChildren());
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); send(); }
});
modeSelect.addEventListener("change", () => {
  input.placeholder = modeSelect.value === "hex" ? "48 65 6c 6c 6f" : "text to send";
});
setConnected(false);
connectButton.disabled = routeSelect.options.length === 0;

const chart = $("chart"), samples = [], MAX_SAMPLES = 60;
let previous = null, polling = false;
function drawChart() {
  const context = chart.getContext("2d");
  if (!context) return;
  const width = chart.width = chart.clientWidth || 600, height = chart.height = chart.clientHeight || 120;
  context.clearRect(0, 0, width, height);
  const peak = Math.max(1, ...samples.map((s) => Math.max(s.toBackend, s.toBrowser)));
  const styles = getComputedStyle(document.documentElement);
  // Echo traffic makes both series equal: the second line is thinner and
  // dashed so the first still shows under it.
  const series = [
    ["toBackend", styles.getPropertyValue("--out"), 3, []],
    ["toBrowser", styles.getPropertyValue("--in"), 2, [6, 4]],
  ];
  for (const [key, color, lineWidth, dash] of series) {
    context.strokeStyle = color.trim() || "#888";
    context.lineWidth = lineWidth;
    context.setLineDash(dash);
    context.beginPath();
    samples.forEach((sample, i) => {
      const x = (i / (MAX_SAMPLES - 1)) * (width - 1);
      const y = height - 14 - (sample[key] / peak) * (height - 20);
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  }
  context.fillStyle = styles.getPropertyValue("--muted").trim() || "#888";
  context.font = "11px system-ui, sans-serif";
  context.fillText("peak " + sizeText(Math.round(peak)) + "/s", 4, height - 2);
}
function showStats(stats, nowMs) {
  $("sessions-open").textContent = String(stats.sessionsOpen);
  $("sessions-label").textContent = stats.sessionsOpen === 1 ? "session open" : "sessions open";
  if (previous !== null) {
    const seconds = Math.max(0.001, (nowMs - previous.nowMs) / 1000);
    const sample = {
      toBackend: Math.max(0, stats.bytesToBackend - previous.bytesToBackend) / seconds,
      toBrowser: Math.max(0, stats.bytesToBrowser - previous.bytesToBrowser) / seconds,
    };
    samples.push(sample);
    if (samples.length > MAX_SAMPLES) samples.shift();
    $("rate-to-backend").textContent = sizeText(Math.round(sample.toBackend)) + "/s";
    $("rate-to-browser").textContent = sizeText(Math.round(sample.toBrowser)) + "/s";
  }
  previous = { nowMs, bytesToBackend: stats.bytesToBackend, bytesToBrowser: stats.bytesToBrowser };
  const rows = (Array.isArray(stats.sessions) ? stats.sessions : []).map((session) => {
    const row = document.createElement("tr");
    const age = Math.max(0, Math.round((Date.now() - session.openedAtMs) / 1000));
    for (const value of [session.id, session.route, session.client, age + " s", sizeText(session.bytesToBackend), sizeText(session.bytesToBrowser)]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      row.append(td);
    }
    return row;
  });
  $("sessions").tBodies[0].replaceChildren(...rows);
  drawChart();
}
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const response = await fetch(config.statsUrl, { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    showStats(await response.json(), performance.now());
    $("stats-status").textContent = "";
  } catch (error) {
    $("stats-status").textContent = "stats unavailable: " + (error && error.message ? error.message : String(error));
  } finally {
    polling = false;
  }
}
poll();
setInterval(poll, config.statsIntervalMs);
`;

/**
 * Renders the console page. Routes and title are HTML-escaped; the stats URL
 * and interval travel in a JSON block with `<` escaped, so no value can end
 * the script element.
 *
 * @param options The routes, title and stats polling.
 * @returns The complete HTML document.
 *
 * @example Rendering
 * ```ts
 * import { consolePage } from "./console_page.ts";
 * import assert from "node:assert/strict";
 * const html = consolePage({ routes: ["/vnc", "/a<b>"], title: "My gateway" });
 * assert.match(html, /<option value="\/vnc">\/vnc<\/option>/);
 * assert.ok(html.includes("/a&lt;b&gt;"));
 * assert.ok(html.includes('id="log"'));
 * ```
 */
export function consolePage(options: ConsolePageOptions): string {
  const {
    routes,
    title = "wsgate console",
    statsUrl = "/_console/stats",
    statsIntervalMs = 1000,
  } = options;
  if (!Number.isFinite(statsIntervalMs) || statsIntervalMs < 100) {
    throw new RangeError(
      `Cannot render console page as statsIntervalMs must be >= 100: current value is ${statsIntervalMs}`,
    );
  }
  const routeOptions = routes.map((route) =>
    `<option value="${escapeHtml(route)}">${escapeHtml(route)}</option>`
  ).join("");
  const config = JSON.stringify({ statsUrl, statsIntervalMs }).replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  const heading = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${heading}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>${heading}</h1><span id="status" data-state="idle">idle</span></header>
<main>
<section aria-label="Connection and frames">
<div class="row">
<label>Route <select id="route">${routeOptions}</select></label>
<label>? <input id="query" type="text" autocomplete="off" spellcheck="false" placeholder="token=... or ticket=..." aria-label="Query string"></label>
<button id="connect" type="button">Connect</button>
<button id="disconnect" type="button">Disconnect</button>
</div>
<div class="row">
<select id="mode" aria-label="Input mode"><option value="text">text</option><option value="hex">hex</option></select>
<input id="input" type="text" autocomplete="off" spellcheck="false" placeholder="text to send" aria-label="Message">
<button id="send" type="button">Send</button>
</div>
<div class="row"><span id="error" role="alert"></span></div>
<h2>Frames <button id="clear" type="button">Clear</button></h2>
<div id="log" role="log"></div>
</section>
<section aria-label="Gateway">
<h2>Gateway</h2>
<p><span id="sessions-open">-</span> <span id="sessions-label">sessions open</span> &middot;
<span class="legend-out">to backend <span id="rate-to-backend">-</span></span> &middot;
<span class="legend-in">to browser <span id="rate-to-browser">-</span></span></p>
<canvas id="chart" width="600" height="120" aria-label="Throughput, last 60 samples"></canvas>
<p id="stats-status"></p>
<table id="sessions"><thead><tr><th>id</th><th>route</th><th>client</th><th>age</th><th>to backend</th><th>to browser</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script type="application/json" id="console-config">${config}</script>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Returns a `Content-Security-Policy` value for {@linkcode consolePage}
 * output: nothing external, the inline script and style pinned by their
 * SHA-256 hashes, connections to the same origin only (`'self'` covers
 * `ws:`/`wss:` of the same host in current browsers).
 *
 * @returns The header value.
 *
 * @example Header value
 * ```ts
 * import { consolePageCsp } from "./console_page.ts";
 * import assert from "node:assert/strict";
 * const csp = await consolePageCsp();
 * assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
 * ```
 */
export async function consolePageCsp(): Promise<string> {
  const [script, style] = await Promise.all([sha256(SCRIPT), sha256(STYLE)]);
  return [
    "default-src 'none'",
    `script-src '${script}'`,
    `style-src '${style}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return `sha256-${new Uint8Array(digest).toBase64()}`;
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}
