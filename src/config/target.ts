/**
 * Backend addresses: the parsed {@linkcode BackendTarget} and the parsers of
 * `host:port`, `[v6]:port` and `unix:/path`. Pure.
 *
 * @module
 */

/** A backend address, parsed. */
export type BackendTarget =
  | {
    transport: "tcp";
    hostname: string;
    port: number;
    /**
     * The name the client asked for when `hostname` is the address it was
     * resolved to (dynamic targets): backend TLS sends it as SNI and checks
     * the certificate against it, while the connection goes to `hostname`.
     */
    serverName?: string;
  }
  | { transport: "unix"; path: string };

/**
 * Parses a backend address: `host:port`, `[v6]:port` or `unix:/path`.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTarget("[::1]:9000"), { transport: "tcp", hostname: "::1", port: 9000 });
 * ```
 *
 * @param text The address.
 * @returns The parsed target.
 */
export function parseTarget(text: string | undefined): BackendTarget {
  if (typeof text !== "string") {
    throw new TypeError("Cannot parse target as it must be a string");
  }
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (!path.startsWith("/")) {
      throw new TypeError(
        `Cannot parse target "${text}": expected unix:/absolute/path`,
      );
    }
    return { transport: "unix", path };
  }
  const { hostname, port } = parseHostPort(text, "target");
  if (port === 0) {
    throw new RangeError(
      `Cannot parse target "${text}": port must be from 1 to 65535`,
    );
  }
  return { transport: "tcp", hostname, port };
}

/**
 * Parses `HOST:PORT` or `[V6]:PORT`.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./target.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseHostPort("127.0.0.1:0", "listen"), { hostname: "127.0.0.1", port: 0 });
 * ```
 *
 * @param text The address.
 * @param what What the address is, for messages.
 * @returns Host and port.
 */
export function parseHostPort(
  text: string,
  what: string,
): { hostname: string; port: number } {
  let hostname: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]:");
    if (close < 0) {
      throw new TypeError(
        `Cannot parse ${what} "${text}": expected [IPv6]:PORT`,
      );
    }
    hostname = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0 || text.indexOf(":") !== colon) {
      throw new TypeError(`Cannot parse ${what} "${text}": expected HOST:PORT`);
    }
    hostname = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new RangeError(
      `Cannot parse ${what} "${text}": port must be from 0 to 65535`,
    );
  }
  const isBracketed = text.startsWith("[");
  // A bracketed host is an IPv6 literal; a plain one is a name or IPv4.
  const isValidHost = isBracketed
    ? /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(hostname) && hostname.includes(":")
    : /^[A-Za-z0-9._-]+$/.test(hostname);
  if (hostname === "" || !isValidHost) {
    throw new TypeError(
      `Cannot parse ${what} "${text}": expected HOST:PORT with a host name, an IPv4 address or a bracketed IPv6 address`,
    );
  }
  return { hostname, port: Number(portText) };
}
