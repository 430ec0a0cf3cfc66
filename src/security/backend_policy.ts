/**
 * The allow-list for dynamic backend targets (a target the client names,
 * e.g. `?target=db1.internal.example:5432`): host name patterns, CIDR ranges
 * and port ranges, compiled once into a {@linkcode BackendPolicy}.
 *
 * Rules:
 * - An IP literal target is allowed only when a listed CIDR covers it.
 * - A name target is allowed when it matches a listed host pattern. The
 *   caller then resolves it and connects only to addresses that pass
 *   {@linkcode BackendPolicy.isAllowedResolvedAddress}: a public address, or
 *   any address a listed CIDR covers. Loopback, link-local, private,
 *   unspecified, multicast and reserved addresses are denied unless a listed
 *   CIDR explicitly covers them, so a permitted name that resolves to
 *   `127.0.0.1` (DNS rebinding) is refused.
 * - IPv4-mapped IPv6 (`::ffff:127.0.0.1`, `::ffff:7f00:1`) is the same
 *   address as its IPv4 form for every check. A NAT64 address
 *   (`64:ff9b::/96`) is special when its embedded IPv4 address is; the
 *   deprecated IPv4-compatible form (`::a.b.c.d`, inside `::/96`) always is.
 *   Other embeddings (6to4 `2002::/16`, Teredo) are not decoded.
 * - The port must be in a listed port range; no `ports` means 1-65535. Port
 *   0 is never allowed.
 *
 * Pure: no `Deno.*`; resolving names is the caller's job.
 *
 * @module
 */

import { formatIpAddress, parseIpAddress } from "./ip_address.ts";

/** Options of {@linkcode compileBackendPolicy}. */
export interface BackendPolicyOptions {
  /**
   * Host name patterns: exact names (`db1.internal.example`), `*.suffix`
   * (one or more labels in front of `suffix`, never `suffix` itself), or
   * `*` (any syntactically valid name). Case-insensitive; a trailing dot is
   * ignored.
   * @default {[]}
   */
  hosts?: readonly string[];
  /**
   * CIDR ranges (`10.0.0.0/8`, `fd00::/8`) or single addresses (`192.0.2.7`,
   * a /32 or /128). IPv4 ranges also cover the IPv4-mapped IPv6 forms.
   * @default {[]}
   */
  cidrs?: readonly string[];
  /**
   * Port numbers or ranges: `22`, `"22"`, `"5900-5999"` (inclusive).
   * Omitted means every port from 1 to 65535.
   * @default {undefined}
   */
  ports?: readonly (number | string)[];
}

/** Why {@linkcode BackendPolicy.checkTarget} refused a target. */
export type BackendRefusal =
  | "malformed host"
  | "port not allowed"
  | "address not listed"
  | "name not listed";

/** The verdict of {@linkcode BackendPolicy.checkTarget}. */
export type BackendCheck =
  | {
    /** The target is an allowed IP literal: connect to it directly. */
    readonly kind: "address";
    /** The normalised address (IPv4-mapped IPv6 becomes a dotted quad). */
    readonly address: string;
  }
  | {
    /**
     * The target is an allowed name: resolve it, then keep only addresses
     * that pass {@linkcode BackendPolicy.isAllowedResolvedAddress}.
     */
    readonly kind: "name";
    /** The normalised name (lower case, no trailing dot). */
    readonly name: string;
  }
  | {
    /** The target is refused. */
    readonly kind: "refused";
    /** Why, for the log. */
    readonly reason: BackendRefusal;
  };

/** A compiled allow-list; see {@linkcode compileBackendPolicy}. */
export interface BackendPolicy {
  /**
   * Tells whether a port is in a listed range.
   * @param port The port.
   * @returns Whether the port is allowed.
   */
  isAllowedPort(port: number): boolean;
  /**
   * Tells whether a host name matches a listed pattern. IP literals and
   * names that resolvers could read as numbers (`127.1`, `0x7f.1`) are not
   * names: `false`.
   * @param name The host name.
   * @returns Whether the name is allowed.
   */
  isAllowedName(name: string): boolean;
  /**
   * Tells whether an IP literal target is allowed: a listed CIDR covers it
   * and the port is allowed. Brackets around IPv6 are accepted.
   * @param ip The address.
   * @param port The port.
   * @returns Whether the target is allowed.
   */
  isAllowedAddress(ip: string, port: number): boolean;
  /**
   * Tells whether an address that an allowed name resolved to may be
   * connected to: the port is allowed and the address is either covered by
   * a listed CIDR or not special (loopback, private, link-local...).
   * @param ip The resolved address.
   * @param port The port.
   * @returns Whether the connection is allowed.
   */
  isAllowedResolvedAddress(ip: string, port: number): boolean;
  /**
   * Checks a requested target before resolution.
   * @param host A name or an IP literal (IPv6 with or without brackets).
   * @param port The port.
   * @returns The verdict.
   */
  checkTarget(host: string, port: number): BackendCheck;
}

