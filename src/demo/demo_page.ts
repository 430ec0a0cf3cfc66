/**
 * The demo page served at `/` by `deno task demo`: type a message, send it
 * through wsgate, see the backend's reply.
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
  #log { font-family: ui-monospace, monospace; white-space: pre-wrap; background: #f4f4f4; padding: .6rem; min-height: 8rem; margin-top: 1rem; }
  .in { color: #0a5; } .out { color: #05a; } .sys { color: #888; }
</style>
</head>
<body>
<h1>wsgate demo</h1>
<p>Your browser holds a WebSocket to wsgate; wsgate holds a TCP connection to a
length-prefixed (<code>u32be</code>) echo service that answers in upper case.
Each message you send becomes one TCP frame; each reply frame becomes one
WebSocket message.</p>
<p>Status: <strong id="status">connecting</strong></p>
<form id="form"><input id="input" autocomplete="off" placeholder="Type a message" autofocus><button id="send">Send</button></form>
<div id="log"></div>
<script type="module">
const log = document.getElementById("log");
const status = document.getElementById("status");
function line(cls, text) {
  const div = document.createElement("div");
  div.className = cls;
  div.textContent = new Date().toLocaleTimeString() + "  " + text;
  log.append(div);
}
const url = new URL(${route}, location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const socket = new WebSocket(url);
socket.binaryType = "arraybuffer";
socket.onopen = () => { status.textContent = "open"; line("sys", "connected to " + url); };
socket.onclose = (e) => { status.textContent = "closed " + e.code + " " + e.reason; line("sys", "closed " + e.code + " " + e.reason); };
socket.onmessage = (e) => {
  const text = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data);
  line("in", "<- " + text);
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById("input");
  if (socket.readyState !== WebSocket.OPEN) return;
  socket.send(input.value);
  line("out", "-> " + input.value);
  input.value = "";
};
</script>
</body>
</html>
`;
}
