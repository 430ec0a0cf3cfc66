/**
 * The HTTP/1.1 request head: strict incremental parsing (RFC 9112) of the
 * bytes a client sends before its body or its WebSocket frames. Pure.
 *
 * @module
 */

import { trimOws } from "../websocket/ows.ts";

/** A parsed HTTP/1.1 request head. Header names are lower-cased. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The HTTP version as sent, `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** The request target as sent, e.g. `/chat?token=a`. */
  target: string;
  /** The path part of the target, e.g. `/chat`. */
  path: string;
  /** The query parameters. */
  query: URLSearchParams;
  /** Header values by lower-cased name; repeated headers joined with ", ". */
  headers: Map<string, string>;
  /**
   * Length of the head in bytes, including the final empty line and any
   * empty lines before the request line.
   */
  headLength: number;
}

/** A refusal before the upgrade: an HTTP status and a short body. */
export interface HttpRefusal {
  /** The HTTP status code. */
  status: number;
  /** A short, fixed text for the client. */
  body: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** The result of {@linkcode parseRequestHead}. */
export type ParseHeadResult =
  | { kind: "head"; head: RequestHead }
  | { kind: "incomplete" }
  | { kind: "refused"; refusal: HttpRefusal };

const LATIN1 = new TextDecoder("latin1");
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** `HTTP/1.` and one digit (RFC 9112 section 2.3): `HTTP/1.x` is malformed. */
const HTTP_1_VERSION = /^HTTP\/1\.\d$/;

/**
 * A control character other than tab, or a CR or LF outside a CRLF pair:
 * never valid in a request head (RFC 9110 section 5.5), and a value that
 * holds one could inject lines into a response that echoes it (the chosen
 * subprotocol does).
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const STRAY_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;

/**
 * Finds the end of the head (`\r\n\r\n`) in `bytes` and parses it.
 * Returns `incomplete` when more bytes are needed, or a refusal: 431 when
 * the head exceeds `maxHeadBytes`, 400 when it is malformed (a version
 * other than `HTTP/1.` and one digit included) or its body framing is
 * ambiguous (two `Host` lines, a `Content-Length` that is not digits or
 * lists two values, `Content-Length` with `Transfer-Encoding`), 505 for
 * `HTTP/1.2` to `HTTP/1.9`.
 *
 * @example
 * ```ts
 * import { parseRequestHead } from "./request_head.ts";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
 * const result = parseRequestHead(bytes, 8192);
 * assert.equal(result.kind, "head");
 * if (result.kind === "head") assert.equal(result.head.query.get("x"), "1");
 * ```
 *
 * @param bytes The bytes received so far.
 * @param maxHeadBytes The largest head accepted.
 * @param scannedBytes How many leading bytes an earlier call already found
 * without the end of the head (see {@linkcode findHeadEnd}): a reader that
 * passes it scans each byte a bounded number of times.
 * @returns The head, `incomplete`, or a refusal.
 */
export function parseRequestHead(
  bytes: Uint8Array,
  maxHeadBytes: number,
  scannedBytes = 0,
): ParseHeadResult {
  // RFC 9112 section 2.2: empty lines before the request line are ignored.
  let skipped = 0;
  while (bytes[skipped] === 13 && bytes[skipped + 1] === 10) skipped += 2;
  const found = findHeadEnd(
    bytes.subarray(skipped),
    Math.max(0, scannedBytes - skipped),
  );
  const end = found < 0 ? found : found + skipped;
  if (end < 0) {
    return bytes.length >= maxHeadBytes
      ? {
        kind: "refused",
        refusal: { status: 431, body: "Request head too large" },
      }
      : { kind: "incomplete" };
  }
  const headLength = end + 4;
  if (headLength > maxHeadBytes) {
    return {
      kind: "refused",
      refusal: { status: 431, body: "Request head too large" },
    };
  }
  const text = LATIN1.decode(bytes.subarray(skipped, end));
  if (STRAY_CONTROL.test(text)) return badRequest("Malformed request head");
  const lines = text.split("\r\n");
  const requestLine = lines[0]!.split(" ");
  if (requestLine.length !== 3 || !HTTP_1_VERSION.test(requestLine[2]!)) {
    return badRequest("Malformed request line");
  }
  const [method, target, version] = requestLine as [string, string, string];
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return {
      kind: "refused",
      refusal: { status: 505, body: "HTTP version not supported" },
    };
  }
  if (!TOKEN_CHARS.test(method) || !target.startsWith("/")) {
    return badRequest("Malformed request line");
  }
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) return badRequest("Malformed header line");
    const name = line.slice(0, colon);
    if (!TOKEN_CHARS.test(name)) return badRequest("Malformed header name");
    const key = name.toLowerCase();
    const value = trimOws(line.slice(colon + 1));
    const previous = headers.get(key);
    // RFC 9112 section 3.2: more than one Host line is a 400.
    if (key === "host" && previous !== undefined) {
      return badRequest("Duplicate Host header");
    }
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  const framingError = checkBodyFraming(headers);
  if (framingError !== undefined) return badRequest(framingError);
  const question = target.indexOf("?");
  const rawPath = question < 0 ? target : target.slice(0, question);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return badRequest("Malformed request path");
  }
  const query = new URLSearchParams(
    question < 0 ? "" : target.slice(question + 1),
  );
  return {
    kind: "head",
    head: { method, version, target, path, query, headers, headLength },
  };
}

/**
 * The message-framing checks every request gets (RFC 9112 section 6.3): a
 * `Content-Length` that is not digits, or lists two different values, and
 * `Content-Length` together with `Transfer-Encoding` (a request smuggling
 * pattern) make the framing ambiguous. Returns the refusal text, if any.
 */
function checkBodyFraming(headers: Map<string, string>): string | undefined {
  const length = headers.get("content-length");
  if (length === undefined) return undefined;
  if (headers.has("transfer-encoding")) {
    return "Content-Length together with Transfer-Encoding";
  }
  const values = length.split(",").map(trimOws);
  if (!values.every((entry) => /^\d+$/.test(entry))) {
    return "Malformed Content-Length";
  }
  if (values.some((entry) => BigInt(entry) !== BigInt(values[0]!))) {
    return "Conflicting Content-Length headers";
  }
  return undefined;
}

function badRequest(body: string): ParseHeadResult {
  return { kind: "refused", refusal: { status: 400, body } };
}

/**
 * Finds the first `\r\n\r\n` in `bytes`, looking only at what follows the
 * first `scannedBytes` bytes (minus 3, for a terminator split across reads).
 * A reader that passes the length it already searched scans each byte a
 * bounded number of times, however small its reads.
 *
 * @example A terminator split across two reads
 * ```ts
 * import { findHeadEnd } from "./request_head.ts";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
 * assert.equal(findHeadEnd(bytes.subarray(0, 16), 0), -1);
 * assert.equal(findHeadEnd(bytes, 16), 14);
 * ```
 *
 * @param bytes The bytes received so far.
 * @param scannedBytes How many leading bytes are known to hold no
 * terminator (0 to search everything).
 * @returns The index of the terminator's first byte, or -1.
 */
export function findHeadEnd(bytes: Uint8Array, scannedBytes: number): number {
  const last = bytes.length - 3;
  for (let i = Math.max(0, scannedBytes - 3); i < last; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      return i;
    }
  }
  return -1;
}