/** A CIDR range over 16-byte addresses. */
interface Range {
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
}

/** Special ranges as IPv6 text (IPv4 ranges in their mapped form). */
const SPECIAL_RANGES: readonly Range[] = [
  "::ffff:0.0.0.0/104", // 0.0.0.0/8 "this network", includes 0.0.0.0
  "::ffff:10.0.0.0/104", // 10.0.0.0/8 private
  "::ffff:100.64.0.0/106", // 100.64.0.0/10 shared address space (CGNAT)
  "::ffff:127.0.0.0/104", // 127.0.0.0/8 loopback
  "::ffff:169.254.0.0/112", // 169.254.0.0/16 link-local
  "::ffff:172.16.0.0/108", // 172.16.0.0/12 private
  "::ffff:192.0.0.0/120", // 192.0.0.0/24 IETF protocol assignments
  "::ffff:192.168.0.0/112", // 192.168.0.0/16 private
  "::ffff:198.18.0.0/111", // 198.18.0.0/15 benchmarking
  "::ffff:224.0.0.0/99", // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved
  "::/96", // unspecified, loopback, deprecated IPv4-compatible
  "fc00::/7", // unique local (private)
  "fe80::/10", // link-local
  "fec0::/10", // deprecated site-local
  "ff00::/8", // multicast
].map((text) => parseRange(text, "special range"));

/** NAT64 well-known prefix: the last 4 bytes are an IPv4 address. */
const NAT64_RANGE = parseRange("64:ff9b::/96", "special range");

/**
 * Compiles an allow-list for dynamic targets. Every entry is validated
 * here: a bad host pattern, CIDR or port range throws a `TypeError` naming
 * it. With no options, nothing is allowed.
 *
 * @example Usage
 * ```ts
 * import { compileBackendPolicy } from "./backend_policy.ts";
 * import assert from "node:assert/strict";
 * const policy = compileBackendPolicy({
 *   hosts: ["*.internal.example"],
 *   cidrs: ["10.1.0.0/16"],
 *   ports: ["5900-5999"],
 * });
 * assert.deepEqual(policy.checkTarget("vm1.internal.example", 5901), {
 *   kind: "name",
 *   name: "vm1.internal.example",
 * });
 * assert.ok(policy.isAllowedResolvedAddress("10.1.2.3", 5901));
 * assert.ok(!policy.isAllowedResolvedAddress("127.0.0.1", 5901));
 * assert.ok(!policy.isAllowedAddress("::ffff:127.0.0.1", 5901));
 * ```
 *
 * @param options The host patterns, CIDR ranges and port ranges.
 * @returns The compiled policy.
 */
export function compileBackendPolicy(
  options: BackendPolicyOptions = {},
): BackendPolicy {
  const { hosts = [], cidrs = [], ports } = options;
  const exactNames = new Set<string>();
  const suffixes: string[] = [];
  let anyName = false;
  for (const pattern of hosts) {
    if (typeof pattern !== "string") {
      throw new TypeError(
        `Cannot compile backend policy as a host pattern must be a string: current value is ${
          String(pattern)
        }`,
      );
    }
    const lower = stripTrailingDot(pattern.toLowerCase());
    if (pattern === "*") {
      anyName = true;
    } else if (lower.startsWith("*.") && isHostName(lower.slice(2))) {
      suffixes.push(lower.slice(1));
    } else if (isHostName(lower)) {
      exactNames.add(lower);
    } else {
      throw new TypeError(
        `Cannot compile backend policy as host pattern "${pattern}" is invalid: expected a name, "*.suffix" or "*"`,
      );
    }
  }
  const ranges = cidrs.map((text) => parseRange(text, "CIDR"));
  const portRanges = ports === undefined
    ? [[1, 65535] as const]
    : ports.map(parsePortRange);

  function isAllowedPort(port: number): boolean {
    if (!Number.isInteger(port)) return false;
    return portRanges.some(([low, high]) => port >= low && port <= high);
  }

  function isAllowedName(name: string): boolean {
    const lower = stripTrailingDot(name.toLowerCase());
    if (!isHostName(lower)) return false;
    if (anyName || exactNames.has(lower)) return true;
    return suffixes.some((suffix) =>
      lower.length > suffix.length && lower.endsWith(suffix)
    );
  }

  function isListed(bytes: Uint8Array): boolean {
    return ranges.some((range) => isInRange(bytes, range));
  }

  function isAllowedAddress(ip: string, port: number): boolean {
    const bytes = parseIpAddress(stripBrackets(ip));
    return bytes !== undefined && isAllowedPort(port) && isListed(bytes);
  }

  function isAllowedResolvedAddress(ip: string, port: number): boolean {
    const bytes = parseIpAddress(stripBrackets(ip));
    if (bytes === undefined || !isAllowedPort(port)) return false;
    return isListed(bytes) || !isSpecialAddress(bytes);
  }

  function checkTarget(host: string, port: number): BackendCheck {
    const bytes = parseIpAddress(stripBrackets(host));
    if (
      bytes === undefined && !isHostName(stripTrailingDot(host.toLowerCase()))
    ) {
      return { kind: "refused", reason: "malformed host" };
    }
    if (!isAllowedPort(port)) {
      return { kind: "refused", reason: "port not allowed" };
    }
    if (bytes !== undefined) {
      return isListed(bytes)
        ? { kind: "address", address: formatIpAddress(bytes) }
        : { kind: "refused", reason: "address not listed" };
    }
    return isAllowedName(host)
      ? { kind: "name", name: stripTrailingDot(host.toLowerCase()) }
      : { kind: "refused", reason: "name not listed" };
  }

  return Object.freeze({
    isAllowedPort,
    isAllowedName,
    isAllowedAddress,
    isAllowedResolvedAddress,
    checkTarget,
  });
}

