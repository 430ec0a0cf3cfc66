/**
 * The framing SPEC language: {@linkcode parseFramingSpec} turns text such as
 * `u32be,offset=1,adjust=-5` into a {@linkcode FramingSpec},
 * {@linkcode formatFramingSpec} turns it back into canonical text, and
 * {@linkcode maxMessageBytes} says how large a message a spec can carry.
 *
 * Grammar: a kind, then comma-separated options.
 *
 * | Kind | Options | Frame on the wire |
 * | --- | --- | --- |
 * | `raw` | `max`, `text` | no framing: bytes pass through as they arrive |
 * | `lines` | `crlf`, `max`, `text` | message + `\n` (`\r\n` with `crlf`) |
 * | `varint` | `max`, `text` | unsigned LEB128 length + message |
 * | `u8`, `u16be`, `u16le`, `u24be`, `u24le`, `u32be`, `u32le`, `u64be`, `u64le` | `offset`, `adjust`, `whole`, `max`, `text` | length field + message |
 *
 * Options:
 * - `offset=N` (0 to 65535): N bytes come before the length field. Without
 *   `whole` they belong to the message: message = the N bytes before the
 *   length field + the bytes after it.
 * - `adjust=N` (-2147483647 to 2147483647, may be negative): a length field
 *   holding L means L + N bytes follow the length field.
 * - `whole`: the message is the whole frame, header included (the browser
 *   sends and receives complete frames; wsgate only finds the boundaries).
 * - `max=BYTES` (1 to 1024m, suffix `k` = 1024 or `m` = 1048576, case
 *   insensitive; default 16m): the largest message in either direction; for
 *   `lines` the line without its delimiter; for `whole` the whole frame.
 * - `text`: messages travel as WebSocket text messages. The codecs do not
 *   validate UTF-8 (the caller does); with `raw` the decoder keeps UTF-8
 *   characters whole across chunks (so `raw,text` needs `max` of at least 4).
 * - `crlf` (`lines` only): lines end with `\r\n` both ways.
 *
 * Lexical rules: keywords are lower case; whitespace around tokens and around
 * `=` is ignored; `u8` takes no byte order but `u8be` and `u8le` are accepted
 * as synonyms of `u8`; an option may appear once.
 *
 * @module
 */

/** The default of {@linkcode FramingSpecBase.maxFrameBytes}: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The largest `max=` accepted: 1 GiB (`1024m`). */
export const MAX_FRAME_BYTES_LIMIT = 1024 * 1024 * 1024;

/** The largest `offset=` accepted. */
export const MAX_OFFSET = 65535;

/** The largest absolute `adjust=` accepted. */
export const MAX_ADJUST = 2147483647;

/** The byte width of a length field: u8, u16, u24, u32 or u64. */
export type LengthWidth = 1 | 2 | 3 | 4 | 8;

/** Fields shared by every kind of {@linkcode FramingSpec}. */
export interface FramingSpecBase {
  /**
   * The largest message in bytes, in either direction (`max=`). For `lines`
   * the line without its delimiter; for `whole` specs the whole frame.
   * @default {16777216}
   */
  readonly maxFrameBytes: number;
  /**
   * Whether messages travel as WebSocket text messages (`text`). The codecs
   * do not validate UTF-8; `raw` keeps characters whole across chunks.
   * @default {false}
   */
  readonly text: boolean;
}

/** `raw`: no framing; each chunk read from TCP is one message. */
export interface RawFramingSpec extends FramingSpecBase {
  /** The kind discriminant. */
  readonly kind: "raw";
}

/** `lines[,crlf]`: newline-terminated messages. */
export interface LinesFramingSpec extends FramingSpecBase {
  /** The kind discriminant. */
  readonly kind: "lines";
  /**
   * Whether `\r\n` (and only `\r\n`) ends a line; otherwise `\n` does and a
   * `\r` before it is data.
   * @default {false}
   */
  readonly crlf: boolean;
}

/** `varint`: unsigned LEB128 length (protobuf delimited) + message. */
export interface VarintFramingSpec extends FramingSpecBase {
  /** The kind discriminant. */
  readonly kind: "varint";
}

/** `u8` ... `u64le` with `offset`, `adjust`, `whole`: a fixed-width length. */
export interface LengthFramingSpec extends FramingSpecBase {
  /** The kind discriminant. */
  readonly kind: "length";
  /** Bytes in the length field (u24 is 3). */
  readonly width: LengthWidth;
  /**
   * Whether the length field is little-endian (always `false` for u8).
   * @default {false}
   */
  readonly littleEndian: boolean;
  /**
   * Bytes before the length field.
   * @default {0}
   */
  readonly offset: number;
  /**
   * A length field holding L means L + adjust bytes follow it.
   * @default {0}
   */
  readonly adjust: number;
  /**
   * Whether the message is the whole frame, header included.
   * @default {false}
   */
  readonly whole: boolean;
}

