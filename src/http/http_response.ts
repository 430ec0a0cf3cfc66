/**
 * Encoding the small HTTP/1.1 responses wsgate sends (`Connection: close`,
 * the body's length) and the reason phrases of its statuses. Pure.
 *
 * @module
 */

const ASCII = new TextEncoder();

/**
 * Serialises a small HTTP/1.1 response head (plus body) with
 * `Connection: close` and the body's `Content-Length` (a `content-length`
 * in `headers` is replaced, not repeated).
 *
 * @example
 * ```ts
 * import { encodeHttpResponse } from "./http_response.ts";
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
