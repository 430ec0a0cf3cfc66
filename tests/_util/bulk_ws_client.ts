/**
 * A raw WebSocket client over plain TCP for flow-control tests: it streams
 * pre-masked binary frames as fast as the socket takes them, and reads
 * server frames only when asked to, so a test can make it a flooding or a
 * stalled browser. Both directions keep a running SHA-256 of the payload
 * bytes and a progress counter that stall detection can watch.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  encodeClientFrame,
  Opcode,
  WsFrameParser,
} from "../../src/websocket/ws_frame_codec.ts";
import { parseClosePayload } from "../../src/websocket/close_frame.ts";
import { within } from "./assert.ts";
import { writeAll } from "./backends.ts";
import { patternBytes } from "./web_socket_client.ts";

/**
 * A fixed set of distinct payloads, each also kept as one pre-masked client
 * frame, so a sender does no per-message masking or allocation. Message `i`
 * of a stream is payload `(i * 7) % count`, an order that repeats only after
 * `count` messages.
 */
export class PayloadPool {
  /** Bytes per payload. */
  readonly messageBytes: number;
  #payloads: Uint8Array[] = [];
  #frames: Uint8Array[] = [];

  /**
   * Builds `count` payloads of `messageBytes` each from a seeded pattern.
   * @param messageBytes Bytes per payload.
   * @param count How many distinct payloads (odd counts work best).
   */
  constructor(messageBytes: number, count = 15) {
    this.messageBytes = messageBytes;
    for (let i = 0; i < count; i++) {
      const payload = patternBytes(messageBytes, i + 1);
      this.#payloads.push(payload);
      this.#frames.push(encodeClientFrame(Opcode.BINARY, payload));
    }
  }

  /** The payload of message `index`. */
  payload(index: number): Uint8Array {
    return this.#payloads[(index * 7) % this.#payloads.length]!;
  }

  /** Message `index` as a masked client frame. */
  frame(index: number): Uint8Array {
    return this.#frames[(index * 7) % this.#frames.length]!;
  }
}

/** What a finished stream moved. */
export interface StreamDigest {
  /** Payload bytes. */
  bytes: number;
  /** SHA-256 of the payload bytes in order, as hex. */
  sha256: string;
}

/** A raw client connected to a gateway, after the opening handshake. */
export class BulkWsClient implements AsyncDisposable {
  /** The TCP connection. */
  readonly conn: Deno.TcpConn;
  #leftover: Uint8Array;
  #wireBytesSent = 0;
  #wireBytesReceived = 0;
  #isClosed = false;

  /** Use {@linkcode BulkWsClient.connect}. */
  constructor(conn: Deno.TcpConn, leftover: Uint8Array) {
    this.conn = conn;
    this.#leftover = leftover;
  }

  /**
   * Connects to `127.0.0.1:port` and completes the opening handshake;
   * throws unless the answer is `101`.
   */
  static async connect(
    port: number,
    path = "/",
    timeoutMs = 5000,
  ): Promise<BulkWsClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const head = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n";
      await writeAll(conn, new TextEncoder().encode(head));
      const leftover = await within(readHead(conn), timeoutMs, "the 101");
      return new BulkWsClient(conn, leftover);
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** Bytes written to the socket so far (frames, headers included). */
  get wireBytesSent(): number {
    return this.#wireBytesSent;
  }

  /** Bytes read from the socket so far. */
  get wireBytesReceived(): number {
    return this.#wireBytesReceived;
  }

  /**
   * Sends `totalBytes` of payload as binary messages from `pool`, as fast
   * as the socket accepts them; rejects when the socket is closed first.
   * @returns The digest of the payload sent.
   */
  async sendStream(
    pool: PayloadPool,
    totalBytes: number,
  ): Promise<StreamDigest> {
    const hash = createHash("sha256");
    let sent = 0;
    for (let index = 0; sent < totalBytes; index++) {
      const rest = totalBytes - sent;
      let frame = pool.frame(index);
      let payload = pool.payload(index);
      if (rest < payload.length) {
        payload = payload.subarray(0, rest);
        frame = encodeClientFrame(Opcode.BINARY, payload);
      }
      hash.update(payload);
      for (let chunk = frame; chunk.length > 0;) {
        const written = await this.conn.write(chunk);
        this.#wireBytesSent += written;
        chunk = chunk.subarray(written);
      }
      sent += payload.length;
    }
    return { bytes: sent, sha256: hash.digest("hex") };
  }

  /**
   * Reads binary messages until `totalBytes` of payload have arrived;
   * rejects on a close frame, EOF, or after `timeoutMs`.
   * @returns The digest of the payload received.
   */
  async receiveStream(
    totalBytes: number,
    timeoutMs: number,
  ): Promise<StreamDigest> {
    const hash = createHash("sha256");
    let received = 0;
    let closed: string | undefined;
    const parser = new WsFrameParser({
      onMessage: (_isText, payload) => {
        hash.update(payload);
        received += payload.length;
      },
      onControl: (opcode, payload) => {
        if (opcode === Opcode.CLOSE) {
          const { code, reason } = parseClosePayload(payload);
          closed = `${code} "${reason}"`;
        }
      },
    }, { expectMasked: false, maxMessageBytes: 1 << 30, validateUtf8: false });
    const deadline = Date.now() + timeoutMs;
    const leftover = this.#leftover;
    this.#leftover = new Uint8Array(0);
    if (leftover.length > 0) parser.push(leftover);
    const buffer = new Uint8Array(256 * 1024);
    // Each read takes at least one byte, so the byte count bounds the loop.
    for (let reads = 0; received < totalBytes && closed === undefined;) {
      if (++reads > totalBytes + 1) break;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const count = await within(this.conn.read(buffer), remaining, "data");
      if (count === null) break;
      this.#wireBytesReceived += count;
      parser.push(buffer.subarray(0, count));
    }
    if (received !== totalBytes) {
      throw new Error(
        `Cannot receive the stream: got ${received} of ${totalBytes} bytes` +
          (closed === undefined ? "" : `, then close ${closed}`),
      );
    }
    return { bytes: received, sha256: hash.digest("hex") };
  }

  /** Sends a close frame (best effort, bounded) and closes the socket. */
  async close(code = 1000, timeoutMs = 1000): Promise<void> {
    if (this.#isClosed) return;
    const payload = new Uint8Array([code >> 8, code & 0xff]);
    await within(
      writeAll(this.conn, encodeClientFrame(Opcode.CLOSE, payload)),
      timeoutMs,
      "the close frame to be written",
    ).catch(() => {});
    this.abort();
  }

  /** Closes the socket at once; a pending send or receive rejects. */
  abort(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.abort();
    return Promise.resolve();
  }
}

/** Reads the response head; throws unless 101; returns the bytes after it. */
async function readHead(conn: Deno.TcpConn): Promise<Uint8Array> {
  const buffer = new Uint8Array(16 * 1024);
  let filled = 0;
  for (let reads = 0; reads < 1000 && filled < buffer.length; reads++) {
    const count = await conn.read(buffer.subarray(filled));
    if (count === null) break;
    filled += count;
    const text = new TextDecoder("latin1").decode(buffer.subarray(0, filled));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const status = text.slice(0, text.indexOf("\r\n"));
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      throw new Error(`Cannot open the WebSocket: got "${status}"`);
    }
    return buffer.slice(end + 4, filled);
  }
  throw new Error("Cannot open the WebSocket: no complete response head");
}
