/**
 * permessage-deflate with a real browser: headless Chromium offers the
 * extension by itself; through a compressing route its text and binary
 * messages must reach a real TCP backend as the exact bytes sent, the
 * echoes must come back intact, and a byte-counting TCP hop between
 * Chromium and wsgate shows the messages were compressed on the wire.
 * Skipped only when Chromium is missing and CI is unset.
 *
 * @module
 */

import { assert, assertEquals, within } from "../_util/assert.ts";
import { chromiumSkipReason, launchChromium } from "../_util/chromium.ts";
import { startGateway } from "../_util/gateway_fixture.ts";
import { startU32beBackend } from "../_util/u32be_backend.ts";
import { utf8 } from "../_util/web_socket_client.ts";

const SKIP_REASON = chromiumSkipReason();
const BIG_LENGTH = 70_000;
const REDIS_TEXT =
  'SET user:1001 "{\\"name\\":\\"Zoë\\",\\"plan\\":\\"pro\\"}"\r\n'
    .repeat(200);

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>wsgate compression</title></head>
<body><script>
/** Opens url, sends every message, waits for as many echoes, then closes. */
globalThis.echoTrip = (url, messages) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const received = [];
  let extensions = "";
  socket.onopen = () => {
    extensions = socket.extensions;
    for (const message of messages) socket.send(message);
  };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      received.push({ text: event.data });
    } else {
      const bytes = new Uint8Array(event.data);
      let sum = 0;
      for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
      received.push({ length: bytes.length, sum });
    }
    if (received.length === messages.length) socket.close(1000, "done");
  };
  socket.onclose = (event) => resolve({ extensions, code: event.code, received });
});
globalThis.bigPattern = () => Uint8Array.from({ length: ${BIG_LENGTH} }, (_, i) => (i * 31 + 7) & 255);
</script></body></html>`;

function bigPattern(): Uint8Array {
  return Uint8Array.from({ length: BIG_LENGTH }, (_, i) => (i * 31 + 7) & 255);
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
  return sum;
}

/**
 * A TCP hop on 127.0.0.1 port 0 that forwards every connection to `port`
 * and counts the bytes going each way.
 */
function startCountingHop(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts = { toServer: 0, toClient: 0 };
  const pipes: Promise<void>[] = [];
  const conns: Deno.Conn[] = [];
  const pipe = async (
    from: Deno.Conn,
    to: Deno.Conn,
    key: keyof typeof counts,
  ) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const count = await from.read(buffer);
        if (count === null) break;
        counts[key] += count;
        let written = 0;
        while (written < count) {
          written += await to.write(buffer.subarray(written, count));
        }
      }
      await to.closeWrite();
    } catch {
      // One side went away; the other is closed below.
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(client, server);
      pipes.push(pipe(client, server, "toServer"));
      pipes.push(pipe(server, client, "toClient"));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    counts,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(pipes);
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

interface EchoTrip {
  extensions: string;
  code: number;
  received: ({ text: string } | { length: number; sum: number })[];
}

Deno.test({
  name:
    "Chromium negotiates permessage-deflate on a compressing route: text and binary reach the TCP backend as sent and come back, compressed on the wire" +
    (SKIP_REASON === undefined ? "" : ` (ignored: ${SKIP_REASON})`),
  ignore: SKIP_REASON !== undefined,
  async fn() {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response(PAGE_HTML, {
          headers: { "content-type": "text/html; charset=utf-8" },
        }),
    );
    await using backend = startU32beBackend();
    await using gateway = await startGateway({
      allowOrigins: [`http://127.0.0.1:${server.addr.port}`],
      routes: [
        {
          path: "/bin",
          target: backend.target,
          framing: "u32be",
          compression: "on",
        },
        {
          path: "/text",
          target: backend.target,
          framing: "u32be,text",
          compression: "on",
        },
      ],
    });
    await using hop = startCountingHop(gateway.port);
    await using browser = await launchChromium();
    await using page = await browser.newPage(
      `http://127.0.0.1:${server.addr.port}/`,
    );
    const ws = `ws://127.0.0.1:${hop.port}`;

    const texts = [REDIS_TEXT, "h\u00e9llo \u20ac \u{1f600}", ""];
    const text = await page.evaluate<EchoTrip>(
      `echoTrip(${JSON.stringify(`${ws}/text`)}, ${JSON.stringify(texts)})`,
    );
    assert(
      text.extensions.startsWith("permessage-deflate"),
      `extensions: "${text.extensions}"`,
    );
    assertEquals(text.code, 1000);
    assertEquals(text.received, texts.map((message) => ({ text: message })));

    const big = bigPattern();
    const small = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const binary = await page.evaluate<EchoTrip>(
      `echoTrip(${JSON.stringify(`${ws}/bin`)}, [
        bigPattern(),
        new Uint8Array([0, 1, 2, 253, 254, 255]),
      ])`,
    );
    assert(binary.extensions.startsWith("permessage-deflate"));
    assertEquals(binary.code, 1000);
    assertEquals(binary.received, [
      { length: BIG_LENGTH, sum: checksum(big) },
      { length: small.length, sum: checksum(small) },
    ]);

    // The backend got exactly the bytes the page sent.
    assertEquals(backend.connections.length, 2);
    const [textLog, binLog] = backend.connections;
    await within(
      Promise.all([textLog!.ended, binLog!.ended]),
      5000,
      "backend EOF",
    );
    assertEquals(textLog!.payloads, texts.map((message) => utf8(message)));
    assertEquals(binLog!.payloads, [big, small]);
    // About 85 KB of payload each way; compressed, both directions carry
    // a small fraction of it (handshakes included).
    const payloadBytes = utf8(REDIS_TEXT).length + BIG_LENGTH;
    assert(
      hop.counts.toServer < payloadBytes / 10,
      `browser sent ${hop.counts.toServer} bytes for ${payloadBytes}`,
    );
    assert(
      hop.counts.toClient < payloadBytes / 10,
      `gateway sent ${hop.counts.toClient} bytes for ${payloadBytes}`,
    );
  },
});
