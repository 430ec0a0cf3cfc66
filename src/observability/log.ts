/**
 * Turns {@linkcode GatewayEvent}s into log lines for `--log-format text|json`
 * and `--log-level debug|info|warn|error`, plus the {@linkcode hexDump}
 * used by `--log-traffic` and by recording replay. Pure: the caller passes
 * the time and writes the returned line.
 *
 * Untrusted text (close reasons, paths, details) never reaches the line raw:
 * the text format quotes any value that is not plain printable ASCII, with
 * control and non-ASCII characters escaped, so a client cannot forge lines.
 *
 * @module
 */

import type { GatewayEvent } from "./events.ts";

/** How log lines are written: `text` (one human line) or `json` (JSON lines). */
export type LogFormat = "text" | "json";

/** Log severity, from most to least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The accepted `--log-format` values. */
export const LOG_FORMATS: readonly LogFormat[] = Object.freeze([
  "text",
  "json",
]);

/** The accepted `--log-level` values, from most to least verbose. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze([
  "debug",
  "info",
  "warn",
  "error",
]);

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
};

const HEX = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/** Options of {@linkcode formatEvent}. */
export interface FormatEventOptions {
  /**
   * The line format.
   * @default {"text"}
   */
  format?: LogFormat;
  /**
   * The lowest level that produces a line.
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * The event time in milliseconds since the Unix epoch.
   * @default {Date.now()}
   */
  timeMs?: number;
  /**
   * How many payload bytes of a `traffic` event to print at most.
   * @default {256}
   */
  trafficCapBytes?: number;
}

/**
 * Returns the level an event is logged at: `traffic` is debug; `listening`,
 * `shutting_down`, `session_open` and `session_close` are info; `handshake_refused`,
 * `backend_error` and `warning` are warn; `error` is error.
 *
 * @param event The event.
 * @returns Its level.
 *
 * @example Levels
 * ```ts
 * import { eventLevel } from "./log.ts";
 * import assert from "node:assert/strict";
 * assert.equal(eventLevel({ type: "warning", message: "x" }), "warn");
 * ```
 */
export function eventLevel(event: GatewayEvent): LogLevel {
  switch (event.type) {
    case "traffic":
      return "debug";
    case "listening":
    case "shutting_down":
    case "session_open":
    case "session_close":
      return "info";
    case "handshake_refused":
    case "backend_error":
    case "warning":
      return "warn";
    case "error":
      return "error";
  }
}

/**
 * Formats one event as a log line (without a trailing newline), or returns
 * `undefined` when the event is below the configured level.
 *
 * Text lines read `TIME LEVEL type key=value ...`; a `traffic` event adds its
 * hex dump on the following lines. JSON lines hold `time`, `level`, `event`
 * and the event's fields; a `traffic` payload becomes `size`, `hex` and
 * `truncated`.
 *
 * @param event The event to format.
 * @param options Format, level, time and traffic cap.
 * @returns The line, or `undefined` if the event is filtered out.
 *
 * @example Text and JSON
 * ```ts
 * import { formatEvent } from "./log.ts";
 * import assert from "node:assert/strict";
 * const event = {
 *   type: "handshake_refused", status: 403, reason: "origin not allowed",
 *   detail: "origin https://evil.example", client: "10.0.0.9:5123", path: "/vnc",
 * } as const;
 * assert.equal(
 *   formatEvent(event, { timeMs: 0 }),
 *   '1970-01-01T00:00:00.000Z WARN  handshake_refused status=403 reason="origin not allowed" ' +
 *     'detail="origin https://evil.example" client=10.0.0.9:5123 path=/vnc',
 * );
 * const json = JSON.parse(formatEvent(event, { format: "json", timeMs: 0 })!);
 * assert.equal(json.event, "handshake_refused");
 * assert.equal(json.level, "warn");
 * assert.equal(formatEvent(event, { level: "error" }), undefined);
 * ```
 */
