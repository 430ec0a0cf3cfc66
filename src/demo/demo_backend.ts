/**
 * The demo backend: a length-prefixed (`u32be`) TCP service that answers
 * every frame with the same frame in ASCII upper case.
 *
 * @module
 */

import {
  createFrameDecoder,
  createFrameEncoder,
} from "../framing/create_codec.ts";
import { parseFramingSpec } from "../framing/spec.ts";

/** A running demo backend. */
export interface DemoBackend {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts the demo backend on `hostname`, port 0 by default.
 *
 * @example
 * ```ts
 * import { startDemoBackend } from "./demo_backend.ts";
 * import assert from "node:assert/strict";
 * const backend = startDemoBackend();
 * assert.ok(backend.addr.port > 0);
 * await backend.close();
 * ```
 *
 * @param options Where to listen.
 * @returns The running backend.
 */
export function startDemoBackend(
  options: { hostname?: string; port?: number } = {},
): DemoBackend {
  const { hostname = "127.0.0.1", port = 0 } = options;
  const listener = Deno.listen({ hostname, port });
  const conns = new Set<Deno.Conn>();
  const spec = parseFramingSpec("u32be");
  const serving = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        serveUppercaseEcho(conn, spec).finally(() => conns.delete(conn));
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    addr: listener.addr,
    async close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await serving;
    },
  };
}

async function serveUppercaseEcho(
  conn: Deno.Conn,
  spec: ReturnType<typeof parseFramingSpec>,
): Promise<void> {
  const decoder = createFrameDecoder(spec);
  const encoder = createFrameEncoder(spec);
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) break;
      const replies: Uint8Array[] = [];
      decoder.push(buffer.subarray(0, count), (message) => {
        const upper = new Uint8Array(message.length);
        for (let i = 0; i < message.length; i++) {
          const byte = message[i]!;
          upper[i] = byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte;
        }
        replies.push(encoder.encode(upper));
      });
      for (const reply of replies) {
        let rest = reply;
        while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
      }
    }
  } catch {
    // The client went away or sent a bad frame: drop the connection.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
