/**
 * The HAProxy PROXY protocol, versions 1 (text) and 2 (binary): encoding a
 * header that tells a backend who the real client is, and parsing one from
 * the start of a connection when wsgate sits behind a trusted front proxy.
 *
 * Addresses are normalised on parse: IPv6 in RFC 5952 form, IPv4-mapped
 * IPv6 as a dotted quad. Pure: bytes in, bytes out.
 *
 * @module
 */

import {
  formatIpAddress,
  isIpv4Address,
  parseIpAddress,
} from "./ip_address.ts";

/** One end of a proxied connection. */
export interface ProxyEndpoint {
  /** The IP address (or, for a v2 `unix` family, the socket path). */
  readonly address: string;
  /** The port (0 for `unix`). */
  readonly port: number;
}

/** The two ends of a proxied connection. */
export interface ProxyAddresses {
  /** The client, as seen by the proxy. */
  readonly source: ProxyEndpoint;
  /** The address the client connected to. */
  readonly destination: ProxyEndpoint;
}

/** The address family and transport of a parsed header. */
export type ProxyFamily =
  | "tcp4"
  | "tcp6"
  | "udp4"
  | "udp6"
  | "unix"
  | "unknown";

/** A parsed PROXY protocol header. */
export interface ProxyHeader {
  /** The protocol version. */
  readonly version: 1 | 2;
  /** Bytes the header takes at the start of the stream; skip them. */
  readonly headerLength: number;
  /**
   * `proxy` for a relayed connection; `local` for one the proxy opened
   * itself (health checks): use the real connection's addresses then.
   */
  readonly command: "proxy" | "local";
  /** The family; `unknown` for v1 `UNKNOWN`, v2 `AF_UNSPEC` and `local`. */
  readonly family: ProxyFamily;
  /** The client, or `undefined` when the family is `unknown`. */
  readonly source: ProxyEndpoint | undefined;
  /** The destination, or `undefined` when the family is `unknown`. */
  readonly destination: ProxyEndpoint | undefined;
}

/** The result of {@linkcode parseProxyHeader}. */
export type ProxyHeaderParseResult =
  | { readonly kind: "header"; readonly header: ProxyHeader }
  | { readonly kind: "incomplete" };

/** The 12-byte signature that starts every v2 header. */
const V2_SIGNATURE = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
/** `PROXY ` */
const V1_PREFIX = new Uint8Array([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]);
/** The longest v1 header, CRLF included (spec section 2.1). */
const V1_MAX_LENGTH = 107;
/** v2 family byte -> family and address block length. */
const V2_FAMILIES = new Map<number, { family: ProxyFamily; length: number }>([
  [0x00, { family: "unknown", length: 0 }],
  [0x11, { family: "tcp4", length: 12 }],
  [0x12, { family: "udp4", length: 12 }],
  [0x21, { family: "tcp6", length: 36 }],
  [0x22, { family: "udp6", length: 36 }],
  [0x31, { family: "unix", length: 216 }],
  [0x32, { family: "unix", length: 216 }],
]);
const ASCII = new TextEncoder();
const LATIN1 = new TextDecoder("latin1");

/**
 * Encodes a v1 (text) header: `PROXY TCP4 src dst sport dport\r\n`, `TCP6`
 * when either address is IPv6 (an IPv4 one is then written in its
 * IPv4-mapped form), or `PROXY UNKNOWN\r\n` without addresses.
 *
 * @example Usage
 * ```ts
 * import { encodeProxyHeaderV1 } from "./proxy_protocol.ts";
 * import assert from "node:assert/strict";
 * const header = encodeProxyHeaderV1({
 *   source: { address: "192.168.0.1", port: 56324 },
 *   destination: { address: "192.168.0.11", port: 443 },
 * });
 * assert.equal(
 *   new TextDecoder().decode(header),
 *   "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
 * );
 * ```
 *
 * @param addresses The source and destination, or `undefined` for UNKNOWN.
 * @returns The header bytes.
 */
export function encodeProxyHeaderV1(addresses?: ProxyAddresses): Uint8Array {
  if (addresses === undefined) return ASCII.encode("PROXY UNKNOWN\r\n");
  const { isV4, source, destination } = resolveAddresses(addresses);
  const format = (bytes: Uint8Array): string =>
    isV4
      ? formatIpAddress(bytes)
      : isIpv4Address(bytes)
      ? `::ffff:${formatIpAddress(bytes)}`
      : formatIpAddress(bytes);
  return ASCII.encode(
    `PROXY ${isV4 ? "TCP4" : "TCP6"} ${format(source)} ${
      format(destination)
    } ${addresses.source.port} ${addresses.destination.port}\r\n`,
  );
}

