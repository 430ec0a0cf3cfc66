/**
 * websockify's `JWTTokenApi` for HS256: the token is a JWT signed with the
 * key file's secret, carrying `host` and `port` claims; `nbf` and `exp`
 * are honoured. As websockify (jwcrypto) reads it, the key file holds the
 * secret base64url-encoded. Signed with WebCrypto; RS256 and encrypted
 * (JWE) tokens are refused.
 *
 * @module
 */

import { decodeBase64Url } from "../security/base64url.ts";
import {
  hostPortTarget,
  type TokenResolution,
  type TokenResolver,
  unknownToken,
} from "./token_resolver.ts";

/** Options of {@linkcode JwtTokenResolver}. */
export interface JwtTokenResolverOptions {
  /**
   * The clock, in ms since the epoch.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * Imports the HS256 key from a key file's text.
 *
 * @example
 * ```ts
 * import { importJwtKey } from "./jwt_token_api.ts";
 * import assert from "node:assert/strict";
 * const key = await importJwtKey("c2VjcmV0LXNhdWNl\n");
 * assert.equal(key.algorithm.name, "HMAC");
 * ```
 *
 * @param text The key file contents: the secret, base64url.
 * @returns The key.
 */
export function importJwtKey(text: string): Promise<CryptoKey> {
  const secret = decodeBase64Url(text.trim().replace(/=+$/, ""));
  if (secret.length === 0) {
    throw new SyntaxError("Cannot import the JWT key as the key file is empty");
  }
  return crypto.subtle.importKey(
    "raw",
    secret,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify", "sign"],
  );
}

/**
 * Resolves tokens that are HS256 JWTs.
 *
 * @example
 * ```ts
 * import { importJwtKey, JwtTokenResolver } from "./jwt_token_api.ts";
 * import { encodeBase64Url } from "../security/base64url.ts";
 * import assert from "node:assert/strict";
 * const key = await importJwtKey("c2VjcmV0");
 * const text = (value: unknown) => encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)));
 * const body = `${text({ alg: "HS256", typ: "JWT" })}.${text({ host: "vm1", port: 5901 })}`;
 * const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
 * const token = `${body}.${encodeBase64Url(new Uint8Array(signature))}`;
 * const resolution = await new JwtTokenResolver(key).resolve(token);
 * assert.deepEqual(resolution, { kind: "target", target: { transport: "tcp", hostname: "vm1", port: 5901 } });
 * ```
 */
export class JwtTokenResolver implements TokenResolver {
  #key: CryptoKey;
  #now: () => number;

  /**
   * Constructs the resolver.
   * @param key The key from {@linkcode importJwtKey}.
   * @param options The clock.
   */
  constructor(key: CryptoKey, options: JwtTokenResolverOptions = {}) {
    this.#key = key;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Verifies the token and reads its target.
   * @param token The JWT.
   * @returns The target or a 404 refusal naming why in the detail.
   */
  async resolve(token: string): Promise<TokenResolution> {
    const parts = token.split(".");
    if (parts.length !== 3) {
      return unknownToken(token, "not a signed JWT (JWE is not supported)");
    }
    let header: unknown;
    let claims: unknown;
    let signature: Uint8Array<ArrayBuffer>;
    try {
      header = JSON.parse(new TextDecoder().decode(decodeBase64Url(parts[0]!)));
      claims = JSON.parse(new TextDecoder().decode(decodeBase64Url(parts[1]!)));
      signature = decodeBase64Url(parts[2]!);
    } catch {
      return unknownToken(token, "malformed JWT");
    }
    if ((header as { alg?: unknown } | null)?.alg !== "HS256") {
      return unknownToken(token, "JWT alg is not HS256");
    }
    const isValid = await crypto.subtle.verify(
      "HMAC",
      this.#key,
      signature,
      new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
    );
    if (!isValid) return unknownToken(token, "bad JWT signature");
    const { host, port, nbf, exp } = (claims ?? {}) as Record<string, unknown>;
    const nowSec = this.#now() / 1000;
    if (typeof nbf === "number" && nowSec < nbf) {
      return unknownToken(token, "JWT not valid yet (nbf)");
    }
    if (typeof exp === "number" && nowSec > exp) {
      return unknownToken(token, "JWT expired (exp)");
    }
    const target = hostPortTarget(host, port);
    if (target === undefined) {
      return unknownToken(token, "JWT lacks valid host and port claims");
    }
    return { kind: "target", target };
  }
}
