/**
 * Loopback TCP backends started by tests: each listens on 127.0.0.1 port 0,
 * runs a handler per connection, and is stopped (listener and every
 * connection closed, handlers awaited) by `close()` / `await using`.
 *
 * @module
 */

import { startAcceptLoop } from "./accept_loop.ts";

/** A running test backend. */
export interface TestBackend {
  /** The port it listens on. */
  readonly port: number;
  /** `127.0.0.1:PORT`, ready for a route's `target`. */
  readonly target: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resolves with the next accepted connection's index. */
  nextConnection(): Promise<number>;
  /** Stops the backend. */
  close(): Promise<void>;
  /** Same as close. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Handles one backend connection; closing `conn` is done by the harness. */
export type ConnectionHandler = (conn: Deno.TcpConn) => Promise<void>;

/** Starts a backend running `handler` for each connection. */
export function startBackend(handler: ConnectionHandler): TestBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const loop = startAcceptLoop(listener, handler);
  const close = () => loop.close();
  return {
    port: listener.addr.port,
    target: `127.0.0.1:${listener.addr.port}`,
    get accepted() {
      return loop.accepted;
    },
    nextConnection: () => loop.nextConnection(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A backend that echoes every byte back (any framing survives it). */
export function startEchoBackend(): TestBackend {
  return startBackend(async (conn) => {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) return;
      await writeAll(conn, buffer.subarray(0, count));
    }
  });
}

/** A backend that writes `bytes` once, then closes (or waits when `keepOpen`). */
export function startScriptedBackend(
  bytes: Uint8Array,
  options: { keepOpen?: boolean } = {},
): TestBackend {
  return startBackend(async (conn) => {
    await writeAll(conn, bytes);
    if (options.keepOpen) {
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer)) !== null) {
        // Drain until the gateway closes.
      }
    }
  });
}

/** A backend that records everything it receives, until EOF. */
export function startRecordingBackend(): TestBackend & {
  received: () => Uint8Array[];
  ended: () => Promise<void>;
} {
  const chunks: Uint8Array[][] = [];
  const ends: Promise<void>[] = [];
  let notifyEnd: (() => void)[] = [];
  const backend = startBackend(async (conn) => {
    const mine: Uint8Array[] = [];
    chunks.push(mine);
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) break;
        mine.push(buffer.slice(0, count));
      }
    } finally {
      for (const notify of notifyEnd) notify();
      notifyEnd = [];
    }
  });
  return Object.assign(backend, {
    received: () => chunks.map((list) => concat(list)),
    ended: () => {
      const { promise, resolve } = Promise.withResolvers<void>();
      notifyEnd.push(resolve);
      ends.push(promise);
      return promise;
    },
  });
}

/** Writes all of `bytes`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
}

/**
 * Reads into `buffer`, counting a reset (or a socket closed under the read)
 * as EOF, for readers that only care where the stream ends.
 *
 * @param conn The connection to read.
 * @param buffer Where the bytes go.
 * @returns How many bytes were read, or null at EOF or on an error.
 */
export async function readOrEof(
  conn: Deno.Conn,
  buffer: Uint8Array,
): Promise<number | null> {
  try {
    return await conn.read(buffer);
  } catch {
    return null;
  }
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A u32be frame around `payload`. */
export function u32beFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