/**
 * Encodes a v2 (binary) header: signature, `0x21` (version 2, PROXY),
 * family `0x11` (TCP over IPv4) or `0x21` (TCP over IPv6), the address
 * block length, then addresses and ports in network byte order. Without
 * addresses: `0x20` (LOCAL) with family `0x00` and no address block.
 *
 * @example Usage
 * ```ts
 * import { encodeProxyHeaderV2 } from "./proxy_protocol.ts";
 * import assert from "node:assert/strict";
 * const header = encodeProxyHeaderV2({
 *   source: { address: "10.0.0.1", port: 1 },
 *   destination: { address: "10.0.0.2", port: 2 },
 * });
 * assert.equal(header.length, 28);
 * assert.deepEqual([...header.subarray(12, 16)], [0x21, 0x11, 0, 12]);
 * ```
 *
 * @param addresses The source and destination, or `undefined` for LOCAL.
 * @returns The header bytes.
 */
export function encodeProxyHeaderV2(addresses?: ProxyAddresses): Uint8Array {
  if (addresses === undefined) {
    const header = new Uint8Array(16);
    header.set(V2_SIGNATURE);
    header[12] = 0x20;
    return header;
  }
  const { isV4, source, destination } = resolveAddresses(addresses);
  const addressBytes = isV4 ? 4 : 16;
  const blockLength = 2 * addressBytes + 4;
  const header = new Uint8Array(16 + blockLength);
  const view = new DataView(header.buffer);
  header.set(V2_SIGNATURE);
  header[12] = 0x21;
  header[13] = isV4 ? 0x11 : 0x21;
  view.setUint16(14, blockLength);
  header.set(isV4 ? source.subarray(12) : source, 16);
  header.set(isV4 ? destination.subarray(12) : destination, 16 + addressBytes);
  view.setUint16(16 + 2 * addressBytes, addresses.source.port);
  view.setUint16(18 + 2 * addressBytes, addresses.destination.port);
  return header;
}

/**
 * Parses a v1 or v2 header at the start of `bytes`. Returns `incomplete`
 * when `bytes` is a valid beginning of a header but more bytes are needed;
 * throws a `SyntaxError` when the bytes cannot start a valid header (no
 * signature, a v1 line over 107 bytes, a bad address or port, an unknown
 * version, command or family, an address block too short).
 *
 * @example Usage
 * ```ts
 * import { parseProxyHeader } from "./proxy_protocol.ts";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("PROXY TCP4 1.2.3.4 5.6.7.8 1000 80\r\nGET /");
 * const result = parseProxyHeader(bytes);
 * assert.equal(result.kind, "header");
 * if (result.kind === "header") {
 *   assert.equal(result.header.headerLength, 36);
 *   assert.deepEqual(result.header.source, { address: "1.2.3.4", port: 1000 });
 * }
 * assert.equal(parseProxyHeader(bytes.subarray(0, 10)).kind, "incomplete");
 * ```
 *
 * @param bytes The bytes received so far.
 * @returns The header, or `incomplete`.
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeaderParseResult {
  if (startsWithPartial(bytes, V2_SIGNATURE)) {
    return bytes.length < 16 ? { kind: "incomplete" } : parseV2(bytes);
  }
  if (startsWithPartial(bytes, V1_PREFIX)) {
    return bytes.length < V1_PREFIX.length
      ? { kind: "incomplete" }
      : parseV1(bytes);
  }
  throw new SyntaxError(
    'Cannot parse PROXY protocol header as the stream does not start with one: expected "PROXY " or the v2 signature',
  );
}

/** Parses the text line of a v1 header. */
function parseV1(bytes: Uint8Array): ProxyHeaderParseResult {
  let end = -1;
  const limit = Math.min(bytes.length, V1_MAX_LENGTH);
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (bytes.length < V1_MAX_LENGTH) return { kind: "incomplete" };
    throw new SyntaxError(
      `Cannot parse PROXY v1 header as it must end with CRLF within ${V1_MAX_LENGTH} bytes`,
    );
  }
  if (bytes[end - 1] !== 0x0d) {
    throw new SyntaxError(
      "Cannot parse PROXY v1 header as its line must end with CRLF: found a bare LF",
    );
  }
  const line = LATIN1.decode(bytes.subarray(0, end - 1));
  const fields = line.split(" ");
  const headerLength = end + 1;
  if (fields[1] === "UNKNOWN") {
    // The rest of an UNKNOWN line is to be ignored (spec section 2.1).
    return header(1, headerLength, "proxy", "unknown", undefined);
  }
  if ((fields[1] !== "TCP4" && fields[1] !== "TCP6") || fields.length !== 6) {
    throw new SyntaxError(
      `Cannot parse PROXY v1 header as it must be "PROXY TCP4|TCP6 src dst sport dport": found ${
        JSON.stringify(line)
      }`,
    );
  }
  const isV4 = fields[1] === "TCP4";
  const source = parseV1Address(fields[2]!, isV4);
  const destination = parseV1Address(fields[3]!, isV4);
  return header(1, headerLength, "proxy", isV4 ? "tcp4" : "tcp6", {
    source: { address: source, port: parseV1Port(fields[4]!) },
    destination: { address: destination, port: parseV1Port(fields[5]!) },
  });
}

