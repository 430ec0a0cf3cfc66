/**
 * {@linkcode parseTokenValue}: a token's value as websockify's `TokenRedis`
 * stores it, into a TCP target or a refusal reason. Pure; never throws on a
 * bad value, since anyone who can write to the store chooses it.
 *
 * @module
 */

import { parseTokenTarget } from "./token_file.ts";

/** A TCP target read from a token value. */
export interface TokenValueTarget {
  /** Always `"tcp"`: a stored value may not name a Unix socket. */
  readonly transport: "tcp";
  /** The host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The port, 1-65535. */
  readonly port: number;
}

/**
 * Why a value was refused: `too_large` (over `maxValueBytes`), `bad_json`
 * (starts with `{` but is not the expected JSON object), `no_port`,
 * `bad_port` (not an integer 1-65535), `bad_host` (empty, malformed, or a
 * Unix socket).
 */
export type TokenValueProblem =
  | "too_large"
  | "bad_json"
  | "no_port"
  | "bad_port"
  | "bad_host";

/** The outcome of {@linkcode parseTokenValue}. */
export type TokenValueResult =
  | { readonly ok: true; readonly target: TokenValueTarget }
  | {
    readonly ok: false;
    /** The refusal reason, for metrics and the log. */
    readonly reason: TokenValueProblem;
    /** A sentence for the log (the value is quoted, shortened). */
    readonly detail: string;
  };

/** Options of {@linkcode parseTokenValue}. */
export interface TokenValueOptions {
  /**
   * The longest value accepted, in UTF-16 code units (JSON included).
   * @default {1024}
   */
  maxValueLength?: number;
}

/**
 * Parses a stored token value: `host:port`, websockify's JSON
 * `{"host": "host:port"}`, or `{"host": "h", "port": p}`. An IPv6 host
 * needs brackets (`[::1]:5900`) except in the two-field JSON form; an
 * unbracketed `::1:5900` is refused (`bad_host`), as websockify refuses it.
 * @param value The value as read from the store.
 * @param options The size limit.
 * @returns The target, or a refusal reason with a detail for the log.
 *
 * @example Usage
 * ```ts
 * import { parseTokenValue } from "./token_value.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseTokenValue('{"host": "10.0.0.5:5901"}'), {
 *   ok: true,
 *   target: { transport: "tcp", hostname: "10.0.0.5", port: 5901 },
 * });
 * const bad = parseTokenValue("10.0.0.5:99999");
 * assert.equal(bad.ok ? "" : bad.reason, "bad_port");
 * const ambiguous = parseTokenValue("::1:5900");
 * assert.equal(ambiguous.ok ? "" : ambiguous.reason, "bad_host");
 * ```
 */
export function parseTokenValue(
  value: string,
  options: TokenValueOptions = {},
): TokenValueResult {
  const { maxValueLength = 1024 } = options;
  if (value.length > maxValueLength) {
    return refuse(
      "too_large",
      `it must be <= ${maxValueLength} characters: current length is ${value.length}`,
    );
  }
  const trimmed = value.trim();
  let text = trimmed;
  if (trimmed.startsWith("{")) {
    const fromJson = targetTextOfJson(trimmed);
    if (typeof fromJson !== "string") return fromJson;
    text = fromJson;
  }
  if (text.startsWith("unix:") || text.startsWith("unix_socket:")) {
    return refuse("bad_host", "it may not name a Unix socket", value);
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0 || colon === text.length - 1 || text.endsWith("]")) {
    return refuse("no_port", "it must end with a port", value);
  }
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText) || !isPort(Number(portText))) {
    return refuse("bad_port", "its port must be 1-65535", value);
  }
  const hostText = text.slice(0, colon);
  if (hostText.includes(":") && !hostText.startsWith("[")) {
    // "::1:5900" could be [::1]:5900 or [::1:5900] with no port; websockify
    // refuses it too (its split(":") finds more than two fields).
    return refuse(
      "bad_host",
      "an IPv6 host must be in brackets ([::1]:5900)",
      value,
    );
  }
  const target = parseTokenTarget(text);
  if (typeof target === "string" || target.transport !== "tcp") {
    return refuse("bad_host", "its host is invalid", value);
  }
  return { ok: true, target };
}

function targetTextOfJson(text: string): string | TokenValueResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse("bad_json", "it is not valid JSON", text);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return refuse("bad_json", "it must be a JSON object", text);
  }
  const { host, port } = parsed as { host?: unknown; port?: unknown };
  if (typeof host !== "string") {
    return refuse("bad_json", 'it must have a string "host"', text);
  }
  if (port === undefined) return host.trim();
  const portNumber = typeof port === "string" && /^[0-9]{1,5}$/.test(port)
    ? Number(port)
    : port;
  if (typeof portNumber !== "number" || !isPort(portNumber)) {
    return refuse("bad_port", 'its "port" must be 1-65535', text);
  }
  const hostname = host.trim();
  // A bare IPv6 address gets brackets so its last group is not the port.
  const hostPart = hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  return `${hostPart}:${portNumber}`;
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function refuse(
  reason: TokenValueProblem,
  sentence: string,
  value?: string,
): TokenValueResult {
  const shown = value === undefined
    ? ""
    : `: found ${JSON.stringify(value.slice(0, 64))}${
      value.length > 64 ? "..." : ""
    }`;
  return {
    ok: false,
    reason,
    detail: `Cannot use token value as ${sentence}${shown}`,
  };
}
