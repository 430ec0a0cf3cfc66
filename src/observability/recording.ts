/**
 * The session recording format (one file per session, like websockify's
 * `--record`) and its human-readable replay. Pure: the caller opens the file
 * and appends the lines these functions return.
 *
 * A recording is JSON lines, appendable and greppable:
 *
 * ```text
 * {"format":"wsgate-recording","version":1,"sessionId":"s1","route":"/vnc","client":"10.0.0.2:5000","target":"10.0.0.5:5900","startedAtMs":1700000000000}
 * {"t":1700000000012,"dir":"to_backend","b64":"aGVsbG8="}
 * {"t":1700000000020,"dir":"to_browser","b64":"d29ybGQ="}
 * ```
 *
 * The first line (header) is optional. Each record holds one message: `t` is
 * the time in milliseconds since the Unix epoch, `dir` is `to_backend` or
 * `to_browser`, `b64` is the payload in base64. A last line cut short (the
 * process died mid-write) is reported as `truncated`, not as an error.
 *
 * @module
 */

import type { TrafficDirection } from "./events.ts";
import { hexDump } from "./log.ts";

/** The `format` value of a recording header line. */
export const RECORDING_FORMAT = "wsgate-recording";

/** The version of the recording format these functions write. */
export const RECORDING_VERSION = 1;

/** One recorded message. */
export interface RecordEntry {
  /** When the message was relayed, in milliseconds since the Unix epoch. */
  timeMs: number;
  /** Which way it went. */
  direction: TrafficDirection;
  /** The message payload. */
  bytes: Uint8Array;
}

/** What a recording is about; written once, as the first line. */
export interface RecordingHeader {
  /** The session id. */
  sessionId: string;
  /** The route of the session. */
  route: string;
  /** The browser's address as `host:port`. */
  client: string;
  /** The backend as `host:port` or `unix:/path`. */
  target: string;
  /** When the session opened, in milliseconds since the Unix epoch. */
  startedAtMs: number;
}

/** A decoded recording. */
export interface Recording {
  /** The header, when the recording has one. */
  header: RecordingHeader | undefined;
  /** The messages, in file order. */
  records: RecordEntry[];
  /** Whether the last line was cut short and skipped. */
  truncated: boolean;
}

/** Options of {@linkcode replay}. */
export interface ReplayOptions {
  /**
   * How many bytes of each message to show in the hex dump.
   * @default {1024}
   */
  capBytes?: number;
}

/**
 * Encodes the header line of a recording.
 *
 * @param header What the recording is about.
 * @returns One JSON line ending with `\n`.
 *
 * @example Header
 * ```ts
 * import { encodeRecordingHeader } from "./recording.ts";
 * import assert from "node:assert/strict";
 * const line = encodeRecordingHeader({
 *   sessionId: "s1", route: "/vnc", client: "a:1", target: "b:2", startedAtMs: 0,
 * });
 * assert.equal(JSON.parse(line).format, "wsgate-recording");
 * ```
 */
export function encodeRecordingHeader(header: RecordingHeader): string {
  const { sessionId, route, client, target, startedAtMs } = header;
  return `${
    JSON.stringify({
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      sessionId,
      route,
      client,
      target,
      startedAtMs,
    })
  }\n`;
}

/**
 * Encodes one message as a recording line.
 *
 * @param entry The time, direction and payload.
 * @returns One JSON line ending with `\n`.
 *
 * @example Round trip
 * ```ts
 * import { decodeRecord, encodeRecord } from "./recording.ts";
 * import assert from "node:assert/strict";
 * const entry = { timeMs: 12, direction: "to_backend" as const, bytes: Uint8Array.of(1, 2) };
 * assert.equal(encodeRecord(entry), '{"t":12,"dir":"to_backend","b64":"AQI="}\n');
 * assert.deepEqual(decodeRecord(encodeRecord(entry)), entry);
 * ```
 */
export function encodeRecord(entry: RecordEntry): string {
  return `${
    JSON.stringify({
      t: entry.timeMs,
      dir: entry.direction,
      b64: entry.bytes.toBase64(),
    })
  }\n`;
}

/**
 * Decodes one record line (with or without its `\n`). Throws `SyntaxError`
 * when the line is not a valid record.
 *
 * @param line The line.
 * @returns The record.
 *
 * @example Decoding
 * ```ts
 * import { decodeRecord } from "./recording.ts";
 * import assert from "node:assert/strict";
 * const entry = decodeRecord('{"t":5,"dir":"to_browser","b64":"aGk="}');
 * assert.equal(new TextDecoder().decode(entry.bytes), "hi");
 * assert.throws(() => decodeRecord('{"t":5}'), SyntaxError);
 * ```
 */
