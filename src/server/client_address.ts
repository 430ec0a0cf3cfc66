/**
 * Who the client is: the TCP peer, or the address a trusted front proxy
 * reports in `X-Forwarded-For`, and the PROXY protocol header that passes
 * that address on to a backend.
 *
 * @module
 */

import { parseIpAddress } from "../security/ip_address.ts";
import {
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
} from "../security/proxy_protocol.ts";
import type { RequestHead } from "../http/request_head.ts";

/** The client as seen by the gateway, after trusting a front proxy. */
export interface ClientAddress {
  /** The IP used for limits and logs. */
  ip: string;
  /** The port of the TCP peer. */
  port: number;
  /** `ip:port` (or `ip` via a proxy) for logs. */
  text: string;
}

/**
 * The client address of a connection's peer (IPv6 in brackets in `text`).
 *
 * @example An IPv6 peer
 * ```ts
 * import { remoteAddress } from "./client_address.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   remoteAddress({ transport: "tcp", hostname: "::1", port: 5000 }),
 *   { ip: "::1", port: 5000, text: "[::1]:5000" },
 * );
 * ```
 *
 * @param addr The connection's remote address.
 * @returns The peer as a client address.
 */
export function remoteAddress(addr: Deno.Addr): ClientAddress {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    const host = addr.hostname.includes(":")
      ? `[${addr.hostname}]`
      : addr.hostname;
    return { ip: addr.hostname, port: addr.port, text: `${host}:${addr.port}` };
  }
  return { ip: "unix", port: 0, text: addr.transport };
}

/**
 * Trusts `X-Forwarded-For` only from a configured front proxy: the
 * right-most hop that is not a trusted proxy is the client.
 *
 * @example A hop forwarded by a trusted proxy
 * ```ts
 * import { clientAddress, remoteAddress } from "./client_address.ts";
 * import { parseRequestHead } from "../http/request_head.ts";
 * import assert from "node:assert/strict";
 * const result = parseRequestHead(
 *   new TextEncoder().encode(
 *     "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n",
 *   ),
 *   8192,
 * );
 * assert.equal(result.kind, "head");
 * if (result.kind === "head") {
 *   const peer = remoteAddress({
 *     transport: "tcp",
 *     hostname: "10.0.0.1",
 *     port: 4000,
 *   });
 *   const client = clientAddress(peer, result.head, (ip) => ip === "10.0.0.1");
 *   assert.equal(client.ip, "192.0.2.7");
 *   assert.equal(clientAddress(peer, result.head, undefined), peer);
 * }
 * ```
 *
 * @param peer The TCP peer.
 * @param head The request head.
 * @param isTrusted Whether an address is a trusted proxy; undefined when none is.
 * @returns The client.
 */
export function clientAddress(
  peer: ClientAddress,
  head: RequestHead,
  isTrusted: ((ip: string) => boolean) | undefined,
): ClientAddress {
  const forwarded = head.headers.get("x-forwarded-for");
  if (
    isTrusted === undefined || forwarded === undefined || !isTrusted(peer.ip)
  ) {
    return peer;
  }
  // The right-most address not belonging to a trusted proxy is the client.
  const hops = forwarded.split(",").map((hop) => hop.trim()).filter((hop) =>
    hop !== ""
  );
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    // Only an IP address can be a client; anything else ends the search.
    if (parseIpAddress(hop) === undefined) return peer;
    if (!isTrusted(hop)) {
      return { ip: hop, port: peer.port, text: `${hop} (via ${peer.text})` };
    }
  }
  return peer;
}

/**
 * The PROXY protocol header announcing `client` to a backend, with the
 * gateway's local address of `conn` as the destination.
 *
 * @example Version 1 is one text line
 * ```ts
 * import { proxyHeader } from "./client_address.ts";
 * import assert from "node:assert/strict";
 * const header = proxyHeader(
 *   "v1",
 *   { ip: "192.0.2.7", port: 4000, text: "192.0.2.7:4000" },
 *   { transport: "tcp", hostname: "127.0.0.1", port: 8080 },
 * );
 * assert.equal(
 *   new TextDecoder().decode(header),
 *   "PROXY TCP4 192.0.2.7 127.0.0.1 4000 8080\r\n",
 * );
 * ```
 *
 * @param version The PROXY protocol version.
 * @param client The client to announce.
 * @param local The gateway's local address of the browser connection.
 * @returns The header bytes.
 */
export function proxyHeader(
  version: "v1" | "v2",
  client: ClientAddress,
  local: Deno.Addr,
): Uint8Array {
  const destination = local.transport === "tcp"
    ? { address: local.hostname, port: local.port }
    : { address: "0.0.0.0", port: 0 };
  const addresses = {
    source: { address: client.ip, port: client.port },
    destination,
  };
  return version === "v1"
    ? encodeProxyHeaderV1(addresses)
    : encodeProxyHeaderV2(addresses);
}
