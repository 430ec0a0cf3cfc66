/**
 * {@linkcode RedisTokenResolver}: a route's `"tokens": "redis"` as a
 * `TokenResolver`, so the upgrade pipeline treats it like any token plugin.
 * A missing key is the refusal of an unknown token in a file (404); a
 * malformed value (or a key that holds no string) is a 404 whose log detail
 * says why; a store that is down, refuses the login or answers later than
 * `timeoutMs` is a 503 `store_unavailable` (fail closed).
 *
 * @module
 */

import {
  type TokenResolution,
  type TokenResolver,
  unknownToken,
} from "../routing/token_resolver.ts";
import { valueWithin } from "../io/deadline_queue.ts";
import type { RedisTokens, TokenLookup } from "./redis_tokens.ts";
import { STORE_UNAVAILABLE_BODY, StoreReplyError } from "./store_errors.ts";
import { DEFAULT_STORE_TIMEOUT_MS } from "./store_options.ts";

/** Options of {@linkcode RedisTokenResolver}. */
export interface RedisTokenResolverOptions {
  /**
   * The longest wait for the lookup (connect included), in ms; later is a
   * 503 `store_unavailable`.
   * @default {1000}
   */
  timeoutMs?: number;
}

/**
 * Resolves tokens from Redis.
 *
 * @example A store that cannot be reached refuses with 503
 * ```ts
 * import { RedisTokenResolver } from "./redis_token_resolver.ts";
 * import { RedisTokens } from "./redis_tokens.ts";
 * import { RedisClient } from "./redis_client.ts";
 * import { parseStoreUrl } from "./store_url.ts";
 * import assert from "node:assert/strict";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close(); // nothing listens there now
 * await using client = new RedisClient(parseStoreUrl(`redis://127.0.0.1:${port}`));
 * const resolver = new RedisTokenResolver(new RedisTokens(client), { timeoutMs: 500 });
 * const resolution = await resolver.resolve("vm1");
 * assert.equal(resolution.kind === "refuse" && resolution.status, 503);
 * ```
 */
export class RedisTokenResolver implements TokenResolver {
  #tokens: RedisTokens;
  #timeoutMs: number;

  /**
   * Constructs the resolver.
   * @param tokens The lookups (its client is closed by its owner).
   * @param options The deadline.
   */
  constructor(tokens: RedisTokens, options: RedisTokenResolverOptions = {}) {
    const { timeoutMs = DEFAULT_STORE_TIMEOUT_MS } = options;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(
        `Cannot create token resolver as timeoutMs must be > 0: current value is ${timeoutMs}`,
      );
    }
    this.#tokens = tokens;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Looks the token up; never throws.
   * @param token The token.
   * @returns The target, a 404 (unknown or malformed) or a 503 refusal.
   */
  async resolve(token: string): Promise<TokenResolution> {
    let lookup: TokenLookup | undefined;
    try {
      lookup = await this.#bounded(this.#tokens.lookup(token));
    } catch (error) {
      if (error instanceof StoreReplyError && error.prefix === "WRONGTYPE") {
        return unknownToken(token, "its key in the store holds no string");
      }
      return storeUnavailable(error instanceof Error ? error.message : error);
    }
    if (lookup === undefined) {
      return storeUnavailable(`no answer within ${this.#timeoutMs} ms`);
    }
    switch (lookup.kind) {
      case "target":
        return { kind: "target", target: lookup.target };
      case "unknown":
        return unknownToken(token, "no such key in the store");
      case "malformed":
        return unknownToken(token, `${lookup.reason}: ${lookup.detail}`);
    }
  }

  /** `promise`'s value, or `undefined` when the timer ran out. */
  #bounded<T>(promise: Promise<T>): Promise<T | undefined> {
    return valueWithin(promise, this.#timeoutMs);
  }
}

function storeUnavailable(cause: unknown): TokenResolution {
  return {
    kind: "refuse",
    status: 503,
    body: STORE_UNAVAILABLE_BODY,
    detail: `store_unavailable: token lookup: ${String(cause)}`,
    headers: { "retry-after": "1" },
  };
}
