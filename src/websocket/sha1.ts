/**
 * A small synchronous SHA-1 (FIPS 180-4) for the one place wsgate needs it:
 * `Sec-WebSocket-Accept`. WebCrypto's `digest` is asynchronous and hops to a
 * worker thread; for a 60-byte input a plain JS loop is several times
 * cheaper and keeps the handshake on the event loop. Not for security use.
 *
 * @module
 */

const W = new Int32Array(80);
/** The padded message of inputs up to 119 bytes (two blocks), reused. */
const SMALL_PADDED = new Uint8Array(128);
const SMALL_VIEW = new DataView(SMALL_PADDED.buffer);

/**
 * Returns the SHA-1 digest of `bytes`.
 *
 * @example The digest of "abc"
 * ```ts
 * import { sha1 } from "./sha1.ts";
 * import assert from "node:assert/strict";
 * const hex = [...sha1(new TextEncoder().encode("abc"))]
 *   .map((byte) => byte.toString(16).padStart(2, "0")).join("");
 * assert.equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
 * ```
 *
 * @param bytes The message.
 * @returns The 20-byte digest.
 */
export function sha1(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  // Message + 0x80 + zero padding + 64-bit big-endian bit length.
  const blocks = ((length + 8) >>> 6) + 1;
  // A handshake's 60-byte input fits the reused buffer: no allocation.
  const isSmall = blocks * 64 <= SMALL_PADDED.length;
  const padded = isSmall
    ? SMALL_PADDED.subarray(0, blocks * 64).fill(0)
    : new Uint8Array(blocks * 64);
  padded.set(bytes);
  padded[length] = 0x80;
  const view = isSmall ? SMALL_VIEW : new DataView(padded.buffer);
  const bitLength = length * 8;
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getInt32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
      W[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  outView.setInt32(0, h0);
  outView.setInt32(4, h1);
  outView.setInt32(8, h2);
  outView.setInt32(12, h3);
  outView.setInt32(16, h4);
  return out;
}
