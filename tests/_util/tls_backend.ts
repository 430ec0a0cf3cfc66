/**
 * A loopback TLS echo backend (`Deno.listenTls` on 127.0.0.1 port 0) for
 * tests of routes with `backendTls`. Stopped, with every connection, by
 * `close()` / `await using`.
 *
 * @module
 */

import { startAcceptLoop } from "./accept_loop.ts";
import { writeAll } from "./backends.ts";
import type { TestCertificate } from "./certificates.ts";

/** A running TLS echo backend. */
export interface TlsTestBackend extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** `127.0.0.1:PORT`, ready for a route's `target`. */
  readonly target: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections whose TLS handshake completed and that echoed data. */
  readonly echoed: number;
  /** Stops the backend. */
  close(): Promise<void>;
}

/** Starts a TLS backend presenting `certificate` that echoes every byte. */
export function startTlsEchoBackend(
  certificate: TestCertificate,
): TlsTestBackend {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: certificate.certPem,
    key: certificate.keyPem,
  });
  let echoed = 0;
  const loop = startAcceptLoop(listener, async (conn) => {
    const buffer = new Uint8Array(64 * 1024);
    let hasEchoed = false;
    for (;;) {
      const count = await conn.read(buffer);
      if (count === null) return;
      await writeAll(conn, buffer.subarray(0, count));
      if (!hasEchoed) {
        hasEchoed = true;
        echoed++;
      }
    }
  });
  const close = () => loop.close();
  const port = listener.addr.port;
  return {
    port,
    target: `127.0.0.1:${port}`,
    get accepted() {
      return loop.accepted;
    },
    get echoed() {
      return echoed;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