/** A parsed framing, discriminated by `kind`. */
export type FramingSpec =
  | RawFramingSpec
  | LinesFramingSpec
  | VarintFramingSpec
  | LengthFramingSpec;

/** Where in the SPEC text a {@linkcode FramingSpecError} points. */
export interface FramingSpecErrorLocation {
  /** The offending token, trimmed. */
  token: string;
  /** The index of `token` in the SPEC text. */
  index: number;
}

/**
 * A framing SPEC cannot be parsed. The message names the bad token and lists
 * what is valid there.
 *
 * @example Usage
 * ```ts
 * import { FramingSpecError, parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => parseFramingSpec("u32be,max=1k,foo"), (error) => {
 *   assert.ok(error instanceof FramingSpecError);
 *   assert.equal(error.token, "foo");
 *   assert.equal(error.index, 13);
 *   return true;
 * });
 * ```
 */
export class FramingSpecError extends SyntaxError {
  /** The whole SPEC text. */
  readonly spec: string;
  /** The offending token, trimmed. */
  readonly token: string;
  /** The index of {@linkcode FramingSpecError.token} in the SPEC text. */
  readonly index: number;
  /**
   * Constructs a new instance.
   * @param spec The whole SPEC text.
   * @param detail What is wrong and what is expected.
   * @param location The offending token and its index.
   */
  constructor(
    spec: string,
    detail: string,
    location: FramingSpecErrorLocation,
  ) {
    super(`Cannot parse framing "${spec}": ${detail}`);
    this.name = "FramingSpecError";
    this.spec = spec;
    this.token = location.token;
    this.index = location.index;
  }
}

const KIND_HELP =
  "expected raw, lines, varint, or u8, u16, u24, u32, u64 with be or le";
const WIDTH_HELP = "expected u8, u16, u24, u32, u64 with be or le";
const WIDTHS: Readonly<Record<string, LengthWidth>> = {
  "8": 1,
  "16": 2,
  "24": 3,
  "32": 4,
  "64": 8,
};
const OPTIONS_BY_KIND: Readonly<Record<FramingSpec["kind"], string[]>> = {
  raw: ["max", "text"],
  lines: ["crlf", "max", "text"],
  varint: ["max", "text"],
  length: ["offset", "adjust", "whole", "max", "text"],
};
const VALUED_OPTIONS = new Set(["offset", "adjust", "max"]);
const OPTION_SHAPES: Readonly<Record<string, string>> = {
  offset: "offset=N",
  adjust: "adjust=N",
  max: "max=BYTES",
};
const MIB = 1024 * 1024;

interface Token {
  text: string;
  index: number;
}

function tokenize(spec: string): Token[] {
  const tokens: Token[] = [];
  let start = 0;
  for (const part of spec.split(",")) {
    const lead = part.length - part.trimStart().length;
    tokens.push({ text: part.trim(), index: start + lead });
    start += part.length + 1;
  }
  return tokens;
}

/** The largest value a length field of `width` bytes can hold, as a safe integer. */
export function lengthFieldMax(width: LengthWidth): number {
  return width === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * width) - 1;
}

/** The smallest message a spec accepts (the header bytes it must include). */
export function minMessageBytes(spec: FramingSpec): number {
  if (spec.kind !== "length") return 0;
  const before = spec.whole ? spec.offset + spec.width : spec.offset;
  return before + Math.max(0, spec.adjust);
}

/**
 * Returns the largest WebSocket message `spec` can carry in either direction:
 * `maxFrameBytes`, lowered for length-prefixed specs to what the length field
 * can express.
 *
 * @param spec The framing.
 * @returns The largest message in bytes.
 *
 * @example Usage
 * ```ts
 * import { maxMessageBytes, parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.equal(maxMessageBytes(parseFramingSpec("u16be")), 65535);
 * assert.equal(maxMessageBytes(parseFramingSpec("u16be,whole")), 65537);
 * assert.equal(maxMessageBytes(parseFramingSpec("u32be,max=1k")), 1024);
 * ```
 */
export function maxMessageBytes(spec: FramingSpec): number {
  if (spec.kind !== "length") return spec.maxFrameBytes;
  const before = spec.whole ? spec.offset + spec.width : spec.offset;
  const upper = before + lengthFieldMax(spec.width) + spec.adjust;
  return Math.min(spec.maxFrameBytes, upper);
}

function formatBytes(bytes: number): string {
  if (Number.isSafeInteger(bytes) && bytes > 0) {
    if (bytes % MIB === 0) return `${bytes / MIB}m`;
    if (bytes % 1024 === 0) return `${bytes / 1024}k`;
  }
  return String(bytes);
}

