/**
 * A test wrapper around Deno's built-in `WebSocket` client (binaryType
 * `arraybuffer`): queues every message, exposes the close event as a
 * promise, bounds every wait, and on dispose closes the socket and awaits its
 * close event so the resource sanitizer stays quiet.
 *
 * @module
 */

import { assert, within } from "./assert.ts";

/** One message received: a string for text, bytes for binary. */
export type WsMessage = string | Uint8Array;

/** How the socket closed, as the `close` event reported it. */
export interface WsCloseInfo {
  /** The close code (1006 when the connection dropped). */
  code: number;
  /** The close reason. */
  reason: string;
  /** Whether the closing handshake completed. */
  wasClean: boolean;
  /** Messages received before the close that nobody took with `next()`. */
  unread: WsMessage[];
}

/** A connected Deno WebSocket client for tests. */
export class WsTestClient implements AsyncDisposable {
  /** The underlying socket. */
  readonly socket: WebSocket;
  /** Resolves once the socket has closed (never rejects). */
  readonly closed: Promise<WsCloseInfo>;
  #messages: WsMessage[] = [];
  #waiters: (() => void)[] = [];
  #isClosed = false;
  #received = 0;

  /** Use {@linkcode WsTestClient.open}. */
  constructor(socket: WebSocket, closed: Promise<WsCloseInfo>) {
    this.socket = socket;
    this.closed = closed;
  }

  /**
   * Opens a WebSocket to `url` and waits for `open`. When the server closes
   * right after the upgrade, `open` still fires: read `closed` then.
   */
  static async open(url: string, timeoutMs = 5000): Promise<WsTestClient> {
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<WsCloseInfo>();
    const client = new WsTestClient(socket, closed.promise);
    // A close before open rejects `opened`; nobody may be awaiting it then.
    opened.promise.catch(() => {});
    socket.onopen = () => opened.resolve();
    socket.onmessage = (event: MessageEvent) => {
      const data = event.data;
      client.#messages.push(
        typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer),
      );
      client.#received++;
      client.#wake();
    };
    socket.onerror = () => {
      // The close event follows and carries the code.
    };
    socket.onclose = (event: CloseEvent) => {
      client.#isClosed = true;
      closed.resolve({
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
        unread: client.#messages,
      });
      opened.reject(
        new Error(`WebSocket ${url} closed before opening: ${event.code}`),
      );
      client.#wake();
    };
    try {
      await within(opened.promise, timeoutMs, `WebSocket ${url} to open`);
    } catch (error) {
      socket.close();
      await closed.promise;
      throw error;
    }
    return client;
  }

  /** How many messages have arrived so far. */
  get receivedCount(): number {
    return this.#received;
  }

  /** Sends a text or binary message. */
  send(message: WsMessage): void {
    this.socket.send(message as string | Uint8Array<ArrayBuffer>);
  }

  /** Resolves with the next message; rejects at close or after the deadline. */
  async next(timeoutMs = 5000): Promise<WsMessage> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 1_000_000; attempt++) {
      const message = this.#messages.shift();
      if (message !== undefined) return message;
      if (this.#isClosed) {
        const info = await this.closed;
        throw new Error(
          `WebSocket closed (${info.code} "${info.reason}") while a message was awaited`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await within(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        remaining,
        "a WebSocket message",
      );
    }
    throw new Error(`Timed out after ${timeoutMs} ms waiting for a message`);
  }

  /** Resolves with the next `count` messages, in order. */
  async take(count: number, timeoutMs = 5000): Promise<WsMessage[]> {
    const deadline = Date.now() + timeoutMs;
    const out: WsMessage[] = [];
    for (let i = 0; i < count; i++) {
      out.push(await this.next(Math.max(1, deadline - Date.now())));
    }
    return out;
  }

  /** Resolves with the close info once closed, bounded by `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<WsCloseInfo> {
    return within(this.closed, timeoutMs, "the WebSocket to close");
  }

  /** Starts the closing handshake and waits for the close event. */
  close(code = 1000, reason = "", timeoutMs = 5000): Promise<WsCloseInfo> {
    if (!this.#isClosed) this.socket.close(code, reason);
    return this.waitClosed(timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isClosed) {
      try {
        this.socket.close();
      } catch {
        // Already closing.
      }
    }
    await this.closed;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Encodes text as UTF-8. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Bytes `0..length-1` filled with a pattern that depends on `seed`. */
export function patternBytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    // xorshift32: cheap, and no run of bytes repeats at a short period.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes (fast for big arrays). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Narrows a received message to bytes, asserting it was binary.
 *
 * @param message A message from {@linkcode WsTestClient.next}.
 * @returns The message's bytes.
 */
export function binary(message: WsMessage): Uint8Array {
  assert(message instanceof Uint8Array, "expected a binary message");
  return message;
}
