/**
 * The WebSocket opening handshake (RFC 6455 section 4.2) on a parsed
 * request head: whether a request asks for an upgrade, the checks of its
 * WebSocket headers, and the `Sec-WebSocket-Accept` computation. Parsing
 * the head itself is HTTP (`http/request_head.ts`). Pure.
 *
 * @module
 */

import { trimOws } from "./ows.ts";
import { sha1 } from "./sha1.ts";

/**
 * The request fields the handshake checks (an `http/` `RequestHead` has
 * them all). Header names are lower-cased.
 */
export interface HandshakeRequest {
  /** The method, e.g. `GET`. */
  method: string;
  /** The HTTP version as sent, e.g. `HTTP/1.1`. */
  version: string;
  /** Header values by lower-cased name. */
  headers: Map<string, string>;
}

/**
 * A refused handshake: the HTTP status, a short fixed body and extra
 * response headers (the shape of an `http/` `HttpRefusal`).
 */
export interface HandshakeRefusal {
  /** The HTTP status code. */
  status: number;
  /** A short, fixed text for the client. */
  body: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
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
  head: HandshakeRequest,
): { key: string } | HandshakeRefusal {
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
/** Key + GUID as bytes, for keys of the valid length (24). */
const KEY_INPUT = ASCII.encode("x".repeat(24) + WS_GUID);
const BASE64 =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
  // A key of the valid length is written over the reused input (no
  // encoding op); one that is not is encoded as given.
  const input = writeKeyInput(key) ? KEY_INPUT : ASCII.encode(key + WS_GUID);
  return base64Of20(sha1(input));
}

/**
 * Writes a 24-character ASCII key over the start of the reused input.
 * @returns Whether it did (false: another length, or a non-ASCII char).
 */
function writeKeyInput(key: string): boolean {
  if (key.length !== 24) return false;
  for (let i = 0; i < 24; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return false;
    KEY_INPUT[i] = code;
  }
  return true;
}

/** Base64 of a 20-byte digest (28 characters, one `=`), without an op. */
function base64Of20(digest: Uint8Array): string {
  let text = "";
  for (let i = 0; i < 18; i += 3) {
    const word = (digest[i]! << 16) | (digest[i + 1]! << 8) | digest[i + 2]!;
    text += BASE64[word >>> 18]! + BASE64[(word >>> 12) & 63]! +
      BASE64[(word >>> 6) & 63]! + BASE64[word & 63]!;
  }
  const last = (digest[18]! << 8) | digest[19]!;
  return text + BASE64[last >>> 10]! + BASE64[(last >>> 4) & 63]! +
    BASE64[(last << 2) & 63]! + "=";
}