/**
 * Tells whether an address is loopback, private, link-local, unspecified,
 * multicast or reserved, in any spelling (IPv4, IPv4-mapped, NAT64,
 * IPv4-compatible). Unparsable text counts as special (fail closed).
 *
 * @example Usage
 * ```ts
 * import { isSpecialAddress } from "./backend_policy.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isSpecialAddress("::ffff:7f00:1"));
 * assert.ok(isSpecialAddress("fe80::1"));
 * assert.ok(!isSpecialAddress("192.0.2.1"));
 * ```
 *
 * @param address An address as text or as 16 bytes.
 * @returns Whether the address is special.
 */
export function isSpecialAddress(address: string | Uint8Array): boolean {
  const bytes = typeof address === "string"
    ? parseIpAddress(stripBrackets(address))
    : address;
  if (bytes === undefined || bytes.length !== 16) return true;
  if (SPECIAL_RANGES.some((range) => isInRange(bytes, range))) return true;
  if (isInRange(bytes, NAT64_RANGE)) {
    const mapped = new Uint8Array(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(bytes.subarray(12), 12);
    return SPECIAL_RANGES.some((range) => isInRange(mapped, range));
  }
  return false;
}

/** Parses `address/prefix` or a bare address; throws a `TypeError`. */
function parseRange(text: string, what: string): Range {
  const fail = (): never => {
    throw new TypeError(
      `Cannot compile backend policy as ${what} "${text}" is invalid: expected an address or address/prefix`,
    );
  };
  if (typeof text !== "string") fail();
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIpAddress(addressText) ?? fail();
  const isV4Text = !addressText.includes(":");
  const maxPrefix = isV4Text ? 32 : 128;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) fail();
    prefixLength = Number(prefixText);
    if (prefixLength > maxPrefix) fail();
  }
  if (isV4Text) prefixLength += 96;
  // Host bits must be zero: `10.0.0.1/8` is more likely a typo than intent.
  for (let bit = prefixLength; bit < 128; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) {
      throw new TypeError(
        `Cannot compile backend policy as ${what} "${text}" has host bits set: expected the network address`,
      );
    }
  }
  return { bytes, prefixLength };
}

/** Tells whether `bytes` is inside `range`. */
function isInRange(bytes: Uint8Array, range: Range): boolean {
  const whole = range.prefixLength >> 3;
  for (let i = 0; i < whole; i++) {
    if (bytes[i] !== range.bytes[i]) return false;
  }
  const rest = range.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (range.bytes[whole]! & mask);
}

/** Parses `22`, `"22"` or `"5900-5999"` into an inclusive range. */
function parsePortRange(entry: number | string): readonly [number, number] {
  const text = String(entry);
  const dash = text.indexOf("-");
  const low = parsePort(dash < 0 ? text : text.slice(0, dash));
  const high = dash < 0 ? low : parsePort(text.slice(dash + 1));
  if (low === undefined || high === undefined || low > high) {
    throw new TypeError(
      `Cannot compile backend policy as port range "${text}" is invalid: expected a port or low-high within 1-65535`,
    );
  }
  return [low, high];
}

/** Parses a decimal port 1-65535; `undefined` when invalid. */
function parsePort(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Removes the brackets of `[v6]`. */
function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Removes one trailing dot (`example.com.` is `example.com`). */
function stripTrailingDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/**
 * Tells whether a lower-case text is a DNS host name: labels of letters,
 * digits, `-` and `_`, 1-63 characters, not starting or ending with `-`,
 * at most 253 characters; the last label is not numeric or hexadecimal, so
 * `127.1`, `2130706433` and `0x7f.1` (which `inet_aton` reads as IPv4) are
 * not names.
 */
function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return false;
    if (label.startsWith("-") || label.endsWith("-")) return false;
    for (const char of label) {
      const isValid = (char >= "a" && char <= "z") ||
        (char >= "0" && char <= "9") || char === "-" || char === "_";
      if (!isValid) return false;
    }
  }
  const last = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(last)) return false;
  if (/^0x[0-9a-f]*$/.test(last)) return false;
  return true;
}
