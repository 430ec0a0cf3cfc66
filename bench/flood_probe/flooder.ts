/**
 * The flooders of `bench/flood_probe/run.ts`, in their own process: N
 * clients that each open a WebSocket session through the gateway and flood
 * it until the deadline, reconnecting whenever the gateway closes them.
 *
 * - `ping`: 8-byte pings as fast as the socket takes them, never reading.
 * - `data`: 64 KiB binary messages as fast as the socket takes them,
 *   reading and discarding the echoes.
 *
 * Usage: `deno run -A bench/flood_probe/flooder.ts --port P --kind ping|data
 * --clients N --duration-ms MS`. Prints one JSON line at the end: sessions
 * opened and bytes written.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  encodeClientFrame,
  Opcode,
} from "../../src/websocket/ws_frame_codec.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    kind: { type: "string", default: "ping" },
    clients: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "8000" },
  },
  strict: true,
});
const port = Number(values.port);
const kind = values.kind === "data" ? "data" : "ping";
const clients = Number(values.clients);
const deadline = Date.now() + Number(values["duration-ms"]);

/** 256 KiB of back-to-back frames: what one write hands the socket. */
function floodBuffer(): Uint8Array {
  const frame = kind === "ping"
    ? encodeClientFrame(Opcode.PING, new Uint8Array(8))
    : encodeClientFrame(Opcode.BINARY, new Uint8Array(64 * 1024).fill(7));
  const count = Math.max(1, Math.floor(256 * 1024 / frame.length));
  const buffer = new Uint8Array(count * frame.length);
  for (let i = 0; i < count; i++) buffer.set(frame, i * frame.length);
  return buffer;
}

const REQUEST = new TextEncoder().encode(
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
);

/** Connects and reads up to the end of the 101 response. */
async function open(): Promise<Deno.TcpConn | undefined> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(REQUEST);
  const buffer = new Uint8Array(4096);
  let head = "";
  for (let reads = 0; reads < 100 && !head.includes("\r\n\r\n"); reads++) {
    const count = await conn.read(buffer);
    if (count === null) break;
    head += new TextDecoder().decode(buffer.subarray(0, count));
  }
  if (!head.startsWith("HTTP/1.1 101")) {
    conn.close();
    return undefined;
  }
  return conn;
}

let sessions = 0;
let bytesWritten = 0;
const openConns = new Set<Deno.TcpConn>();

function closeQuietly(conn: Deno.TcpConn): void {
  openConns.delete(conn);
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function drain(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(256 * 1024);
  try {
    while (Date.now() < deadline && (await conn.read(buffer)) !== null) {
      // Discard the echoes.
    }
  } catch {
    // Closed under us.
  }
}

async function flood(buffer: Uint8Array): Promise<void> {
  while (Date.now() < deadline) {
    const conn = await open().catch(() => undefined);
    if (conn === undefined) continue;
    openConns.add(conn);
    sessions++;
    const reading = kind === "data" ? drain(conn) : Promise.resolve();
    try {
      // Frames back to back: a partial write continues where it stopped.
      let offset = 0;
      while (Date.now() < deadline) {
        const count = await conn.write(buffer.subarray(offset));
        bytesWritten += count;
        offset = (offset + count) % buffer.length;
      }
    } catch {
      // The gateway closed the session: reconnect.
    }
    closeQuietly(conn);
    await reading;
  }
}

const buffer = floodBuffer();
// A write blocked at the deadline (the gateway stopped reading) ends here.
const stop = setTimeout(() => {
  for (const conn of [...openConns]) closeQuietly(conn);
}, Math.max(0, deadline - Date.now()));
await Promise.all(Array.from({ length: clients }, () => flood(buffer)));
clearTimeout(stop);
await Deno.stdout.write(
  new TextEncoder().encode(
    JSON.stringify({ kind, clients, sessions, bytesWritten }) + "\n",
  ),
);
