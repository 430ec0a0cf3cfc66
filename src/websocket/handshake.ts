/**
 * The HTTP/1.1 request head: strict incremental parsing, and the checks and
 * `Sec-WebSocket-Accept` computation of the WebSocket opening handshake
 * (RFC 6455 section 4.2). Pure.
 *
 * @module
 */

import { trimOws } from "./_ows.ts";
import { sha1 } from "./sha1.ts";

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
 * import { parseRequestHead } from "./handshake.ts";
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
 * import { findHeadEnd } from "./handshake.ts";
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

/**
 * Whether the head asks for a WebSocket upgrade: the `Upgrade` header is a
 * comma-separated list (RFC 9110 section 7.8) and one of its entries is
 * the bare token `websocket`, in any case (`websocket/13` is another
 * protocol).
 *
 * @example
 * ```ts
 * import { isUpgradeRequest } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isUpgradeRequest(new Map([["upgrade", "WebSocket"]])), true);
 * assert.equal(isUpgradeRequest(new Map([["upgrade", "h2c, websocket"]])), true);
 * assert.equal(isUpgradeRequest(new Map([["upgrade", "h2c"]])), false);
 * ```
 *
 * @param headers The request headers.
 * @returns Whether an upgrade is requested.
 */
export function isUpgradeRequest(headers: Map<string, string>): boolean {
  return hasListToken(headers.get("upgrade"), "websocket");
}

/**
 * Whether a comma-separated header value holds `token` (lower case) as one
 * whole entry, ignoring case and the whitespace around entries.
 */
function hasListToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const lower = value.toLowerCase();
  // The one-entry header every browser sends, without a split.
  if (lower === token) return true;
  return lower.split(",").some((entry) => trimOws(entry) === token);
}

/**
 * Whether `version` (`HTTP/` major `.` minor) is HTTP/1.1 or later, as the
 * opening handshake requires (RFC 6455 section 4.2.1).
 */
function isHttp11OrLater(version: string): boolean {
  if (version === "HTTP/1.1") return true;
  const match = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}

/**
 * Validates the WebSocket-specific parts of an upgrade request and returns
 * the `Sec-WebSocket-Key`, or a refusal: 400 for a version below HTTP/1.1,
 * a missing or bad header, or a body (any `Transfer-Encoding`, a
 * `Content-Length` other than 0), 405 for a method other than GET, 426 with
 * the supported version for a wrong `Sec-WebSocket-Version`.
 *
 * @example
 * ```ts
 * import { checkUpgradeHeaders } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * const headers = new Map([
 *   ["upgrade", "websocket"], ["connection", "Upgrade"], ["host", "h"],
 *   ["sec-websocket-version", "13"], ["sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="],
 * ]);
 * assert.deepEqual(
 *   checkUpgradeHeaders({ method: "GET", version: "HTTP/1.1", headers }),
 *   { key: "dGhlIHNhbXBsZSBub25jZQ==" },
 * );
 * assert.deepEqual(
 *   checkUpgradeHeaders({ method: "GET", version: "HTTP/1.0", headers }),
 *   { status: 400, body: "WebSocket upgrade requires HTTP/1.1" },
 * );
 * ```
 *
 * @param head The request's method, HTTP version and headers.
 * @returns The key, or a refusal.
 */
export function checkUpgradeHeaders(
  head: Pick<RequestHead, "method" | "version" | "headers">,
): { key: string } | HttpRefusal {
  const { method, version, headers } = head;
  // RFC 6455 section 4.2.1: the opening handshake needs HTTP/1.1. 400, as
  // section 4.2.2 says for any handshake that does not match: 505 would
  // claim HTTP/1.0 is unsupported, and plain HTTP/1.0 GETs are served.
  if (!isHttp11OrLater(version)) {
    return { status: 400, body: "WebSocket upgrade requires HTTP/1.1" };
  }
  if (method !== "GET") {
    return {
      status: 405,
      body: "WebSocket upgrade requires GET",
      headers: { allow: "GET" },
    };
  }
  if (!hasListToken(headers.get("connection"), "upgrade")) {
    return { status: 400, body: "Missing Connection: Upgrade" };
  }
  if (!headers.has("host")) return { status: 400, body: "Missing Host header" };
  if (headers.get("sec-websocket-version") !== "13") {
    return {
      status: 426,
      body: "Unsupported Sec-WebSocket-Version (expected 13)",
      headers: { "sec-websocket-version": "13" },
    };
  }
  const key = headers.get("sec-websocket-key");
  if (key === undefined || !isValidKey(key)) {
    return { status: 400, body: "Missing or invalid Sec-WebSocket-Key" };
  }
  // A GET upgrade carries no body: bytes after the head are WebSocket
  // frames, so a body would be relayed as one (RFC 9112 section 6.3).
  if (headers.has("transfer-encoding") || !isZeroLength(headers)) {
    return { status: 400, body: "WebSocket upgrade must not have a body" };
  }
  return { key };
}

/** Whether `Content-Length` is absent or 0 (each entry, if repeated). */
function isZeroLength(headers: Map<string, string>): boolean {
  const length = headers.get("content-length");
  return length === undefined ||
    length.split(",").every((entry) => /^0+$/.test(trimOws(entry)));
}

/** A key is the base64 form of 16 bytes: 22 characters then "==". */
function isValidKey(key: string): boolean {
  return key.length === 24 && key.endsWith("==") &&
    /^[A-Za-z0-9+/]{22}==$/.test(key);
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const ASCII = new TextEncoder();

/**
 * Computes `Sec-WebSocket-Accept` for a key (SHA-1, base64). Synchronous:
 * the digest of a 60-byte input is cheaper in JS than a WebCrypto round trip
 * (tests check it against WebCrypto).
 *
 * @example The RFC 6455 sample
 * ```ts
 * import { computeAcceptKey } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 *
 * @param key The client's `Sec-WebSocket-Key`.
 * @returns The accept value.
 */
export function computeAcceptKey(key: string): string {
  const digest = sha1(ASCII.encode(key + WS_GUID));
  return btoa(String.fromCharCode(...digest));
}

/**
 * Serialises a small HTTP/1.1 response head (plus body) with
 * `Connection: close` and the body's `Content-Length` (a `content-length`
 * in `headers` is replaced, not repeated).
 *
 * @example
 * ```ts
 * import { encodeHttpResponse } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * const text = new TextDecoder().decode(encodeHttpResponse(404, { "content-type": "text/plain" }, "Not found\n"));
 * assert.ok(text.startsWith("HTTP/1.1 404 Not Found\r\n"));
 * ```
 *
 * @param status The status code.
 * @param headers Response headers.
 * @param body The body, if any.
 * @param isHead Whether the request was HEAD (body omitted, length kept).
 * @returns The response bytes.
 */
export function encodeHttpResponse(
  status: number,
  headers: Record<string, string>,
  body: string | Uint8Array = "",
  isHead = false,
): Uint8Array {
  const bodyBytes = typeof body === "string" ? ASCII.encode(body) : body;
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    // The length is the body's, written once below.
    if (name.toLowerCase() === "content-length") continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${bodyBytes.length}\r\nconnection: close\r\n\r\n`;
  const headBytes = ASCII.encode(head);
  if (isHead || bodyBytes.length === 0) return headBytes;
  const out = new Uint8Array(headBytes.length + bodyBytes.length);
  out.set(headBytes, 0);
  out.set(bodyBytes, headBytes.length);
  return out;
}

/** Reason phrases for the statuses wsgate sends. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
