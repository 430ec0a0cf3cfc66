/**
 * Connection tickets: short-lived HS256 JSON Web Tokens (RFC 7519) that an
 * application backend signs and the browser presents on the upgrade
 * (`?ticket=...`). A ticket names the route (and optionally the target) it
 * opens, expires (`exp` is required), may start later (`nbf`), and may be
 * single-use (`jti` with a {@linkcode ReplayCache}).
 *
 * Uses WebCrypto only; the signature check is `crypto.subtle.verify`, which
 * compares in constant time. Pure apart from WebCrypto: the caller passes
 * the clock.
 *
 * @module
 */

/** Why {@linkcode verifyTicket} refused a ticket. */
export type TicketErrorReason =
  | "malformed"
  | "unsupported algorithm"
  | "bad signature"
  | "missing exp"
  | "expired"
  | "not yet valid"
  | "wrong route"
  | "wrong target"
  | "missing jti"
  | "replayed"
  | "replay cache full";

/**
 * A ticket was refused. `reason` is a short fixed text (safe to show the
 * client); `message` carries the detail for the log. Maps to HTTP 401.
 *
 * @example Usage
 * ```ts
 * import { TicketError } from "./ticket.ts";
 * import assert from "node:assert/strict";
 * const error = new TicketError("expired", "exp is 10, now is 50");
 * assert.equal(error.reason, "expired");
 * assert.match(error.message, /exp is 10/);
 * ```
 */
export class TicketError extends Error {
  /** Why the ticket was refused. */
  readonly reason: TicketErrorReason;
  /**
   * Constructs a new instance.
   * @param reason Why the ticket was refused.
   * @param detail Values for the log, e.g. the expected and actual route.
   */
  constructor(reason: TicketErrorReason, detail?: string) {
    super(
      `Cannot accept ticket as it is refused: ${reason}${
        detail === undefined ? "" : ` (${detail})`
      }`,
    );
    this.name = "TicketError";
    this.reason = reason;
  }
}

/** The claims of a ticket. Times are seconds since the Unix epoch. */
export interface TicketClaims {
  /** Expiry time in seconds since the epoch (required). */
  exp: number;
  /** Not-before time in seconds since the epoch. */
  nbf?: number;
  /** Issued-at time in seconds since the epoch (not checked). */
  iat?: number;
  /** The route the ticket opens. */
  route?: string;
  /** The target the ticket opens (`host:port` or `unix:/path`). */
  target?: string;
  /** A unique id that makes the ticket single-use with a replay cache. */
  jti?: string;
  /** The subject, e.g. a user id (not checked). */
  sub?: string;
  /** Any other claim. */
  [claim: string]: unknown;
}

/** Options of {@linkcode verifyTicket}. */
export interface VerifyTicketOptions {
  /** The route being opened; the ticket's `route` claim must equal it. */
  route: string;
  /**
   * The target being opened. When given, or when the ticket has a `target`
   * claim, the two must be equal.
   * @default {undefined}
   */
  target?: string;
  /**
   * The current time in milliseconds since the epoch.
   * @default {Date.now()}
   */
  nowMs?: number;
  /**
   * Tolerated clock difference with the issuer, in seconds, applied to
   * `exp` and `nbf`.
   * @default {30}
   */
  clockSkewSec?: number;
  /**
   * Makes tickets with a `jti` single-use.
   * @default {undefined}
   */
  replayCache?: ReplayCache;
  /**
   * Whether to check the `target` claim here; a caller that resolves the
   * target later turns this off and compares the claim itself.
   * @default {true}
   */
  isTargetChecked?: boolean;
  /**
   * Whether a ticket without `jti` is refused.
   * @default {false}
   */
  requireJti?: boolean;
}

/** Options of {@linkcode ReplayCache}. */
export interface ReplayCacheOptions {
  /**
   * The most ticket ids held at once; when full of unexpired ids, new
   * tickets are refused ("replay cache full") rather than forgetting an id
   * that could then be replayed.
   * @default {10000}
   */
  maxEntries?: number;
}

