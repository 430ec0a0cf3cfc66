/**
 * Opening the gateway's listener, plain TCP, TLS or a Unix socket, and
 * noticing when the
 * TLS certificate files change on disk so the gateway can swap in a new
 * listener. The stamp of the files last loaded lives here.
 *
 * @module
 */

import type { ResolvedGatewayConfig } from "../config/config.ts";
import { listenUnix } from "./unix_listener.ts";

/**
 * Opens listeners for one gateway and remembers the stamp (modification
 * times and sizes) of the certificate files the last TLS listener loaded.
 *
 * @example Open a plain listener on a free port
 * ```ts
 * import { ListenerOpener } from "./listener_opener.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const config = resolveOptions({
 *   port: 0,
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 * });
 * const opener = new ListenerOpener();
 * const listener = await opener.open(config, 0);
 * assert.ok((listener.addr as Deno.NetAddr).port > 0);
 * assert.equal(await opener.isCertificateChanged(config), false);
 * listener.close();
 * ```
 */
export class ListenerOpener {
  #certStamp = "";

  /**
   * Opens a listener on `config.hostname` and `port`, with TLS when the
   * configuration has certificate files, or on `config.unixSocket` (see
   * {@linkcode listenUnix}: stale files replaced, live ones refused). A port already in use fails with
   * `Deno.errors.AddrInUse`, TLS or not, unless `reusePort` is set.
   * @param config The configuration (hostname, TLS files, reusePort).
   * @param port The port (0 for any free one).
   * @param reusePort Whether the port may be shared with other
   * SO_REUSEPORT listeners (workers, a certificate reload's successor).
   * @returns The listener.
   */
  async open(
    config: ResolvedGatewayConfig,
    port: number,
    reusePort: boolean = config.reusePort,
  ): Promise<Deno.Listener> {
    if (config.unixSocket !== undefined) {
      const { path, mode } = config.unixSocket;
      return await listenUnix(path, { mode });
    }
    // A TLS listener always sets SO_REUSEPORT so a certificate reload can
    // bind its successor before closing it. A port held by another
    // SO_REUSEPORT listener would then be shared silently (the kernel splits
    // connections between two gateways), so unless sharing was asked for,
    // first bind the port without it: that fails as a plain listener does.
    const isProbed = config.tls !== undefined && !reusePort;
    const boundPort = isProbed ? probePort(config.hostname, port) : port;
    const options = {
      hostname: config.hostname,
      port: boundPort,
      ...(reusePort || config.tls !== undefined ? { reusePort: true } : {}),
    };
    if (config.tls === undefined) return Deno.listen(options);
    // Stamp first: a swap landing between the reads shows up as a change
    // at the next check instead of being kept as a mismatched pair.
    this.#certStamp = await certStamp(config);
    const [cert, key] = await settledPair(
      Deno.readTextFile(config.tls.certFile),
      Deno.readTextFile(config.tls.keyFile),
    );
    return Deno.listenTls({ ...options, cert, key });
  }

  /**
   * Whether the certificate files differ from those the last
   * {@linkcode ListenerOpener.open} loaded; rejects when they cannot be read.
   * @param config The configuration naming the files.
   * @returns True when a new listener should be opened.
   */
  async isCertificateChanged(config: ResolvedGatewayConfig): Promise<boolean> {
    return await certStamp(config) !== this.#certStamp;
  }
}

/**
 * Binds `hostname:port` without SO_REUSEPORT and closes it again; throws
 * `Deno.errors.AddrInUse` when another socket holds the port.
 * @returns The port, the one the kernel chose when `port` is 0.
 */
function probePort(hostname: string, port: number): number {
  using probe = Deno.listen({ hostname, port });
  return (probe.addr as Deno.NetAddr).port;
}

async function certStamp(config: ResolvedGatewayConfig): Promise<string> {
  if (config.tls === undefined) return "";
  const [cert, key] = await settledPair(
    Deno.stat(config.tls.certFile),
    Deno.stat(config.tls.keyFile),
  );
  return `${cert.mtime?.getTime()}:${cert.size}:${key.mtime?.getTime()}:${key.size}`;
}

/**
 * Both results, or the first rejection once both have settled: with
 * `Promise.all` a failed first read returned while the second file
 * operation was still running, so callers (and the test sanitizer) saw an
 * operation outliving the call.
 */
async function settledPair<A, B>(
  first: Promise<A>,
  second: Promise<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}
