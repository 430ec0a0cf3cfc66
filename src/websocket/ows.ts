/**
 * Optional whitespace in HTTP header values (RFC 9110 section 5.6.3): only
 * SP and HTAB. `String.prototype.trim` also strips U+00A0, which is byte
 * 0xA0 in a head decoded as Latin-1, and would make `\xA0websocket` equal
 * `websocket`. Used by the WebSocket header checks and by `http/`'s head
 * parser.
 *
 * @module
 */

const LEADING_OWS = /^[ \t]+/;
const TRAILING_OWS = /[ \t]+$/;

/**
 * Removes SP and HTAB, and nothing else, from both ends of `text`.
 *
 * @example
 * ```ts
 * import { trimOws } from "./ows.ts";
 * import assert from "node:assert/strict";
 * assert.equal(trimOws(" \ta b\t "), "a b");
 * assert.equal(trimOws("\u00a0a"), "\u00a0a");
 * ```
 *
 * @param text A header value or list entry.
 * @returns `text` without leading and trailing SP and HTAB.
 */
export function trimOws(text: string): string {
  return text.replace(LEADING_OWS, "").replace(TRAILING_OWS, "");
}
