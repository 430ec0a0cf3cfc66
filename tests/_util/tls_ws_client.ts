/**
 * A raw WebSocket client over TLS (`wss://`) for tests: Deno's built-in
 * `WebSocket` cannot be told which CA to trust, so this one opens
 * `Deno.connectTls({ caCerts })`, completes the TLS handshake (so a
 * certificate problem rejects `connect`), sends the same opening handshake
 * bytes as {@linkcode RawWsClient}, and reads back parsed frames with
 * deadlines.
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
import type { HandshakeResponse, ReceivedFrame } from "./raw_ws_client.ts";

/** Options of {@linkcode TlsWsClient.connect}. */
export interface TlsWsConnectOptions {
  /** PEM CA certificates to trust (instead of nothing custom). */
  caCerts: string[];
  /** The name to verify the certificate against. @default {"localhost"} */
  serverName?: string;
  /** The request path. @default {"/"} */
  path?: string;
  /** Extra request headers. @default {{}} */
  headers?: Record<string, string>;
}

/** A raw WebSocket client connected to the gateway over TLS. */
export class TlsWsClient implements AsyncDisposable {
  /** The TLS connection. */
  readonly conn: Deno.TlsConn;
  #frames: ReceivedFrame[] = [];
  #waiters: (() => void)[] = [];
  #eof = false;
  #pending: Uint8Array = new Uint8Array(0);
  #parser: WsFrameParser;
  #reading: Promise<void> | undefined;

  /** Use {@linkcode TlsWsClient.connect}. */
  constructor(conn: Deno.TlsConn) {
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

  /**
   * Connects to 127.0.0.1:`port`, completes the TLS handshake (rejecting on
   * a certificate the CAs do not vouch for) and the opening handshake.
   */
  static async connect(
    port: number,
    options: TlsWsConnectOptions,
  ): Promise<{ client: TlsWsClient; response: HandshakeResponse }> {
    const { caCerts, serverName = "localhost", path = "/", headers = {} } =
      options;
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.startTls(tcp, { hostname: serverName, caCerts });
    } catch (error) {
      tcp.close();
      throw error;
    }
    try {
      await within(conn.handshake(), 5000, "TLS handshake");
    } catch (error) {
      conn.close();
      throw error;
    }
    const client = new TlsWsClient(conn);
    const all = {
      Host: `${serverName}:${port}`,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      ...headers,
    };
    let head = `GET ${path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(all)) {
      head += `${name}: ${value}\r\n`;
    }
    try {
      await writeAll(conn, new TextEncoder().encode(head + "\r\n"));
      const response = await within(
        client.#readHead(),
        5000,
        "handshake response",
      );
      if (response.status === 101) client.#startReading();
      return { client, response };
    } catch (error) {
      await client.close();
      throw error;
    }
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
        const buffer = new Uint8Array(64 * 1024);
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

  /** Sends a masked, final data frame. */
  send(payload: Uint8Array | string): Promise<void> {
    const isText = typeof payload === "string";
    const bytes = isText ? new TextEncoder().encode(payload) : payload;
    return writeAll(
      this.conn,
      encodeClientFrame(isText ? Opcode.TEXT : Opcode.BINARY, bytes),
    );
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

  /** Reads frames until a close frame; returns its code (undefined at EOF). */
  async nextClose(
    timeoutMs = 5000,
  ): Promise<{ code: number; reason: string } | undefined> {
    for (let i = 0; i < 100000; i++) {
      const frame = await this.next(timeoutMs);
      if (frame === undefined) return undefined;
      if (frame.kind === "close") {
        return { code: frame.code, reason: frame.reason };
      }
    }
    return undefined;
  }

  /** Sends a close frame with `code`. */
  sendClose(code: number): Promise<void> {
    return writeAll(
      this.conn,
      encodeClientFrame(Opcode.CLOSE, Uint8Array.of(code >> 8, code & 0xff)),
    );
  }

  /**
   * Ends the session politely when it is open (close frame 1000, then up to
   * 2 s for the server to close the connection), then closes the socket and
   * waits for the reader.
   */
  async close(): Promise<void> {
    if (this.#reading !== undefined && !this.#eof) {
      try {
        await this.sendClose(1000);
        const deadline = Date.now() + 2000;
        for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
          if (await this.next(deadline - Date.now()) === undefined) break;
        }
      } catch {
        // Already gone, or slow: close below anyway.
      }
    }
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
