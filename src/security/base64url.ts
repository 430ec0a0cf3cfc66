/**
 * Strict unpadded base64url (RFC 4648 section 5), the encoding of the three
 * parts of a JSON Web Token. Pure.
 *
 * @module
 */

const BASE64URL_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  BASE64URL_VALUES[BASE64URL_ALPHABET.charCodeAt(i)] = i;
}

/**
 * Encodes bytes as unpadded base64url (RFC 4648 section 5).
 *
 * @example Usage
 * ```ts
 * import { encodeBase64Url } from "./base64url.ts";
 * import assert from "node:assert/strict";
 * assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff])), "-_8");
 * ```
 *
 * @param bytes The bytes.
 * @returns The base64url text without `=` padding.
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let text = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    text += BASE64URL_ALPHABET[n >> 18]! + BASE64URL_ALPHABET[(n >> 12) & 63]! +
      BASE64URL_ALPHABET[(n >> 6) & 63]! + BASE64URL_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    text += BASE64URL_ALPHABET[n >> 18]! + BASE64URL_ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    text += BASE64URL_ALPHABET[n >> 18]! + BASE64URL_ALPHABET[(n >> 12) & 63]! +
      BASE64URL_ALPHABET[(n >> 6) & 63]!;
  }
  return text;
}

/**
 * Decodes unpadded base64url strictly: `=` padding, characters outside the
 * alphabet, an impossible length and non-zero trailing bits throw a
 * `SyntaxError`, so every byte string has exactly one accepted encoding.
 *
 * @example Usage
 * ```ts
 * import { decodeBase64Url } from "./base64url.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeBase64Url("-_8"), new Uint8Array([0xfb, 0xff]));
 * assert.throws(() => decodeBase64Url("-_9"), SyntaxError);
 * ```
 *
 * @param text The base64url text.
 * @returns The bytes.
 */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const rest = text.length % 4;
  if (rest === 1) {
    throw new SyntaxError(
      `Cannot decode base64url as its length must not be 1 more than a multiple of 4: current length is ${text.length}`,
    );
  }
  const bytes = new Uint8Array(
    Math.floor(text.length / 4) * 3 + (rest === 0 ? 0 : rest - 1),
  );
  let bits = 0;
  let bitCount = 0;
  let offset = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? BASE64URL_VALUES[code]! : -1;
    if (value < 0) {
      throw new SyntaxError(
        `Cannot decode base64url as it contains an invalid character: ${
          JSON.stringify(text[i])
        } at index ${i}`,
      );
    }
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      bytes[offset++] = (bits >> bitCount) & 0xff;
    }
  }
  if ((bits & ((1 << bitCount) - 1)) !== 0) {
    throw new SyntaxError(
      "Cannot decode base64url as its trailing bits must be zero: expected the canonical encoding",
    );
  }
  return bytes;
}