export function decodeRecord(line: string): RecordEntry {
  const value = parseObject(line);
  const { t, dir, b64 } = value;
  if (typeof t !== "number" || !Number.isFinite(t)) {
    throw new SyntaxError(
      `Cannot decode record as "t" must be a finite number: current value is ${
        JSON.stringify(t)
      }`,
    );
  }
  if (dir !== "to_backend" && dir !== "to_browser") {
    throw new SyntaxError(
      `Cannot decode record as "dir" must be "to_backend" or "to_browser": current value is ${
        JSON.stringify(dir)
      }`,
    );
  }
  if (typeof b64 !== "string") {
    throw new SyntaxError(`Cannot decode record as "b64" must be a string`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(b64);
  } catch (cause) {
    throw new SyntaxError(`Cannot decode record as "b64" is not base64`, {
      cause,
    });
  }
  return { timeMs: t, direction: dir, bytes };
}

/**
 * Decodes a whole recording. A line that cannot be decoded throws
 * `SyntaxError` naming its line number, except a last line without its
 * `\n`, which is skipped and reported as `truncated`.
 *
 * @param input The file contents, as text or UTF-8 bytes.
 * @returns The header (if any), the records and whether the end was cut.
 *
 * @example Decoding a file
 * ```ts
 * import { decodeRecording, encodeRecord } from "./recording.ts";
 * import assert from "node:assert/strict";
 * const text = encodeRecord({ timeMs: 1, direction: "to_backend", bytes: Uint8Array.of(7) }) +
 *   '{"t":2,"dir":"to_bro';
 * const recording = decodeRecording(text);
 * assert.equal(recording.records.length, 1);
 * assert.equal(recording.truncated, true);
 * ```
 */
export function decodeRecording(input: string | Uint8Array): Recording {
  const text = typeof input === "string"
    ? input
    : new TextDecoder().decode(input);
  const lines = text.split("\n");
  const recording: Recording = {
    header: undefined,
    records: [],
    truncated: false,
  };
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const isLast = i === lines.length - 1;
    try {
      if (recording.header === undefined && recording.records.length === 0) {
        const value = parseObject(line);
        if (value.format === RECORDING_FORMAT) {
          recording.header = decodeHeader(value);
          continue;
        }
      }
      recording.records.push(decodeRecord(line));
    } catch (error) {
      // Only the unterminated last line can be a write cut short.
      if (isLast) {
        recording.truncated = true;
        break;
      }
      throw new SyntaxError(
        `Cannot decode recording line ${i + 1}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }
  return recording;
}

/**
 * Formats a recording for people: a summary of the header, then per message
 * its time since the start (`+1.234s`), an arrow (`browser -> backend` or
 * `browser <- backend`), its size and a hex dump with an ASCII column, then a
 * total line. Text from the file is shown with control characters escaped.
 *
 * @param input The file contents, as text or UTF-8 bytes.
 * @param options How many bytes of each message to dump.
 * @returns The report, lines joined with `\n`, ending with `\n`.
 *
 * @example Replaying two messages
 * ```ts
 * import { encodeRecord, replay } from "./recording.ts";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("hi");
 * const text = encodeRecord({ timeMs: 1000, direction: "to_backend", bytes }) +
 *   encodeRecord({ timeMs: 1250, direction: "to_browser", bytes });
 * assert.equal(
 *   replay(text),
 *   "+0.000s  browser -> backend  2 B\n" +
 *     "    00000000  68 69                                             |hi|\n" +
 *     "+0.250s  browser <- backend  2 B\n" +
 *     "    00000000  68 69                                             |hi|\n" +
 *     "2 messages in 0.250s: 2 B to backend in 1, 2 B to browser in 1\n",
 * );
 * ```
 */
export function replay(
  input: string | Uint8Array,
  options: ReplayOptions = {},
): string {
  const { capBytes = 1024 } = options;
  const { header, records, truncated } = decodeRecording(input);
  const lines: string[] = [];
  if (header !== undefined) {
    lines.push(
      `session ${printable(header.sessionId)} route ${
        printable(header.route)
      } client ${printable(header.client)} target ${
        printable(header.target)
      } started ${formatDate(header.startedAtMs)}`,
    );
  }
  const startMs = header?.startedAtMs ?? records[0]?.timeMs ?? 0;
  let lastMs = startMs;
  const sums: Record<TrafficDirection, { bytes: number; messages: number }> = {
    "to_backend": { bytes: 0, messages: 0 },
    "to_browser": { bytes: 0, messages: 0 },
  };
  for (const record of records) {
    const arrow = record.direction === "to_backend"
      ? "browser -> backend"
      : "browser <- backend";
    lines.push(
      `${
        formatOffset(record.timeMs - startMs)
      }  ${arrow}  ${record.bytes.byteLength} B`,
    );
    const dump = hexDump(record.bytes, capBytes);
    for (const line of dump === "" ? ["(empty)"] : dump.split("\n")) {
      lines.push(`    ${line}`);
    }
    const sum = sums[record.direction];
    sum.bytes += record.bytes.byteLength;
    sum.messages++;
    lastMs = Math.max(lastMs, record.timeMs);
  }
  lines.push(
    `${records.length} messages in ${
      ((lastMs - startMs) / 1000).toFixed(3)
    }s: ` +
      `${sums.to_backend.bytes} B to backend in ${sums.to_backend.messages}, ` +
      `${sums.to_browser.bytes} B to browser in ${sums.to_browser.messages}`,
  );
  if (truncated) lines.push("(last line incomplete: recording was cut short)");
  return `${lines.join("\n")}\n`;
}

function decodeHeader(value: Record<string, unknown>): RecordingHeader {
  const { version, sessionId, route, client, target, startedAtMs } = value;
  if (version !== RECORDING_VERSION) {
    throw new SyntaxError(
      `Cannot decode recording header as "version" must be ${RECORDING_VERSION}: current value is ${
        JSON.stringify(version)
      }`,
    );
  }
  if (
    typeof sessionId !== "string" || typeof route !== "string" ||
    typeof client !== "string" || typeof target !== "string" ||
    typeof startedAtMs !== "number" || !Number.isFinite(startedAtMs)
  ) {
    throw new SyntaxError(
      "Cannot decode recording header as a field is missing or has the wrong type",
    );
  }
  return { sessionId, route, client, target, startedAtMs };
}

function parseObject(line: string): Record<string, unknown> {
  const value: unknown = JSON.parse(line);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError("Cannot decode record as it is not a JSON object");
  }
  return value as Record<string, unknown>;
}

function formatOffset(ms: number): string {
  return `${ms < 0 ? "-" : "+"}${(Math.abs(ms) / 1000).toFixed(3)}s`;
}

function formatDate(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function printable(text: string): string {
  return text.replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
