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

import { decodeBase64Url, encodeBase64Url } from "./base64url.ts";
import type { ReplayCache } from "./replay_cache.ts";

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
 * assert.equal(error.detail, "exp is 10, now is 50");
 * assert.match(error.message, /exp is 10/);
 * ```
 */
export class TicketError extends Error {
  /** Why the ticket was refused. */
  readonly reason: TicketErrorReason;
  /** Values for the log (expected and actual), when there are any. */
  readonly detail: string | undefined;
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
    this.detail = detail;
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

/** Tickets longer than this are refused before decoding (bytes). */
const MAX_TICKET_LENGTH = 8192;
/** HS256 keys shorter than the hash output are weak (RFC 7518 section 3.2). */
const MIN_KEY_BYTES = 32;
const ENCODER = new TextEncoder();
const DECODER = new TextDecoder("utf-8", { fatal: true });

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
  if (jti === undefined && requireJti) {
    throw new TicketError(
      "missing jti",
      "single-use tickets need a jti claim: wsgate ticket --jti",
    );
  }
  if (jti !== undefined && replayCache !== undefined) {
    const result = replayCache.use(jti, (exp + clockSkewSec) * 1000, nowMs);
    if (result === "replayed") {
      throw new TicketError("replayed", `jti ${JSON.stringify(jti)}`);
    }
    if (result === "full") throw new TicketError("replay cache full");
  }
  return claims as TicketClaims;
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
