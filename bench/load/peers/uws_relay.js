// deno-lint-ignore-file no-console -- a Bun/Node program outside the product: stdout is its readiness line
// A WebSocket-to-TCP relay on Node with uWebSockets.js and node:net, written
// the way a JavaScript developer would. Every message is written to the
// backend (node:net queues partial writes), every backend read is sent as one
// binary message, the backend is paused while the browser side is
// backpressured, and the `binary` subprotocol is answered. A peer for
// bench/load/run.ts only; the product never imports it.
// Usage: node uws_relay.js --listen HOST:PORT --target HOST:PORT
"use strict";
const uWS = require("uWebSockets.js");
const net = require("node:net");

const flag = (name) => process.argv[process.argv.indexOf(name) + 1];
const [listenHost, listenPort] = flag("--listen").split(":");
const [targetHost, targetPort] = flag("--target").split(":");
const HIGH_WATER = 1024 * 1024;

uWS.App().ws("/*", {
  maxPayloadLength: 16 * 1024 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  upgrade(res, req, context) {
    const offered = req.getHeader("sec-websocket-protocol")
      .split(",").map((p) => p.trim());
    res.upgrade(
      { tcp: null, open: true },
      req.getHeader("sec-websocket-key"),
      offered.includes("binary") ? "binary" : "",
      req.getHeader("sec-websocket-extensions"),
      context,
    );
  },
  open(ws) {
    const session = ws.getUserData();
    const tcp = net.connect(Number(targetPort), targetHost);
    session.tcp = tcp;
    tcp.setNoDelay(true);
    tcp.on("data", (chunk) => {
      if (!session.open) return;
      ws.send(chunk, true);
      if (ws.getBufferedAmount() > HIGH_WATER) tcp.pause();
    });
    tcp.on("close", () => {
      if (session.open) ws.end(1000, "backend closed");
    });
    tcp.on("error", () => {
      if (session.open) ws.end(1011, "backend error");
    });
  },
  message(ws, message) {
    // uWS reuses the message's memory after this call: copy before queueing.
    ws.getUserData().tcp.write(Buffer.from(message.slice(0)));
  },
  drain(ws) {
    if (ws.getBufferedAmount() < HIGH_WATER) ws.getUserData().tcp.resume();
  },
  close(ws) {
    const session = ws.getUserData();
    session.open = false;
    session.tcp.end();
  },
}).listen(listenHost, Number(listenPort), (token) => {
  if (!token) {
    console.error(`uws relay cannot listen on ${listenHost}:${listenPort}`);
    process.exit(1);
  }
  console.log(`uws relay listening on port ${uWS.us_socket_local_port(token)}`);
});