/**
 * Formats `spec` as canonical SPEC text: options in the order `crlf`,
 * `offset`, `adjust`, `whole`, `max`, `text`, defaults left out, `max` with
 * the largest exact suffix. `parseFramingSpec(formatFramingSpec(s))` equals
 * `s` for every parsed `s`.
 *
 * @param spec The framing.
 * @returns The canonical text.
 *
 * @example Usage
 * ```ts
 * import { formatFramingSpec, parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = parseFramingSpec(" u32be , max=65536 , adjust=-5,offset=1");
 * assert.equal(formatFramingSpec(spec), "u32be,offset=1,adjust=-5,max=64k");
 * ```
 */
export function formatFramingSpec(spec: FramingSpec): string {
  const parts: string[] = [];
  switch (spec.kind) {
    case "raw":
    case "varint":
      parts.push(spec.kind);
      break;
    case "lines":
      parts.push("lines");
      if (spec.crlf) parts.push("crlf");
      break;
    case "length": {
      const order = spec.width === 1 ? "" : spec.littleEndian ? "le" : "be";
      parts.push(`u${spec.width * 8}${order}`);
      if (spec.offset !== 0) parts.push(`offset=${spec.offset}`);
      if (spec.adjust !== 0) parts.push(`adjust=${spec.adjust}`);
      if (spec.whole) parts.push("whole");
      break;
    }
  }
  if (spec.maxFrameBytes !== DEFAULT_MAX_FRAME_BYTES) {
    parts.push(`max=${formatBytes(spec.maxFrameBytes)}`);
  }
  if (spec.text) parts.push("text");
  return parts.join(",");
}

/**
 * Parses SPEC text into a {@linkcode FramingSpec}. See the module
 * documentation for the grammar.
 *
 * @param spec The SPEC text, for example `u32be,offset=1,adjust=-5`.
 * @returns The parsed framing.
 * @throws {FramingSpecError} When a token is unknown, misplaced, repeated or
 * out of range, or when the options leave no valid frame.
 *
 * @example Usage
 * ```ts
 * import { parseFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseFramingSpec("u32le,adjust=-4,whole,max=48m"), {
 *   kind: "length",
 *   width: 4,
 *   littleEndian: true,
 *   offset: 0,
 *   adjust: -4,
 *   whole: true,
 *   maxFrameBytes: 48 * 1024 * 1024,
 *   text: false,
 * });
 * assert.throws(
 *   () => parseFramingSpec("u7be"),
 *   /unknown width "u7" \(expected u8, u16, u24, u32, u64 with be or le\)/,
 * );
 * ```
 */
