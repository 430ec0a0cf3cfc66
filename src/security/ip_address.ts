/**
 * IP address parsing and formatting without regular expressions. Every
 * address becomes 16 bytes: IPv6 as is, IPv4 in its IPv4-mapped IPv6 form
 * (`::ffff:a.b.c.d`), so `127.0.0.1`, `::ffff:127.0.0.1` and
 * `::ffff:7f00:1` are the same value and one CIDR check covers every
 * spelling. Pure: no `Deno.*`.
 *
 * @module
 */

/** Bytes 0-11 of every IPv4-mapped IPv6 address. */
const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Parses an IPv4 dotted quad or an IPv6 address (with `::` compression and
 * an optional trailing dotted quad) into 16 bytes. IPv4 becomes its
 * IPv4-mapped IPv6 form.
 *
 * Rejected (returns `undefined`): brackets, zone ids (`fe80::1%eth0`),
 * IPv4 parts with leading zeros (`010.0.0.1`, which some resolvers read as
 * octal), shorthand IPv4 (`127.1`), hexadecimal IPv4 (`0x7f.0.0.1`), more
 * than one `::`, and groups longer than 4 hex digits.
 *
 * @example Usage
 * ```ts
 * import { formatIpAddress, parseIpAddress } from "./ip_address.ts";
 * import assert from "node:assert/strict";
 * const a = parseIpAddress("::ffff:7f00:1")!;
 * assert.equal(formatIpAddress(a), "127.0.0.1");
 * assert.equal(parseIpAddress("127.1"), undefined);
 * ```
 *
 * @param text The address text.
 * @returns The 16 address bytes, or `undefined` when `text` is not an IP
 * address.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.includes(":")) return parseIpv6(text);
  const v4 = parseIpv4(text);
  if (v4 === undefined) return undefined;
  const bytes = new Uint8Array(16);
  bytes.set(MAPPED_PREFIX);
  bytes.set(v4, 12);
  return bytes;
}

/**
 * Tells whether 16 address bytes are an IPv4 address (IPv4-mapped form).
 *
 * @example Usage
 * ```ts
 * import { isIpv4Address, parseIpAddress } from "./ip_address.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isIpv4Address(parseIpAddress("10.0.0.1")!));
 * assert.ok(!isIpv4Address(parseIpAddress("::1")!));
 * ```
 *
 * @param bytes 16 address bytes from {@linkcode parseIpAddress}.
 * @returns Whether the address is IPv4.
 */
export function isIpv4Address(bytes: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) {
    if (bytes[i] !== MAPPED_PREFIX[i]) return false;
  }
  return true;
}

/**
 * Formats 16 address bytes: IPv4 (IPv4-mapped) as a dotted quad, IPv6 in
 * the canonical RFC 5952 form (lower case, longest run of two or more zero
 * groups compressed, the first one on a tie).
 *
 * @example Usage
 * ```ts
 * import { formatIpAddress, parseIpAddress } from "./ip_address.ts";
 * import assert from "node:assert/strict";
 * const bytes = parseIpAddress("2001:DB8:0:0:1:0:0:1")!;
 * assert.equal(formatIpAddress(bytes), "2001:db8::1:0:0:1");
 * ```
 *
 * @param bytes 16 address bytes.
 * @returns The address text.
 */
export function formatIpAddress(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new RangeError(
      `Cannot format IP address as it must be 16 bytes: current length is ${bytes.length}`,
    );
  }
  if (isIpv4Address(bytes)) return bytes.subarray(12).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/**
 * Parses a dotted quad into 4 bytes. Each part is 1-3 decimal digits, at
 * most 255, without leading zeros.
 */
function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (part.length === 0 || part.length > 3) return undefined;
    if (part.length > 1 && part[0] === "0") return undefined;
    let value = 0;
    for (const char of part) {
      const digit = char.charCodeAt(0) - 48;
      if (digit < 0 || digit > 9) return undefined;
      value = value * 10 + digit;
    }
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

/** Parses 1-4 hex digits; returns -1 when `text` is not such a group. */
function parseHexGroup(text: string): number {
  if (text.length === 0 || text.length > 4) return -1;
  let value = 0;
  for (const char of text) {
    const code = char.charCodeAt(0);
    let digit: number;
    if (code >= 48 && code <= 57) digit = code - 48;
    else if (code >= 97 && code <= 102) digit = code - 87;
    else if (code >= 65 && code <= 70) digit = code - 55;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * Parses a list of colon-separated groups, the last of which may be a
 * dotted quad (worth two groups). Returns `undefined` on any bad group.
 */
function parseGroups(
  text: string,
  allowIpv4Tail: boolean,
): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (allowIpv4Tail && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    } else {
      const group = parseHexGroup(part);
      if (group < 0) return undefined;
      groups.push(group);
    }
  }
  return groups;
}

/** Parses an IPv6 address (RFC 4291 section 2.2 text forms) into 16 bytes. */
function parseIpv6(text: string): Uint8Array | undefined {
  // Longest textual form: 8 groups of 4 digits with 7 colons, or 6 groups
  // plus a dotted quad (45 characters).
  if (text.length > 45) return undefined;
  const gap = text.indexOf("::");
  let groups: number[] | undefined;
  if (gap < 0) {
    groups = parseGroups(text, true);
    if (groups === undefined || groups.length !== 8) return undefined;
  } else {
    if (text.indexOf("::", gap + 1) >= 0) return undefined;
    const head = parseGroups(text.slice(0, gap), false);
    const tail = parseGroups(text.slice(gap + 2), true);
    if (head === undefined || tail === undefined) return undefined;
    // `::` stands for at least one zero group.
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i]! >> 8;
    bytes[2 * i + 1] = groups[i]! & 0xff;
  }
  return bytes;
}

/**
 * Whether a listen or Host name is a loopback name or address: `localhost`,
 * `::1` (bracketed or not) or any `127.x.y.z`.
 *
 * @example Usage
 * ```ts
 * import { isLoopbackHostname } from "./ip_address.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isLoopbackHostname("127.0.0.1"), true);
 * assert.equal(isLoopbackHostname("[::1]"), true);
 * assert.equal(isLoopbackHostname("0.0.0.0"), false);
 * ```
 *
 * @param hostname The name or address, as configured or as sent.
 * @returns `true` for loopback names and addresses.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
