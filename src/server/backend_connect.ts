/**
 * Dialling a backend with a connect timeout, and socket options for
 * long-lived relays (TCP_NODELAY and keepalive).
 *
 * @module
 */

import type { BackendTarget } from "../config/config.ts";
import { BackendConnectError } from "../errors.ts";
import { sharedDeadlines } from "../io/deadline_queue.ts";
import { closeQuietly } from "../io/close_quietly.ts";

/** TLS settings for a backend connection. */
export interface BackendTlsSettings {
  /** PEM CA certificates to trust besides the system roots. */
  caCerts?: string[];
  /**
   * The name to verify the certificate against.
   * @default {the target's serverName (the name a dynamic target asked for), else its host}
   */
  serverName?: string;
}

/**
 * Connects to `target`, giving up after `timeoutMs` with a
 * {@linkcode BackendConnectError}.
 *
 * @example Refused connections become BackendConnectError
 * ```ts
 * import { connectBackend } from "./backend_connect.ts";
 * import { BackendConnectError } from "../errors.ts";
 * import assert from "node:assert/strict";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * await assert.rejects(
 *   connectBackend({ transport: "tcp", hostname: "127.0.0.1", port }, 1000),
 *   BackendConnectError,
 * );
 * ```
 *
 * @param target Where to connect.
 * @param timeoutMs The connect timeout in milliseconds.
 * @returns The connection.
 */
export async function connectBackend(
  target: BackendTarget,
  timeoutMs: number,
  tls?: BackendTlsSettings,
): Promise<Deno.Conn> {
  const controller = new AbortController();
  const deadline = sharedDeadlines.add(timeoutMs, () => controller.abort());
  const label = formatTarget(target);
  try {
    if (target.transport === "unix") {
      // Deno.connect takes no signal for Unix sockets: race the deadline.
      const connecting = Deno.connect({ transport: "unix", path: target.path });
      const timedOut = timedOutOnAbort(
        controller.signal,
        "connect timed out",
        () => connecting.then(closeQuietly, () => {}),
      );
      return await Promise.race([connecting, timedOut]);
    }
    const conn = await Deno.connect({
      hostname: target.hostname,
      port: target.port,
      signal: controller.signal,
    });
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
    if (tls === undefined) return conn;
    try {
      const tlsConn = await Deno.startTls(conn, {
        hostname: tls.serverName ?? target.serverName ?? target.hostname,
        ...(tls.caCerts === undefined ? {} : { caCerts: tls.caCerts }),
      });
      // Complete the handshake here, inside the connect timeout, so a bad
      // certificate is "backend unreachable" before the upgrade.
      const handshake = tlsConn.handshake();
      // The deadline may have passed while startTls was pending.
      const timedOut = timedOutOnAbort(
        controller.signal,
        "TLS handshake timed out",
        () => closeQuietly(tlsConn),
      );
      try {
        await Promise.race([handshake, timedOut]);
      } catch (error) {
        closeQuietly(tlsConn);
        throw error;
      }
      return tlsConn;
    } catch (error) {
      closeQuietly(conn);
      throw error;
    }
  } catch (error) {
    const cause = controller.signal.aborted
      ? new Deno.errors.TimedOut(`connect timed out after ${timeoutMs} ms`)
      : error;
    throw new BackendConnectError(label, { cause });
  } finally {
    sharedDeadlines.cancel(deadline);
  }
}

/**
 * Rejects with `TimedOut` once `signal` aborts, after `onTimeout` (at once
 * when it has aborted already: a listener added then would never run).
 */
function timedOutOnAbort(
  signal: AbortSignal,
  message: string,
  onTimeout: () => void,
): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fire = () => {
      onTimeout();
      reject(new Deno.errors.TimedOut(message));
    };
    if (signal.aborted) fire();
    else signal.addEventListener("abort", fire, { once: true });
  });
}

/**
 * Formats a target for logs: `host:port`, `[v6]:port` or `unix:/path`.
 *
 * @example
 * ```ts
 * import { formatTarget } from "./backend_connect.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatTarget({ transport: "tcp", hostname: "::1", port: 1 }), "[::1]:1");
 * ```
 *
 * @param target The target.
 * @returns The text form.
 */
export function formatTarget(target: BackendTarget): string {
  if (target.transport === "unix") return `unix:${target.path}`;
  return target.hostname.includes(":")
    ? `[${target.hostname}]:${target.port}`
    : `${target.hostname}:${target.port}`;
}