/** The outcome of {@linkcode ReplayCache.use}. */
export type ReplayCacheResult = "fresh" | "replayed" | "full";

/** Tickets longer than this are refused before decoding (bytes). */
const MAX_TICKET_LENGTH = 8192;
/** HS256 keys shorter than the hash output are weak (RFC 7518 section 3.2). */
const MIN_KEY_BYTES = 32;
const BASE64URL_ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  BASE64URL_VALUES[BASE64URL_ALPHABET.charCodeAt(i)] = i;
}
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Remembers the ids (`jti`) of used tickets until they expire, so a ticket
 * opens at most one connection. Bounded in size; pure: the caller passes the
 * clock.
 *
 * @example Usage
 * ```ts
 * import { ReplayCache } from "./ticket.ts";
 * import assert from "node:assert/strict";
 * const cache = new ReplayCache({ maxEntries: 2 });
 * assert.equal(cache.use("a", 2000, 1000), "fresh");
 * assert.equal(cache.use("a", 2000, 1500), "replayed");
 * assert.equal(cache.use("b", 2000, 1500), "fresh");
 * assert.equal(cache.use("c", 2000, 1500), "full");
 * assert.equal(cache.use("c", 3000, 2000), "fresh"); // "a" and "b" expired
 * ```
 */
export class ReplayCache {
  #maxEntries: number;
  #expiries = new Map<string, number>();
  #earliestMs = Infinity;

