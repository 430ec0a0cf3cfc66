/**
 * permessage-deflate end to end, for the README's numbers: wsgate runs in a
 * child process (`gateway.ts`, same V8 flags as `deno task start`) in front
 * of a raw-echo TCP backend; raw WebSocket clients in this process send a
 * Redis-like text workload (RESP `SET` commands with small JSON values).
 *
 * - throughput: `--clients` sessions each send `--messages` messages, at
 *   most 16 in flight per session; reports round trips per second and the
 *   WebSocket bytes on the wire per message, each way, with compression off,
 *   on (context takeover) and on without context takeover. The clients'
 *   frames are compressed before the clock starts and echoes are counted,
 *   not inflated, so the timed phase is the gateway's work (and the
 *   bench's socket I/O).
 * - memory: after 50 warm-up sessions, opens `--sessions` more, each sends
 *   one message and gets its echo, then idles; reports the gateway's PSS
 *   growth per session.
 *
 * Run: `deno task bench:compression` (`--clients 8 --messages 4000
 * --sessions 500`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startTaskV8Flags } from "../_start_task_flags.ts";
import {
  MessageDeflater,
  MessageInflater,
} from "../../src/websocket/message_deflate.ts";
import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";
import type { RouteOptions } from "../../mod.ts";

const HERE = new URL(".", import.meta.url).pathname;
const WINDOW = 16;
const WARM_SESSIONS = 50;
const ENCODER = new TextEncoder();

const CONFIGS: Record<string, RouteOptions["compression"]> = {
  "off": "off",
  "on (context takeover)": "on",
  "on, contextTakeover false": { contextTakeover: false },
};

/** Message `i` of the workload: one RESP SET of a JSON profile. */
function redisMessage(i: number): Uint8Array {
  const key = `user:${i % 5000}:profile`;
  const value = JSON.stringify({
    name: `user${i % 5000}`,
    plan: i % 3 === 0 ? "pro" : "free",
    visits: i * 7,
    active: i % 2 === 0,
    tags: ["mobile", "eu-west"],
  });
  return ENCODER.encode(
    `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`,
  );
}

function pssKib(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? NaN);
}

/** A raw echo backend: what the gateway writes comes straight back. */
function startEchoBackend() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const count = await conn.read(buffer);
            if (count === null) break;
            let at = 0;
            while (at < count) {
              at += await conn.write(buffer.subarray(at, count));
            }
          }
        } catch {
          // The gateway went away.
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await serving.catch(() => {});
      for (const conn of conns) conn.close();
    },
  };
}

/** One raw WebSocket session that counts its wire bytes. */
class BenchClient {
  conn!: Deno.Conn;
  sentBytes = 0;
  receivedBytes = 0;
  #deflater: MessageDeflater | undefined;
  #inflater: MessageInflater | undefined;
  #messages: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #inflating: Promise<void> = Promise.resolve();
  /** Count echoes without inflating them (the timed phase). */
  isCountingOnly = false;
  #parser = new WsFrameParser({
    onMessage: (_isText, payload, isCompressed) => {
      const copy = payload.slice();
      if (!isCompressed || this.isCountingOnly) {
        this.#deliver(copy);
        return;
      }
      const inflater = this.#inflater!;
      this.#inflating = this.#inflating.then(async () =>
        this.#deliver(await inflater.decompress(copy))
      );
    },
    onControl: () => {},
  }, {
    expectMasked: false,
    maxMessageBytes: 1 << 24,
    validateUtf8: false,
    isCompressionNegotiated: true,
  });

  static async open(port: number, isOffering: boolean): Promise<BenchClient> {
    const client = new BenchClient();
    client.conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await client.conn.write(ENCODER.encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        (isOffering
          ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
          : "") +
        "Origin: http://127.0.0.1\r\n\r\n",
    ));
    const buffer = new Uint8Array(4096);
    let head = "";
    let rest = new Uint8Array(0);
    for (let i = 0; i < 100 && !head.includes("\r\n\r\n"); i++) {
      const count = await client.conn.read(buffer);
      if (count === null) throw new Error("gateway closed during handshake");
      const text = new TextDecoder("latin1").decode(buffer.subarray(0, count));
      const end = (head + text).indexOf("\r\n\r\n");
      if (end >= 0) rest = buffer.slice(end + 4 - head.length, count);
      head += text;
    }
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(head);
    const extensions = /sec-websocket-extensions: ([^\r]*)/i.exec(head)?.[1];
    if (extensions !== undefined) {
      client.#deflater = new MessageDeflater({
        minSize: 0,
        noContextTakeover: extensions.includes("client_no_context_takeover"),
      });
      client.#inflater = new MessageInflater({
        noContextTakeover: extensions.includes("server_no_context_takeover"),
      });
    }
    if (rest.length > 0) client.#parser.push(rest);
    client.#read();
    return client;
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        this.receivedBytes += count;
        this.#parser.push(buffer.subarray(0, count));
      }
    } catch {
      // Closed by close().
    }
  }

  #deliver(message: Uint8Array): void {
    this.#messages.push(message);
    this.#wake?.();
  }

  /** The frame a browser would send for `message` (compressed if agreed). */
  async frameOf(message: Uint8Array): Promise<Uint8Array> {
    const compressed = await this.#deflater?.compress(message);
    return compressed === undefined || compressed === null
      ? encodeClientFrame(Opcode.TEXT, message)
      : encodeClientFrame(Opcode.TEXT, compressed, { rsv: 4 });
  }

  async send(message: Uint8Array): Promise<void> {
    await this.sendFrames([await this.frameOf(message)]);
  }

  /** Writes frames built by `frameOf`, in one write. */
  async sendFrames(frames: Uint8Array[]): Promise<void> {
    const total = frames.reduce((sum, frame) => sum + frame.length, 0);
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const frame of frames) {
      bytes.set(frame, offset);
      offset += frame.length;
    }
    this.sentBytes += total;
    let at = 0;
    while (at < total) at += await this.conn.write(bytes.subarray(at));
  }

  async receive(count: number): Promise<Uint8Array[]> {
    for (let i = 0; i < 1_000_000 && this.#messages.length < count; i++) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      const timer = setTimeout(resolve, 10_000);
      await promise;
      clearTimeout(timer);
      if (this.#messages.length < count && i > 0 && i % 1000 === 0) {
        throw new Error("echoes stopped coming");
      }
    }
    return this.#messages.splice(0, count);
  }

  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

