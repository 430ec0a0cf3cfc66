/**
 * {@linkcode RedisTokens}: websockify's `TokenRedis` layout for a route with
 * `"tokens": "redis"`: the target of `?token=T` is the value of the key
 * `<tokenPrefix>T`, parsed by `parseTokenValue`. An optional short cache
 * (`cacheTtlMs`, default 0 = none) serves repeated lookups.
 *
 * @module
 */

import {
  parseTokenValue,
  type TokenValueProblem,
  type TokenValueTarget,
} from "../routing/token_value.ts";
import type { RedisClient } from "./redis_client.ts";
import { StoreReplyError } from "./store_errors.ts";

/** Options of {@linkcode RedisTokens}. */
export interface RedisTokensOptions {
  /**
   * The key prefix before the token (websockify's default is none).
   * @default {""}
   */
  tokenPrefix?: string;
  /**
   * How long a looked-up value (found or missing) is reused, in ms; 0 asks
   * the store every time.
   * @default {0}
   */
  cacheTtlMs?: number;
  /**
   * The most cached tokens; the oldest entry goes first when full.
   * @default {10000}
   */
  maxCacheEntries?: number;
  /**
   * The longest value accepted, in characters.
   * @default {1024}
   */
  maxValueLength?: number;
  /**
   * The clock for the cache, in ms.
   * @default {Date.now}
   */
  now?: () => number;
}

/**
 * The outcome of a lookup: a target, `unknown` (no such key: the same
 * refusal as an unknown token in a file), or a malformed value's reason.
 */
export type TokenLookup =
  | { readonly kind: "target"; readonly target: TokenValueTarget }
  | { readonly kind: "unknown" }
  | {
    readonly kind: "malformed";
    readonly reason: TokenValueProblem;
    readonly detail: string;
  };

/**
 * Looks tokens up in the store.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisTokens } from "./redis_tokens.ts";
 * import { RedisClient } from "./redis_client.ts";
 * import { parseStoreUrl } from "./store_url.ts";
 * await using client = new RedisClient(parseStoreUrl("redis://127.0.0.1"));
 * const tokens = new RedisTokens(client, { tokenPrefix: "vnc:" });
 * console.log(await tokens.lookup("vm1")); // { kind: "target", target: {...} }
 * ```
 */
export class RedisTokens {
  #client: RedisClient;
  #tokenPrefix: string;
  #cacheTtlMs: number;
  #maxCacheEntries: number;
  #maxValueLength: number;
  #now: () => number;
  #cache = new Map<string, { lookup: TokenLookup; expiresAtMs: number }>();

  /**
   * Constructs a new instance.
   * @param client The store client; the caller closes it.
   * @param options Prefix, cache, limits.
   */
  constructor(client: RedisClient, options: RedisTokensOptions = {}) {
    const {
      tokenPrefix = "",
      cacheTtlMs = 0,
      maxCacheEntries = 10000,
      maxValueLength = 1024,
      now = Date.now,
    } = options;
    if (!Number.isFinite(cacheTtlMs) || cacheTtlMs < 0) {
      throw new RangeError(
        `Cannot create token lookup as cacheTtlMs must be >= 0: current value is ${cacheTtlMs}`,
      );
    }
    this.#client = client;
    this.#tokenPrefix = tokenPrefix;
    this.#cacheTtlMs = cacheTtlMs;
    this.#maxCacheEntries = maxCacheEntries;
    this.#maxValueLength = maxValueLength;
    this.#now = now;
  }

  /**
   * Looks one token up (one round trip, STRLEN and GETRANGE, unless
   * cached); a value longer than `maxValueLength` is not transferred.
   * @param token The token from `?token=`.
   * @returns The target, `unknown`, or `malformed` with a reason.
   * @throws {StoreUnavailableError} When the store is unreachable or late.
   * @throws {StoreReplyError} When the store answers with an error (the key
   * holds no string: `WRONGTYPE`; or `NOAUTH`, ...).
   */
  async lookup(token: string): Promise<TokenLookup> {
    if (this.#cacheTtlMs > 0) {
      const cached = this.#cache.get(token);
      if (cached !== undefined && cached.expiresAtMs > this.#now()) {
        return cached.lookup;
      }
      this.#cache.delete(token);
    }
    // One round trip that never moves more than maxValueLength + 1 bytes:
    // a huge value is refused by its length, not read.
    const key = this.#tokenPrefix + token;
    const [length, value] = await this.#client.pipeline([
      ["STRLEN", key],
      ["GETRANGE", key, 0, this.#maxValueLength],
    ]);
    if (length instanceof StoreReplyError) throw length;
    if (value instanceof StoreReplyError) throw value;
    let lookup: TokenLookup;
    if (length === 0) {
      // STRLEN is 0 for a missing key (and an empty value).
      lookup = { kind: "unknown" };
    } else if (typeof length === "number" && length > this.#maxValueLength) {
      lookup = {
        kind: "malformed",
        reason: "too_large",
        detail:
          `Cannot use token value as it must be <= ${this.#maxValueLength} characters: current length is ${length} bytes`,
      };
    } else if (typeof value !== "string") {
      lookup = {
        kind: "malformed",
        reason: "bad_json",
        detail: "Cannot use token value as it is not a string",
      };
    } else {
      const parsed = parseTokenValue(value, {
        maxValueLength: this.#maxValueLength,
      });
      lookup = parsed.ok
        ? { kind: "target", target: parsed.target }
        : { kind: "malformed", reason: parsed.reason, detail: parsed.detail };
    }
    if (this.#cacheTtlMs > 0) {
      if (this.#cache.size >= this.#maxCacheEntries) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(token, {
        lookup,
        expiresAtMs: this.#now() + this.#cacheTtlMs,
      });
    }
    return lookup;
  }
}
