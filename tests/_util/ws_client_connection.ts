/**
 * The client end of a raw WebSocket connection for tests, over any
 * `Deno.Conn` (plain TCP or TLS): it writes the opening handshake, parses
 * every frame the server sends (control frames included) into a queue, and
 * bounds every wait. `RawWsClient` (raw_ws_client.ts) and `TlsWsClient`
 * (tls_ws_client.ts) add the connection factories.
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
  | {
    kind: "message";
    isText: boolean;
    payload: Uint8Array;
    /** Set (true) only when the first frame had RSV1 (permessage-deflate). */
    isCompressed?: true;
  }
  | { kind: "ping" | "pong"; payload: Uint8Array }
  | { kind: "close"; code: number; reason: string };

/** The result of the opening handshake. */
export interface HandshakeResponse {
  /** The HTTP status code. */
  status: number;
  /** The response head as text. */
  head: string;
}

/** The opening handshake request of {@linkcode WsClientConnection.upgrade}. */
export interface UpgradeRequest {
  /** The `Host` header value (`name:port`). */
  host: string;
  /** The request path. */
  path: string;
  /** Extra request headers; they override the standard ones. */
  headers: Record<string, string>;
}

/** A close frame received, with the frames that came before it. */
export interface ReceivedClose {
  /** The close code. */
  code: number;
  /** The close reason. */
  reason: string;
  /** Every frame received before the close frame, in order. */
  before: ReceivedFrame[];
}

/** A raw WebSocket client over a connected socket `C`. */
export class WsClientConnection<C extends Deno.Conn>
  implements AsyncDisposable {
  /** The socket. */
  readonly conn: C;
  #frames: ReceivedFrame[] = [];
  #waiters: (() => void)[] = [];
  #eof = false;
  #pending: Uint8Array = new Uint8Array(0);
  #parser: WsFrameParser;
  #reading: Promise<void> | undefined;

  /** Wraps `conn`; call {@linkcode WsClientConnection.upgrade} next. */
  constructor(conn: C) {
    this.conn = conn;
    this.#parser = new WsFrameParser({
      onMessage: (isText, payload, isCompressed) =>
        this.#push({
          kind: "message",
          isText,
          payload: payload.slice(),
          ...(isCompressed ? { isCompressed: true as const } : {}),
        }),
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
    }, {
      expectMasked: false,
      maxMessageBytes: 1 << 30,
      validateUtf8: false,
      // Lets compression tests see RSV1; the gateway sets it only when
      // permessage-deflate was negotiated.
      isCompressionNegotiated: true,
    });
  }

  /**
   * Sends the opening handshake and reads the response head (5 s bound); on
   * a 101 starts reading frames. Closes the socket when it fails.
   *
   * @param request The host, path and extra headers of the request.
   * @returns The response status and head.
   */
  async upgrade(request: UpgradeRequest): Promise<HandshakeResponse> {
    const headers = {
      Host: request.host,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
      ...request.headers,
    };
    let head = `GET ${request.path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      head += `${name}: ${value}\r\n`;
    }
    try {
      await writeAll(this.conn, new TextEncoder().encode(head + "\r\n"));
      const response = await within(
        this.#readHead(),
        5000,
        "handshake response",
      );
      if (response.status === 101) this.#startReading();
      return response;
    } catch (error) {
      await this.close();
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

  /** Whether the upgrade succeeded and the server has not ended the connection. */
  get isOpen(): boolean {
    return this.#reading !== undefined && !this.#eof;
  }

  /**
   * Sends raw bytes.
   *
   * @param bytes What to write, as is.
   * @returns Resolves once every byte is written.
   */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /**
   * Sends a masked, final data frame.
   *
   * @param payload Text for a text frame, bytes for a binary frame.
   * @returns Resolves once the frame is written.
   */
  send(payload: Uint8Array | string): Promise<void> {
    const isText = typeof payload === "string";
    const bytes = isText ? new TextEncoder().encode(payload) : payload;
    return this.sendRaw(
      encodeClientFrame(isText ? Opcode.TEXT : Opcode.BINARY, bytes),
    );
  }

  /**
   * Sends a close frame.
   *
   * @param code The close code.
   * @param reason The close reason.
   * @returns Resolves once the frame is written.
   */
  sendClose(code: number, reason = ""): Promise<void> {
    const reasonBytes = new TextEncoder().encode(reason);
    const payload = new Uint8Array(2 + reasonBytes.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(reasonBytes, 2);
    return this.sendRaw(encodeClientFrame(Opcode.CLOSE, payload));
  }

  /**
   * Takes the next received frame.
   *
   * @param timeoutMs How long to wait at most, in milliseconds.
   * @returns The frame, or undefined at EOF.
   */
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

  /**
   * Reads frames until a close frame.
   *
   * @param timeoutMs How long to wait for each frame, in milliseconds.
   * @returns The close and the frames before it, or undefined at EOF.
   */
  async nextClose(timeoutMs = 5000): Promise<ReceivedClose | undefined> {
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

  /**
   * Reads (and drops) frames until the server closes the connection.
   *
   * @param timeoutMs How long to wait for each frame, in milliseconds.
   * @returns Resolves at EOF.
   */
  async waitForEof(timeoutMs = 5000): Promise<void> {
    for (let i = 0; i < 100000; i++) {
      const frame = await this.next(timeoutMs);
      if (frame === undefined) return;
    }
  }

  /**
   * Closes the socket and waits for the reader.
   *
   * @returns Resolves once the reader has stopped.
   */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    await this.#reading;
  }

  /** Same as {@linkcode WsClientConnection.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The payloads of the data messages among `frames`.
 *
 * @param frames Frames as {@linkcode WsClientConnection.next} returns them.
 * @returns The message payloads, in order.
 *
 * @example Control frames are skipped
 * ```ts
 * import { assertEquals } from "./assert.ts";
 * import { messagesOf } from "./ws_client_connection.ts";
 *
 * const payload = new Uint8Array([1]);
 * assertEquals(
 *   messagesOf([
 *     { kind: "ping", payload: new Uint8Array(0) },
 *     { kind: "message", isText: false, payload },
 *   ]),
 *   [payload],
 * );
 * ```
 */
export function messagesOf(frames: readonly ReceivedFrame[]): Uint8Array[] {
  return frames.flatMap((frame) =>
    frame.kind === "message" ? [frame.payload] : []
  );
}
