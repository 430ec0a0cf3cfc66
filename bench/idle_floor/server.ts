/**
 * The bare relay whose memory `bench/idle_floor/run.ts` measures: the least a
 * Deno program must hold for one idle relayed connection. Per accepted
 * connection it may read a request and answer it, dials the backend, and may
 * keep one 256-byte read pending on each socket (how a relay notices data or
 * a close). Nothing is relayed; nothing is parsed.
 *
 * Run by run.ts: `deno run -A server.ts MODE BACKEND_PORT`, prints
 * `port N` on stdout. MODE: `sockets` (accept and dial only), `reads` (plus
 * a pending read on both sockets), `handshake` (plus reading the client's
 * request into a 2 KiB buffer, answering 129 bytes and setting NODELAY and
 * keepalive on both sockets, as wsgate does).
 *
 * @module
 */

const [mode = "handshake", backendPortText = "0"] = Deno.args;
const backendPort = Number(backendPortText);
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);
const held: Deno.Conn[] = [];

async function keepReading(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(256);
  try {
    while ((await conn.read(buffer)) !== null) {
      // An idle relay sees nothing here; discard whatever comes.
    }
  } catch {
    // Closed by the peer or by shutdown.
  }
}

async function serve(client: Deno.TcpConn): Promise<void> {
  if (mode === "handshake") await client.read(new Uint8Array(2048));
  const backend = await Deno.connect({
    hostname: "127.0.0.1",
    port: backendPort,
  });
  held.push(client, backend);
  if (mode === "handshake") {
    await client.write(RESPONSE);
    for (const conn of [client, backend]) {
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
    }
  }
  if (mode !== "sockets") {
    keepReading(client);
    keepReading(backend);
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
// deno-lint-ignore no-console
console.log(`port ${listener.addr.port}`);
for await (const conn of listener) serve(conn).catch(() => conn.close());
