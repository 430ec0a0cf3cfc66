/**
 * The runtime's floor for bench/load/run.ts (`--gateways deno`): the least a
 * Deno program does per relayed WebSocket session, with none of wsgate's
 * policy, limits, events or metrics. Per connection: one read for the request
 * head (the head is assumed to arrive whole, as the load generator sends it),
 * the accept key with WebCrypto SHA-1, one backend connect, one write for the
 * 101, then two pumps (each read framed or unmasked and written with one
 * call), and a close frame echoed before both sockets close. Written the
 * way a Deno developer would on `Deno.listen` and `Deno.connect`; not the
 * product (which never imports it).
 *
 * Whatever wsgate costs above this program per session is wsgate's; what
 * this program costs against Bun or uWebSockets.js is the runtime's
 * (async ops, promise turns and resource objects per socket call).
 *
 * Usage: `deno run -A deno_relay.ts --listen HOST:PORT --target HOST:PORT`;
 * prints `deno relay listening on port N`.
 *
 * @module
 */

function flag(name: string): string {
  return Deno.args[Deno.args.indexOf(name) + 1] ?? "";
}
const [listenHost = "127.0.0.1", listenPort = "0"] = flag("--listen").split(
  ":",
);
const [targetHost = "127.0.0.1", targetPort = "0"] = flag("--target").split(
  ":",
);

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  let text = "";
  for (const byte of new Uint8Array(digest)) text += String.fromCharCode(byte);
  return btoa(text);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** A binary frame (or close frame) header + payload, unmasked. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = new Uint8Array(header + length);
  out[0] = 0x80 | opcode;
  if (header === 2) out[1] = length;
  else if (header === 4) {
    out[1] = 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setUint32(6, length);
  }
  out.set(payload, header);
  return out;
}

/** Whether our close frame went out (nothing may follow it). */
interface State {
  isCloseSent: boolean;
}

async function backendToBrowser(
  backend: Deno.Conn,
  browser: Deno.Conn,
  state: State,
): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const count = await backend.read(buffer);
      if (count === null) break;
      if (state.isCloseSent) continue;
      await writeAll(browser, frame(2, buffer.subarray(0, count)));
    }
    if (state.isCloseSent) return;
    state.isCloseSent = true;
    await writeAll(browser, frame(8, new Uint8Array([0x03, 0xe8])));
  } catch {
    // The browser side closed first.
  }
}

/** Unmasks and forwards whole frames; answers a close frame and ends. */
async function browserToBackend(
  browser: Deno.Conn,
  backend: Deno.Conn,
  first: Uint8Array,
  state: State,
): Promise<void> {
  let pending = first;
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    let offset = 0;
    const out: Uint8Array[] = [];
    for (;;) {
      if (pending.length - offset < 2) break;
      const second = pending[offset + 1]! & 0x7f;
      let header = 6;
      let length = second;
      if (second === 126) {
        header = 8;
        if (pending.length - offset < 4) break;
        length = (pending[offset + 2]! << 8) | pending[offset + 3]!;
      } else if (second === 127) {
        header = 14;
        if (pending.length - offset < 10) break;
        length = new DataView(pending.buffer, pending.byteOffset + offset)
          .getUint32(6);
      }
      if (pending.length - offset < header + length) break;
      const opcode = pending[offset]! & 0x0f;
      const mask = pending.subarray(offset + header - 4, offset + header);
      const payload = pending.slice(
        offset + header,
        offset + header + length,
      );
      for (let i = 0; i < length; i++) payload[i]! ^= mask[i & 3]!;
      offset += header + length;
      if (opcode === 8) {
        if (out.length > 0) await writeAll(backend, concat(out));
        if (!state.isCloseSent) {
          state.isCloseSent = true;
          await writeAll(browser, frame(8, payload.subarray(0, 2)));
        }
        return;
      }
      out.push(payload);
    }
    if (out.length > 0) await writeAll(backend, concat(out));
    const rest = pending.slice(offset);
    const count = await browser.read(buffer);
    if (count === null) return;
    pending = concat([rest, buffer.subarray(0, count)]);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function serve(browser: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(4096);
  const count = await browser.read(buffer);
  if (count === null) return browser.close();
  const text = decoder.decode(buffer.subarray(0, count));
  const end = text.indexOf("\r\n\r\n");
  const key = /^sec-websocket-key:\s*(\S+)/im.exec(text)?.[1] ?? "";
  const isBinary = /^sec-websocket-protocol:.*\bbinary\b/im.test(text);
  const backend = await Deno.connect({
    hostname: targetHost,
    port: Number(targetPort),
  });
  backend.setNoDelay(true);
  browser.setNoDelay(true);
  await writeAll(
    browser,
    encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${await acceptKey(
          key,
        )}\r\n` +
        (isBinary ? "Sec-WebSocket-Protocol: binary\r\n" : "") + "\r\n",
    ),
  );
  const rest = buffer.slice(end + 4, count);
  const state: State = { isCloseSent: false };
  const reading = backendToBrowser(backend, browser, state);
  try {
    await browserToBackend(browser, backend, rest, state);
    await backend.closeWrite();
    await reading;
  } catch {
    // Either side failed: close both.
  }
  browser.close();
  backend.close();
}

const listener = Deno.listen({
  hostname: listenHost,
  port: Number(listenPort),
});
// deno-lint-ignore no-console
console.log(`deno relay listening on port ${listener.addr.port}`);
for await (const conn of listener) {
  serve(conn).catch(() => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  });
}