async function startGatewayProcess(
  backendPort: number,
  compression: RouteOptions["compression"],
) {
  const options = {
    allowOrigins: "*",
    compressionMemoryBytes: 1024 * 1024 * 1024,
    routes: [{
      path: "/",
      target: `127.0.0.1:${backendPort}`,
      framing: "u32be,text",
      compression,
    }],
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...startTaskV8Flags(),
      `${HERE}gateway.ts`,
      JSON.stringify(options),
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const first = await child.stdout.pipeThrough(new TextDecoderStream())
    .values().next();
  const port = Number(/port (\d+)/.exec(first.value ?? "")?.[1]);
  if (!port) throw new Error("the gateway did not start");
  return {
    port,
    pid: child.pid,
    async stop() {
      await child.stdin.close();
      await child.status;
    },
  };
}

async function throughput(
  name: string,
  clients: number,
  messages: number,
): Promise<void> {
  const backend = startEchoBackend();
  const gateway = await startGatewayProcess(backend.port, CONFIGS[name]);
  const sessions = await Promise.all(
    Array.from(
      { length: clients },
      () => BenchClient.open(gateway.port, true),
    ),
  );
  // The browsers' compression happens before the clock starts (frames
  // built in order on each session's context) and echoes are counted, not
  // inflated: the timed phase measures the gateway.
  let payloadBytes = 0;
  const frames: Uint8Array[][] = [];
  for (const [s, session] of sessions.entries()) {
    const own: Uint8Array[] = [];
    for (let i = 0; i < messages; i++) {
      const message = redisMessage(s * messages + i);
      payloadBytes += message.length;
      own.push(await session.frameOf(message));
    }
    frames.push(own);
    session.isCountingOnly = true;
  }
  const started = performance.now();
  await Promise.all(sessions.map(async (session, s) => {
    for (let i = 0; i < messages; i += WINDOW) {
      await session.sendFrames(frames[s]!.slice(i, i + WINDOW));
      await session.receive(Math.min(WINDOW, messages - i));
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const total = clients * messages;
  const sent = sessions.reduce((sum, s) => sum + s.sentBytes, 0);
  const received = sessions.reduce((sum, s) => sum + s.receivedBytes, 0);
  for (const session of sessions) session.close();
  await gateway.stop();
  await backend.close();
  // deno-lint-ignore no-console
  console.log(
    `${name.padEnd(27)} ${Math.round(total / seconds)} msg/s  ` +
      `payload ${(payloadBytes / total).toFixed(1)} B/msg  ` +
      `wire to gateway ${(sent / total).toFixed(1)} B/msg  ` +
      `wire to browser ${(received / total).toFixed(1)} B/msg`,
  );
}

async function memory(name: string, count: number): Promise<void> {
  const backend = startEchoBackend();
  const gateway = await startGatewayProcess(backend.port, CONFIGS[name]);
  const sessions: BenchClient[] = [];
  const open = async (i: number) => {
    const session = await BenchClient.open(gateway.port, true);
    sessions.push(session);
    await session.send(redisMessage(i));
    await session.receive(1);
  };
  for (let i = 0; i < WARM_SESSIONS; i++) await open(i);
  const before = pssKib(gateway.pid);
  for (let i = 0; i < count; i += 50) {
    const batch = Math.min(50, count - i);
    await Promise.all(Array.from({ length: batch }, (_, j) => open(i + j)));
  }
  const after = pssKib(gateway.pid);
  for (const session of sessions) session.close();
  await gateway.stop();
  await backend.close();
  // deno-lint-ignore no-console
  console.log(
    `${name.padEnd(27)} ${((after - before) / count).toFixed(1)} KiB/session`,
  );
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    clients: { type: "string", default: "8" },
    messages: { type: "string", default: "4000" },
    sessions: { type: "string", default: "500" },
  },
  strict: true,
});
// deno-lint-ignore no-console
console.log(
  `# Redis-like text workload, ${values.clients} sessions x ${values.messages} messages, ${WINDOW} in flight; ${Deno.version.deno}`,
);
for (const name of Object.keys(CONFIGS)) {
  await throughput(name, Number(values.clients), Number(values.messages));
}
// deno-lint-ignore no-console
console.log(
  `# gateway PSS per idle session (after one message each), ${values.sessions} sessions`,
);
for (const name of Object.keys(CONFIGS)) {
  await memory(name, Number(values.sessions));
}
