/**
 * The demo page served at `/` by `deno task demo`: type a message, send it
 * through wsgate, see the backend's reply, and beside each message the TCP
 * frame wsgate writes or reads for it (the demo route's `u32be` framing: a
 * 4-byte big-endian length, then the payload), in hex.
 *
 * Stable element ids and classes for tests: `#status`, `#input`, `#send`,
 * `#log`; each message is a `.msg.out` or `.msg.in` row whose `.wire`
 * element has `data-hex` (the whole frame) and holds a `.prefix` and a
 * `.payload` span.
 *
 * @module
 */

/**
 * Returns the demo page HTML for the given WebSocket routes.
 *
 * @example
 * ```ts
 * import { demoPageHtml } from "./demo_page.ts";
 * import assert from "node:assert/strict";
 * assert.ok(demoPageHtml(["/"]).includes("<title>wsgate demo</title>"));
 * ```
 *
 * @param routes The WebSocket route paths to offer.
 * @returns The HTML text.
 */
export function demoPageHtml(routes: readonly string[]): string {
  const route = JSON.stringify(routes[0] ?? "/").replaceAll("<", "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate demo</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; font: inherit; padding: .4rem; }
  button { font: inherit; padding: .4rem .9rem; }
  #log { font-family: ui-monospace, monospace; background: #f4f4f4; padding: .6rem; min-height: 8rem; margin-top: 1rem; }
  #log > div { white-space: pre-wrap; word-break: break-all; }
  .msg { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.3fr); gap: .8rem; padding: .15rem 0; border-bottom: 1px solid #0001; }
  .in { color: #0a5; } .out { color: #05a; } .sys { color: #888; }
  .wire { color: #444; font-size: .85em; word-break: normal; }
  .wire .prefix { background: #fd8; color: #000; }
  .wire .label { color: #888; }
</style>
</head>
<body>
<h1>wsgate demo</h1>
<p>Your browser holds a WebSocket to wsgate; wsgate holds a TCP connection to a
length-prefixed (<code>u32be</code>) echo service that answers in upper case.
Each message you send becomes one TCP frame; each reply frame becomes one
WebSocket message. Beside each message is that TCP frame in hex:
<span style="background:#fd8">the 4-byte length</span>, then the payload.</p>
<p>Status: <strong id="status">connecting</strong></p>
<form id="form"><input id="input" autocomplete="off" placeholder="Type a message" autofocus><button id="send">Send</button></form>
<div id="log"></div>
<script type="module">
const log = document.getElementById("log");
const status = document.getElementById("status");
const MAX_SHOWN_BYTES = 48;
function line(cls, text) {
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = new Date().toLocaleTimeString() + "  " + text;
  log.append(div);
  return div;
}
function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
/** The u32be frame of a payload: its length in 4 bytes, then the payload. */
function frameOf(payload) {
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}
function span(cls, text) {
  const element = document.createElement("span");
  element.className = cls;
  element.textContent = text;
  return element;
}
function message(direction, text, payload) {
  const row = line("msg " + direction, (direction === "out" ? "-> " : "<- ") + text);
  const frame = frameOf(payload);
  const wire = document.createElement("div");
  wire.className = "wire";
  wire.dataset.hex = hex(frame).replaceAll(" ", "");
  const shown = payload.subarray(0, MAX_SHOWN_BYTES);
  wire.append(
    span("label", direction === "out" ? "TCP to backend: " : "TCP from backend: "),
    span("prefix", hex(frame.subarray(0, 4))),
    " ",
    span("payload", hex(shown) + (payload.length > shown.length ? " …" : "")),
  );
  row.append(wire);
}
const url = new URL(${route}, location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(url);
socket.binaryType = "arraybuffer";
socket.onopen = () => { status.textContent = "open"; line("sys", "connected to " + url); };
socket.onclose = (e) => { status.textContent = "closed " + e.code + " " + e.reason; line("sys", "closed " + e.code + " " + e.reason); };
socket.onmessage = (e) => {
  const payload = typeof e.data === "string" ? new TextEncoder().encode(e.data) : new Uint8Array(e.data);
  message("in", new TextDecoder().decode(payload), payload);
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("input");
  if (socket.readyState !== WebSocket.OPEN) return;
  socket.send(input.value);
  message("out", input.value, new TextEncoder().encode(input.value));
  input.value = "";
};
</script>
</body>
</html>
`;
}
