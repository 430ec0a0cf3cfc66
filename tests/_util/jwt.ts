/**
 * Signs HS256 JSON Web Tokens for tests (the JWT token API and
 * websockify's `JWTTokenApi`), with WebCrypto.
 *
 * @module
 */

import { encodeBase64Url } from "../../src/security/base64url.ts";

function part(value: unknown): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * An HS256 JWT over `claims`.
 *
 * @example
 * ```ts
 * import { signJwt } from "./jwt.ts";
 * import assert from "node:assert/strict";
 * const token = await signJwt({ host: "vm", port: 5901 }, new Uint8Array(32));
 * assert.equal(token.split(".").length, 3);
 * ```
 *
 * @param claims The payload.
 * @param secret The raw secret, or an HMAC SHA-256 key.
 * @param header The JOSE header.
 * @returns The compact token.
 */
export async function signJwt(
  claims: unknown,
  secret: Uint8Array | CryptoKey,
  header: unknown = { alg: "HS256", typ: "JWT" },
): Promise<string> {
  const key = secret instanceof CryptoKey
    ? secret
    : await crypto.subtle.importKey(
      "raw",
      secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  const body = `${part(header)}.${part(claims)}`;
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(body),
  );
  return `${body}.${encodeBase64Url(new Uint8Array(signature))}`;
}
