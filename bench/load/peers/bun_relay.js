// deno-lint-ignore-file no-console -- a Bun/Node program outside the product: stdout is its readiness line
// A WebSocket-to-TCP relay on Bun, written the way a JavaScript developer
// would: Bun.serve's websockets (uWebSockets inside) and Bun.connect. Every
// message is written to the backend, every backend read is sent as one binary
// message, partial TCP writes are queued until drain, and the `binary`
// subprotocol is answered. A peer for bench/load/run.ts only; the product
// never imports it. Usage: bun bun_relay.js --listen HOST:PORT --target HOST:PORT
const flag = (name) => Bun.argv[Bun.argv.indexOf(name) + 1];
const [listenHost, listenPort] = flag("--listen").split(":");
const [targetHost, targetPort] = flag("--target").split(":");

function writeTcp(session, chunk) {
  if (session.queue.length > 0) {
    session.queue.push(chunk);
    return;
  }
  const written = session.tcp.write(chunk);
  if (written < chunk.length) session.queue.push(chunk.subarray(written));
}

const server = Bun.serve({
  hostname: listenHost,
  port: Number(listenPort),
  fetch(req, server) {
    const offered = (req.headers.get("sec-websocket-protocol") ?? "")
      .split(",").map((p) => p.trim());
    const headers = offered.includes("binary")
      ? { "Sec-WebSocket-Protocol": "binary" }
      : undefined;
    const data = { tcp: null, pending: [], queue: [], closed: false };
    if (server.upgrade(req, { headers, data })) return;
    return new Response("WebSocket upgrade expected", { status: 400 });
  },
  websocket: {
    maxPayloadLength: 16 * 1024 * 1024,
    open(ws) {
      const session = ws.data;
      Bun.connect({
        hostname: targetHost,
        port: Number(targetPort),
        socket: {
          open(tcp) {
            session.tcp = tcp;
            for (const chunk of session.pending) writeTcp(session, chunk);
            session.pending = [];
            if (session.closed) tcp.end();
          },
          data(_tcp, chunk) {
            if (!session.closed) ws.sendBinary(chunk);
          },
          drain(tcp) {
            while (session.queue.length > 0) {
              const chunk = session.queue[0];
              const written = tcp.write(chunk);
              if (written < chunk.length) {
                session.queue[0] = chunk.subarray(written);
                return;
              }
              session.queue.shift();
            }
            if (session.closed) tcp.end();
          },
          close() {
            if (!session.closed) ws.close(1000, "backend closed");
          },
          error() {
            if (!session.closed) ws.close(1011, "backend error");
          },
        },
      }).catch(() => ws.close(1011, "backend unreachable"));
    },
    message(ws, message) {
      const session = ws.data;
      const chunk = typeof message === "string"
        ? new TextEncoder().encode(message)
        : message;
      if (session.tcp === null) session.pending.push(chunk);
      else writeTcp(session, chunk);
    },
    close(ws) {
      const session = ws.data;
      session.closed = true;
      if (session.tcp !== null && session.queue.length === 0) session.tcp.end();
    },
  },
});
console.log(`bun relay listening on port ${server.port}`);