export function formatEvent(
  event: GatewayEvent,
  options: FormatEventOptions = {},
): string | undefined {
  const {
    format = "text",
    level = "info",
    timeMs = Date.now(),
    trafficCapBytes = 256,
  } = options;
  const eventRank = eventLevel(event);
  if (LEVEL_RANK[eventRank] < LEVEL_RANK[level]) return undefined;
  const time = formatTime(timeMs);
  if (format === "json") {
    return formatJson(event, eventRank, time, trafficCapBytes);
  }
  let line = `${time} ${eventRank.toUpperCase().padEnd(5)} ${event.type}`;
  let dump = "";
  const fullSize = event.type === "traffic" ? event.size : undefined;
  // for-in over the event's own keys: no [key, value] pair per field (two
  // lines per session, at thousands of sessions a second).
  const fields = event as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (key === "type" || key === "size" || value === undefined) continue;
    if (value instanceof Uint8Array) {
      line += ` size=${fullSize ?? value.byteLength}`;
      dump = hexDump(value, trafficCapBytes);
    } else {
      line += ` ${key}=${formatTextValue(value)}`;
    }
  }
  return dump === "" ? line : `${line}\n${dump}`;
}

/**
 * Renders bytes like `hexdump -C`: an 8-digit hex offset, 16 bytes in hex
 * (with an extra space after the eighth) and the printable-ASCII column
 * (`.` for anything else). Shows at most `capBytes` bytes and then a line
 * saying how many were left out. Lines are joined with `\n`; no trailing
 * newline; empty input gives an empty string.
 *
 * @param bytes The bytes to show.
 * @param capBytes The most bytes to show.
 * @returns The dump.
 *
 * @example A short dump
 * ```ts
 * import { hexDump } from "./log.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   hexDump(new TextEncoder().encode("Hi!\n")),
 *   "00000000  48 69 21 0a                                       |Hi!.|",
 * );
 * assert.equal(hexDump(new Uint8Array(20), 16).split("\n")[1], "... 4 more bytes (20 total)");
 * ```
 */
export function hexDump(
  bytes: Uint8Array,
  capBytes: number = Number.POSITIVE_INFINITY,
): string {
  const shown = Math.min(bytes.byteLength, Math.max(0, capBytes));
  const lines: string[] = [];
  for (let offset = 0; offset < shown; offset += 16) {
    const end = Math.min(offset + 16, shown);
    let hex = "";
    let ascii = "";
    for (let i = offset; i < offset + 16; i++) {
      if (i === offset + 8) hex += " ";
      if (i < end) {
        const byte = bytes[i]!;
        hex += `${HEX[byte]} `;
        ascii += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".";
      } else {
        hex += "   ";
      }
    }
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex} |${ascii}|`);
  }
  if (shown < bytes.byteLength) {
    lines.push(
      `... ${bytes.byteLength - shown} more bytes (${bytes.byteLength} total)`,
    );
  }
  return lines.join("\n");
}

function formatJson(
  event: GatewayEvent,
  level: LogLevel,
  time: string,
  trafficCapBytes: number,
): string {
  const record: Record<string, unknown> = { time, level, event: event.type };
  const fullSize = event.type === "traffic" ? event.size : undefined;
  const fields = event as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (key === "type" || key === "size" || value === undefined) continue;
    if (value instanceof Uint8Array) {
      const shown = value.subarray(0, Math.max(0, trafficCapBytes));
      const size = fullSize ?? value.byteLength;
      record.size = size;
      record.hex = shown.toHex();
      record.truncated = shown.byteLength < size;
    } else {
      record[key] = value;
    }
  }
  return JSON.stringify(record);
}

// Lines of one burst share their millisecond: format it once.
let lastTimeMs = NaN;
let lastTimeText = "";

function formatTime(timeMs: number): string {
  if (timeMs === lastTimeMs) return lastTimeText;
  const date = new Date(timeMs);
  const text = Number.isNaN(date.getTime())
    ? String(timeMs)
    : date.toISOString();
  lastTimeMs = timeMs;
  lastTimeText = text;
  return text;
}

/** Printable ASCII without space, `"`, `=` or `\`: safe to log bare. */
const BARE_VALUE = /^[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+$/;

function formatTextValue(value: unknown): string {
  const text = String(value);
  // Bare only when it cannot be mistaken for a separator, quote or new line.
  if (BARE_VALUE.test(text)) return text;
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
