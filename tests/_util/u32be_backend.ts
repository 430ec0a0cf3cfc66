/**
 * A loopback backend that speaks u32be framing strictly: it parses every
 * 4-byte big-endian length + payload it receives, records the raw bytes and
 * the parsed payloads per connection, and answers each frame with one frame
 * (the same payload, or `reply(payload)`). Bytes left over at EOF (a
 * truncated frame) are recorded, never answered.
 *
 * @module
 */

import {
  concat,
  startBackend,
  type TestBackend,
  u32beFrame,
  writeAll,
} from "./backends.ts";

/** What one backend connection saw. */
export interface U32beConnectionLog {
  /** Every byte received, in order (grows while the connection is open). */
  raw: Uint8Array[];
  /** The payload of every complete frame, in order. */
  payloads: Uint8Array[];
  /** Bytes after the last complete frame, at EOF. */
  trailing: Uint8Array;
  /** Resolves once the gateway closed (EOF) or the connection failed. */
  ended: Promise<void>;
}

/** Options of {@linkcode startU32beBackend}. */
export interface U32beBackendOptions {
  /**
   * Builds the reply payload for a received payload.
   * @default {the payload itself (echo)}
   */
  reply?: (payload: Uint8Array) => Uint8Array;
}

/** A running u32be backend with per-connection logs. */
export interface U32beBackend extends TestBackend {
  /** One log per accepted connection, in accept order. */
  readonly connections: U32beConnectionLog[];
}

/** Starts a strict u32be backend on 127.0.0.1 port 0. */
export function startU32beBackend(
  options: U32beBackendOptions = {},
): U32beBackend {
  const reply = options.reply ?? ((payload: Uint8Array) => payload);
  const connections: U32beConnectionLog[] = [];
  const backend = startBackend(async (conn) => {
    const ended = Promise.withResolvers<void>();
    const log: U32beConnectionLog = {
      raw: [],
      payloads: [],
      trailing: new Uint8Array(0),
      ended: ended.promise,
    };
    connections.push(log);
    let pending: Uint8Array = new Uint8Array(0);
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) break;
        const chunk = buffer.slice(0, count);
        log.raw.push(chunk);
        pending = pending.length === 0 ? chunk : join(pending, chunk);
        const replies: Uint8Array[] = [];
        let at = 0;
        while (pending.length - at >= 4) {
          const view = new DataView(
            pending.buffer,
            pending.byteOffset + at,
            4,
          );
          const length = view.getUint32(0);
          if (pending.length - at - 4 < length) break;
          const payload = pending.slice(at + 4, at + 4 + length);
          log.payloads.push(payload);
          replies.push(u32beFrame(reply(payload)));
          at += 4 + length;
        }
        pending = pending.subarray(at);
        if (replies.length > 0) await writeAll(conn, concat(replies));
      }
      log.trailing = pending.slice();
    } finally {
      ended.resolve();
    }
  });
  return Object.assign(backend, { connections });
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