export function parseFramingSpec(spec: string): FramingSpec {
  const [head, ...rest] = tokenize(spec);
  const fail = (token: Token, detail: string): never => {
    throw new FramingSpecError(spec, detail, {
      token: token.text,
      index: token.index,
    });
  };
  // split() always yields at least one part.
  const kindToken = head as Token;
  let kind: FramingSpec["kind"];
  let width: LengthWidth = 4;
  let littleEndian = false;
  const word = kindToken.text;
  const widthMatch = /^u(\d+)(.*)$/s.exec(word);
  if (word === "raw" || word === "lines" || word === "varint") {
    kind = word;
  } else if (widthMatch !== null) {
    kind = "length";
    const digits = widthMatch[1] as string;
    const order = widthMatch[2] as string;
    const found = WIDTHS[digits];
    if (found === undefined) {
      fail(kindToken, `unknown width "u${digits}" (${WIDTH_HELP})`);
    }
    width = found as LengthWidth;
    if (order === "le") littleEndian = width !== 1;
    else if (order === "" && width !== 1) {
      fail(
        kindToken,
        `missing byte order in "${word}" (expected ${word}be or ${word}le)`,
      );
    } else if (order !== "be" && order !== "") {
      fail(
        kindToken,
        `unknown byte order "${order}" in "${word}" (expected be or le)`,
      );
    }
  } else if (word === "") {
    return fail(kindToken, `missing kind (${KIND_HELP})`);
  } else {
    return fail(kindToken, `unknown kind "${word}" (${KIND_HELP})`);
  }

  const allowed = OPTIONS_BY_KIND[kind];
  const help = `expected ${
    allowed.map((name) => OPTION_SHAPES[name] ?? name).join(", ")
  }`;
  const seen = new Map<string, Token>();
  let offset = 0;
  let adjust = 0;
  let whole = false;
  let crlf = false;
  let text = false;
  let maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  for (const token of rest) {
    if (token.text === "") fail(token, `empty option (${help})`);
    const equals = token.text.indexOf("=");
    const name = equals < 0 ? token.text : token.text.slice(0, equals).trim();
    const value = equals < 0 ? undefined : token.text.slice(equals + 1).trim();
    if (!allowed.includes(name)) {
      const known = Object.values(OPTIONS_BY_KIND).some((names) =>
        names.includes(name)
      );
      const target = kind === "length" ? word : kind;
      fail(
        token,
        known
          ? `option "${name}" does not apply to ${target} (${help})`
          : `unknown option "${name}" (${help})`,
      );
    }
    if (seen.has(name)) fail(token, `duplicate option "${name}"`);
    seen.set(name, token);
    if (VALUED_OPTIONS.has(name) && value === undefined) {
      fail(token, `option "${name}" needs a value (${help})`);
    }
    if (!VALUED_OPTIONS.has(name) && value !== undefined) {
      fail(token, `option "${name}" takes no value (${help})`);
    }
    const given = value ?? "";
    switch (name) {
      case "offset":
        if (!/^\d{1,6}$/.test(given) || Number(given) > MAX_OFFSET) {
          fail(
            token,
            `invalid offset "${given}" (expected an integer from 0 to ${MAX_OFFSET})`,
          );
        }
        offset = Number(given);
        break;
      case "adjust":
        if (
          !/^[+-]?\d{1,10}$/.test(given) || Math.abs(Number(given)) > MAX_ADJUST
        ) {
          fail(
            token,
            `invalid adjust "${given}" (expected an integer from -${MAX_ADJUST} to ${MAX_ADJUST})`,
          );
        }
        adjust = Number(given);
        break;
      case "max": {
        const match = /^(\d{1,10})([km]?)$/i.exec(given);
        const unit = match?.[2]?.toLowerCase();
        const bytes = match === null
          ? NaN
          : Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? MIB : 1);
        if (!(bytes >= 1 && bytes <= MAX_FRAME_BYTES_LIMIT)) {
          fail(
            token,
            `invalid max "${given}" (expected a byte count from 1 to 1024m, with optional suffix k or m)`,
          );
        }
        maxFrameBytes = bytes;
        break;
      }
      case "whole":
        whole = true;
        break;
      case "crlf":
        crlf = true;
        break;
      case "text":
        text = true;
        break;
    }
  }

  if (kind === "raw" && text && maxFrameBytes < 4) {
    // raw cuts the stream at max bytes: below 4 it would have to split a
    // UTF-8 character, and each piece would be invalid text.
    fail(
      seen.get("max")!,
      `max ${maxFrameBytes} is below 4 bytes, the longest UTF-8 character, which raw with text must keep whole`,
    );
  }
  switch (kind) {
    case "raw":
    case "varint":
      return { kind, maxFrameBytes, text };
    case "lines":
      return { kind, crlf, maxFrameBytes, text };
  }
  const result: LengthFramingSpec = {
    kind,
    width,
    littleEndian,
    offset,
    adjust,
    whole,
    maxFrameBytes,
    text,
  };
  const fieldMax = lengthFieldMax(width);
  if (fieldMax + adjust < 0) {
    fail(
      seen.get("adjust") as Token,
      `adjust "${adjust}" leaves no valid length for a ${width}-byte field (expected adjust >= -${fieldMax})`,
    );
  }
  const smallest = minMessageBytes(result);
  if (smallest > maxFrameBytes) {
    fail(
      seen.get("max") ?? seen.get("adjust") ?? seen.get("offset") ?? kindToken,
      `max ${maxFrameBytes} is below the smallest message of this framing (${smallest} bytes)`,
    );
  }
  return result;
}

/**
 * Checks a {@linkcode FramingSpec} built in code (not parsed) and returns its
 * normalised form, by formatting and parsing it again.
 *
 * @param spec The framing to check.
 * @returns An equivalent parsed spec.
 * @throws {FramingSpecError} When a field is out of range.
 *
 * @example Usage
 * ```ts
 * import { normalizeFramingSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = normalizeFramingSpec({
 *   kind: "length", width: 1, littleEndian: true, offset: 0, adjust: 0,
 *   whole: false, maxFrameBytes: 100, text: false,
 * });
 * assert.equal(spec.kind === "length" && spec.littleEndian, false);
 * assert.throws(() => normalizeFramingSpec({ kind: "raw", maxFrameBytes: 0, text: false }));
 * ```
 */
export function normalizeFramingSpec(spec: FramingSpec): FramingSpec {
  // Sessions build codecs from the same frozen route spec again and again:
  // check a frozen spec once (it cannot change afterwards).
  const known = NORMALIZED.get(spec);
  if (known !== undefined) return known;
  const normalized = parseFramingSpec(formatFramingSpec(spec));
  if (Object.isFrozen(spec)) NORMALIZED.set(spec, normalized);
  return normalized;
}

const NORMALIZED = new WeakMap<FramingSpec, FramingSpec>();