  /**
   * Constructs a new instance.
   * @param options The capacity.
   */
  constructor(options: ReplayCacheOptions = {}) {
    const { maxEntries = 10000 } = options;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(
        `Cannot create replay cache as maxEntries must be a positive integer: current value is ${maxEntries}`,
      );
    }
    this.#maxEntries = maxEntries;
  }

  /** The number of ids held, expired ones included until purged. */
  get size(): number {
    return this.#expiries.size;
  }

  /**
   * Records a ticket id, unless it is already held and unexpired.
   * @param jti The ticket id.
   * @param expiresAtMs When the id may be forgotten: the last instant the
   * ticket verifies (its `exp` plus the clock skew), in ms since the epoch.
   * @param nowMs The current time in ms since the epoch.
   * @returns `"fresh"` when recorded now, `"replayed"` when already held,
   * `"full"` when the cache holds `maxEntries` unexpired ids.
   */
  use(jti: string, expiresAtMs: number, nowMs: number): ReplayCacheResult {
    const held = this.#expiries.get(jti);
    if (held !== undefined && held > nowMs) return "replayed";
    if (held === undefined && this.#expiries.size >= this.#maxEntries) {
      this.purge(nowMs);
      if (this.#expiries.size >= this.#maxEntries) return "full";
    }
    this.#expiries.set(jti, expiresAtMs);
    if (expiresAtMs < this.#earliestMs) this.#earliestMs = expiresAtMs;
    return "fresh";
  }

  /**
   * Forgets every id whose expiry is at or before `nowMs`.
   * @param nowMs The current time in ms since the epoch.
   * @returns The number of ids forgotten.
   */
  purge(nowMs: number): number {
    // Nothing can have expired before the earliest expiry: skip the scan.
    if (nowMs < this.#earliestMs) return 0;
    let removed = 0;
    let earliest = Infinity;
    for (const [jti, expiresAtMs] of this.#expiries) {
      if (expiresAtMs <= nowMs) {
        this.#expiries.delete(jti);
        removed++;
      } else if (expiresAtMs < earliest) {
        earliest = expiresAtMs;
      }
    }
    this.#earliestMs = earliest;
    return removed;
  }
}

/**
 * Imports a shared secret as an HMAC SHA-256 key for signing and verifying
 * tickets. A string is encoded as UTF-8.
 *
 * @example Usage
 * ```ts
 * import { importTicketKey } from "./ticket.ts";
 * import assert from "node:assert/strict";
 * const key = await importTicketKey("0123456789abcdef0123456789abcdef");
 * assert.equal(key.algorithm.name, "HMAC");
 * await assert.rejects(importTicketKey("short"), RangeError);
 * ```
 *
 * @param secret The secret, at least 32 bytes.
 * @returns The key.
 */
export async function importTicketKey(
  secret: string | Uint8Array,
): Promise<CryptoKey> {
  const bytes = typeof secret === "string"
    ? ENCODER.encode(secret)
    : Uint8Array.from(secret);
  if (bytes.length < MIN_KEY_BYTES) {
    throw new RangeError(
      `Cannot import ticket key as it must be at least ${MIN_KEY_BYTES} bytes: current length is ${bytes.length}`,
    );
  }
  return await crypto.subtle.importKey(
    "raw",
    bytes,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/**
 * Signs claims into a compact HS256 JWT.
 *
 * @example Usage
 * ```ts
 * import { importTicketKey, signTicket, verifyTicket } from "./ticket.ts";
 * import assert from "node:assert/strict";
 * const key = await importTicketKey("0123456789abcdef0123456789abcdef");
 * const nowMs = 1_700_000_000_000;
 * const ticket = await signTicket({ route: "/vnc", exp: nowMs / 1000 + 60 }, key);
 * const claims = await verifyTicket(ticket, key, { route: "/vnc", nowMs });
 * assert.equal(claims.route, "/vnc");
 * ```
 *
 * @param claims The claims; `exp` is required.
 * @param key A key from {@linkcode importTicketKey}.
 * @returns The ticket text.
 */
export async function signTicket(
  claims: TicketClaims,
  key: CryptoKey,
): Promise<string> {
  if (typeof claims.exp !== "number" || !Number.isFinite(claims.exp)) {
    throw new TypeError(
      `Cannot sign ticket as exp must be a finite number of seconds: current value is ${
        String(claims.exp)
      }`,
    );
  }
  const header = encodeBase64Url(
    ENCODER.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })),
  );
  const payload = encodeBase64Url(ENCODER.encode(JSON.stringify(claims)));
  const signingInput = `${header}.${payload}`;
  const signature = await crypto.subtle.sign(
    "HMAC",
    key,
    ENCODER.encode(signingInput),
  );
  return `${signingInput}.${encodeBase64Url(new Uint8Array(signature))}`;
}

/**
 * Verifies a ticket and returns its claims, or throws a
 * {@linkcode TicketError}. Checks, in order: shape, algorithm (HS256 only;
 * `none` and `crit` are refused), signature, `exp` (required), `nbf`,
 * route, target, and last the single-use `jti` (so a refused ticket does not
 * use up its id).
 *
 * @example Usage
 * ```ts
 * import { importTicketKey, signTicket, TicketError, verifyTicket } from "./ticket.ts";
 * import assert from "node:assert/strict";
 * const key = await importTicketKey("0123456789abcdef0123456789abcdef");
 * const ticket = await signTicket({ route: "/vnc", exp: 100 }, key);
 * await assert.rejects(
 *   verifyTicket(ticket, key, { route: "/vnc", nowMs: 200_000 }),
 *   (error: unknown) => error instanceof TicketError && error.reason === "expired",
 * );
 * ```
 *
 * @param token The ticket text.
 * @param key A key from {@linkcode importTicketKey}.
 * @param options The expected route and target, clock and replay cache.
 * @returns The verified claims.
 */
export async function verifyTicket(
  token: string,
  key: CryptoKey,
  options: VerifyTicketOptions,
): Promise<TicketClaims> {
  const {
    route,
    target,
    nowMs = Date.now(),
    clockSkewSec = 30,
    replayCache,
    requireJti = false,
    isTargetChecked = true,
  } = options;
  // A NaN clock would make every time comparison false: fail loudly.
  if (!Number.isFinite(nowMs)) {
    throw new RangeError(
      `Cannot verify ticket as nowMs must be a finite number: current value is ${nowMs}`,
    );
  }
  if (!(clockSkewSec >= 0 && clockSkewSec < Infinity)) {
    throw new RangeError(
      `Cannot verify ticket as clockSkewSec must be a finite number >= 0: current value is ${clockSkewSec}`,
    );
  }
  if (typeof token !== "string" || token.length > MAX_TICKET_LENGTH) {
    throw new TicketError("malformed", "not a string or too long");
  }
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new TicketError("malformed", `${parts.length} parts instead of 3`);
  }
  const [headerText, payloadText, signatureText] = parts as [
    string,
    string,
    string,
  ];
  const header = decodeJsonObject(headerText, "header");
  if (header.alg !== "HS256") {
    throw new TicketError(
      "unsupported algorithm",
      `alg is ${JSON.stringify(header.alg)}`,
    );
  }
  if ("crit" in header) {
    throw new TicketError("unsupported algorithm", "crit header present");
  }
  const signature = decodePart(signatureText, "signature");
  const isValid = await crypto.subtle.verify(
    "HMAC",
    key,
    signature,
    ENCODER.encode(`${headerText}.${payloadText}`),
  );
  if (!isValid) throw new TicketError("bad signature");

  const claims = decodeJsonObject(payloadText, "payload");
  const { exp, nbf, jti } = claims;
  if (exp === undefined) throw new TicketError("missing exp");
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    throw new TicketError("malformed", "exp is not a number");
  }
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))) {
    throw new TicketError("malformed", "nbf is not a number");
  }
  const nowSec = nowMs / 1000;
  if (nowSec >= exp + clockSkewSec) {
    throw new TicketError(
      "expired",
      `exp is ${exp}, now is ${nowSec}, clock skew ${clockSkewSec} s`,
    );
  }
  if (nbf !== undefined && nowSec + clockSkewSec < nbf) {
    throw new TicketError(
      "not yet valid",
      `nbf is ${nbf}, now is ${nowSec}, clock skew ${clockSkewSec} s`,
    );
  }
  if (claims.route !== route) {
    throw new TicketError(
      "wrong route",
      `expected ${JSON.stringify(route)}, ticket has ${
        JSON.stringify(claims.route)
      }`,
    );
  }
  // A ticket without a target claim is good for any target of its route; a
  // ticket with one is good only for that target.
  if (
    isTargetChecked && claims.target !== undefined && claims.target !== target
  ) {
    throw new TicketError(
      "wrong target",
      `expected ${JSON.stringify(target)}, ticket has ${
        JSON.stringify(claims.target)
      }`,
    );
  }
  if (jti !== undefined && typeof jti !== "string") {
    throw new TicketError("malformed", "jti is not a string");
  }
  if (jti === undefined && requireJti) throw new TicketError("missing jti");
  if (jti !== undefined && replayCache !== undefined) {
    const result = replayCache.use(jti, (exp + clockSkewSec) * 1000, nowMs);
    if (result === "replayed") {
      throw new TicketError("replayed", `jti ${JSON.stringify(jti)}`);
    }
    if (result === "full") throw new TicketError("replay cache full");
  }
  return claims as TicketClaims;
}

/**
 * Encodes bytes as unpadded base64url (RFC 4648 section 5).
 *
 * @example Usage
 * ```ts
 * import { encodeBase64Url } from "./ticket.ts";
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
 * import { decodeBase64Url } from "./ticket.ts";
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

/** Decodes one part of the ticket; a `TicketError("malformed")` on error. */
function decodePart(text: string, part: string): Uint8Array<ArrayBuffer> {
  try {
    return decodeBase64Url(text);
  } catch (error) {
    throw new TicketError(
      "malformed",
      `${part}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Decodes a base64url JSON object part of the ticket. */
function decodeJsonObject(text: string, part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(DECODER.decode(decodePart(text, part)));
  } catch (error) {
    if (error instanceof TicketError) throw error;
    throw new TicketError("malformed", `${part} is not UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TicketError("malformed", `${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
