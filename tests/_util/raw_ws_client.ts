/**
 * A raw WebSocket client over a plain TCP socket for conformance tests: it
 * sends hand-crafted bytes and reads back parsed frames (including control
 * frames) and the close code, with deadlines.
 *
 * @module
 */

import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";
import { parseClosePayload } from "../../src/websocket/close_frame.ts";
import { within } from "./assert.ts";
import { writeAll } from "./backends.ts";

/** One frame or message received from the server. */
export type ReceivedFrame =
  | { kind: "message"; isText: boolean; payload: Uint8Array }
  | { kind: "ping" | "pong"; payload: Uint8Array }
  | { kind: "close"; code: number; reason: string };

/** The result of the opening handshake. */
export interface HandshakeResponse {
  /** The HTTP status code. */
  status: number;
  /** The response head as text. */
  head: string;
}

/** A raw client connected to the gateway. */
export class RawWsClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  #frames: ReceivedFrame[] = [];
  #waiters: (() => void)[] = [];
  #eof = false;
  #pending: Uint8Array = new Uint8Array(0);
  #parser: WsFrameParser;
  #reading: Promise<void> | undefined;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#parser = new WsFrameParser({
      onMessage: (isText, payload) =>
        this.#push({ kind: "message", isText, payload: payload.slice() }),
      onControl: (opcode, payload) => {
        if (opcode === Opcode.CLOSE) {
          const { code, reason } = parseClosePayload(payload);
          this.#push({ kind: "close", code, reason });
        } else {
          this.#push({
            kind: opcode === Opcode.PING ? "ping" : "pong",
            payload: payload.slice(),
          });
        }
      },
    }, { expectMasked: false, maxMessageBytes: 1 << 30, validateUtf8: false });
  }

  /** Connects and performs the opening handshake; returns the response. */
  static async connect(
    port: number,
    path = "/",
    extraHeaders: Record<string, string> = {},
  ): Promise<{ client: RawWsClient; response: HandshakeResponse }> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawWsClient(conn);
    const headers = {
      Host: `127.0.0.1:${port}`,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      ...extraHeaders,
    };
    let head = `GET ${path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      head += `${name}: ${value}\r\n`;
    }
    await writeAll(conn, new TextEncoder().encode(head + "\r\n"));
    const response = await within(
      client.#readHead(),
      5000,
      "handshake response",
    );
    if (response.status === 101) client.#startReading();
    return { client, response };
  }

  async #readHead(): Promise<HandshakeResponse> {
    const buffer = new Uint8Array(16 * 1024);
    let filled = 0;
    for (let reads = 0; reads < 1000; reads++) {
      const count = await this.conn.read(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
      const text = new TextDecoder("latin1").decode(buffer.subarray(0, filled));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#pending = buffer.slice(end + 4, filled);
        const head = text.slice(0, end);
        return { status: Number(head.split(" ")[1]), head };
      }
    }
    const head = new TextDecoder("latin1").decode(buffer.subarray(0, filled));
    return { status: Number(head.split(" ")[1] ?? 0), head };
  }

  #startReading(): void {
    this.#reading = (async () => {
      try {
        if (this.#pending.length > 0) this.#parser.push(this.#pending);
        const buffer = new Uint8Array(256 * 1024);
        for (;;) {
          const count = await this.conn.read(buffer);
          if (count === null) break;
          this.#parser.push(buffer.subarray(0, count));
        }
      } catch {
        // Reset or closed by us.
      } finally {
        this.#eof = true;
        this.#wake();
      }
    })();
  }

  #push(frame: ReceivedFrame): void {
    this.#frames.push(frame);
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Sends raw bytes. */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Sends a masked, final data frame. */
  send(payload: Uint8Array | string): Promise<void> {
    const isText = typeof payload === "string";
    const bytes = isText ? new TextEncoder().encode(payload) : payload;
    return this.sendRaw(
      encodeClientFrame(isText ? Opcode.TEXT : Opcode.BINARY, bytes),
    );
  }

  /** Sends a close frame with `code` (and reason). */
  sendClose(code: number, reason = ""): Promise<void> {
    const reasonBytes = new TextEncoder().encode(reason);
    const payload = new Uint8Array(2 + reasonBytes.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(reasonBytes, 2);
    return this.sendRaw(encodeClientFrame(Opcode.CLOSE, payload));
  }

  /** Resolves with the next received frame, or undefined at EOF. */
  async next(timeoutMs = 5000): Promise<ReceivedFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 100000; attempt++) {
      const frame = this.#frames.shift();
      if (frame !== undefined) return frame;
      if (this.#eof) return undefined;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for a frame`);
      }
      await within(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        remaining,
        "a frame",
      );
    }
    throw new Error("Too many frames");
  }

  /** Reads frames until a close frame; returns it (undefined at EOF). */
  async nextClose(
    timeoutMs = 5000,
  ): Promise<
    { code: number; reason: string; before: ReceivedFrame[] } | undefined
  > {
    const before: ReceivedFrame[] = [];
    for (let i = 0; i < 100000; i++) {
      const frame = await this.next(timeoutMs);
      if (frame === undefined) return undefined;
      if (frame.kind === "close") {
        return { code: frame.code, reason: frame.reason, before };
      }
      before.push(frame);
    }
    return undefined;
  }

  /** Resolves once the server has closed the TCP connection. */
  async waitForEof(timeoutMs = 5000): Promise<void> {
    for (let i = 0; i < 100000; i++) {
      const frame = await this.next(timeoutMs);
      if (frame === undefined) return;
    }
  }

  /** Closes the socket and waits for the reader. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