/** Parses a v1 address of the declared family. */
function parseV1Address(text: string, isV4: boolean): string {
  const bytes = text.includes(":") === isV4 ? undefined : parseIpAddress(text);
  if (bytes === undefined) {
    throw new SyntaxError(
      `Cannot parse PROXY v1 header as its address must be ${
        isV4 ? "IPv4" : "IPv6"
      }: found ${JSON.stringify(text)}`,
    );
  }
  return formatIpAddress(bytes);
}

/** Parses a v1 port: decimal 0-65535 without leading zeros. */
function parseV1Port(text: string): number {
  const isDecimal = /^(0|[1-9][0-9]{0,4})$/.test(text);
  const port = Number(text);
  if (!isDecimal || port > 65535) {
    throw new SyntaxError(
      `Cannot parse PROXY v1 header as its port must be 0-65535: found ${
        JSON.stringify(text)
      }`,
    );
  }
  return port;
}

/** Parses a v2 header whose 16-byte fixed part is present. */
function parseV2(bytes: Uint8Array): ProxyHeaderParseResult {
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) {
    throw new SyntaxError(
      `Cannot parse PROXY v2 header as its version must be 2: found ${
        versionCommand >> 4
      }`,
    );
  }
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) {
    throw new SyntaxError(
      `Cannot parse PROXY v2 header as its command must be 0 (LOCAL) or 1 (PROXY): found ${commandBits}`,
    );
  }
  const familyByte = bytes[13]!;
  const entry = V2_FAMILIES.get(familyByte);
  if (entry === undefined) {
    throw new SyntaxError(
      `Cannot parse PROXY v2 header as its family must be known: found 0x${
        familyByte.toString(16).padStart(2, "0")
      }`,
    );
  }
  const blockLength = (bytes[14]! << 8) | bytes[15]!;
  const headerLength = 16 + blockLength;
  if (bytes.length < headerLength) return { kind: "incomplete" };
  const command = commandBits === 0 ? "local" : "proxy";
  // LOCAL: the receiver must discard the address block, family included.
  if (command === "local" || entry.family === "unknown") {
    return header(2, headerLength, command, "unknown", undefined);
  }
  if (blockLength < entry.length) {
    throw new SyntaxError(
      `Cannot parse PROXY v2 header as its ${entry.family} address block must be >= ${entry.length} bytes: current length is ${blockLength}`,
    );
  }
  const block = bytes.subarray(16, headerLength);
  if (entry.family === "unix") {
    return header(2, headerLength, command, "unix", {
      source: { address: readUnixPath(block.subarray(0, 108)), port: 0 },
      destination: { address: readUnixPath(block.subarray(108, 216)), port: 0 },
    });
  }
  const size = entry.length === 12 ? 4 : 16;
  const ports = new DataView(block.buffer, block.byteOffset + 2 * size, 4);
  return header(2, headerLength, command, entry.family, {
    source: {
      address: formatRaw(block.subarray(0, size)),
      port: ports.getUint16(0),
    },
    destination: {
      address: formatRaw(block.subarray(size, 2 * size)),
      port: ports.getUint16(2),
    },
  });
}

/** Builds a frozen header result. */
function header(
  version: 1 | 2,
  headerLength: number,
  command: "proxy" | "local",
  family: ProxyFamily,
  addresses: ProxyAddresses | undefined,
): ProxyHeaderParseResult {
  return {
    kind: "header",
    header: {
      version,
      headerLength,
      command,
      family,
      source: addresses?.source,
      destination: addresses?.destination,
    },
  };
}

/** Formats 4 or 16 raw address bytes. */
function formatRaw(raw: Uint8Array): string {
  if (raw.length === 16) return formatIpAddress(raw);
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(raw, 12);
  return formatIpAddress(bytes);
}

/** Reads a NUL-terminated Unix socket path. */
function readUnixPath(raw: Uint8Array): string {
  const nul = raw.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
}

/** Tells whether `bytes` and `prefix` agree on their common length. */
function startsWithPartial(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const length = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < length; i++) {
    if (bytes[i] !== prefix[i]) return false;
  }
  return true;
}

/** Validates and parses the addresses and ports for encoding. */
function resolveAddresses(
  addresses: ProxyAddresses,
): { isV4: boolean; source: Uint8Array; destination: Uint8Array } {
  const parse = (endpoint: ProxyEndpoint, role: string): Uint8Array => {
    if (
      !Number.isInteger(endpoint.port) || endpoint.port < 0 ||
      endpoint.port > 65535
    ) {
      throw new RangeError(
        `Cannot encode PROXY header as the ${role} port must be an integer 0-65535: current value is ${endpoint.port}`,
      );
    }
    const bytes = parseIpAddress(endpoint.address);
    if (bytes === undefined) {
      throw new TypeError(
        `Cannot encode PROXY header as the ${role} address must be an IP address: current value is ${
          JSON.stringify(endpoint.address)
        }`,
      );
    }
    return bytes;
  };
  const source = parse(addresses.source, "source");
  const destination = parse(addresses.destination, "destination");
  return {
    isV4: isIpv4Address(source) && isIpv4Address(destination),
    source,
    destination,
  };
}
