/**
 * {@linkcode StoreClientPool}: the process's Redis clients for token
 * lookups, one per store, opened when a configuration first needs it and
 * kept across reloads (a reload does not drop the connection). The
 * gateway owns the pool and closes it on close.
 *
 * @module
 */

import { RedisClient } from "./redis_client.ts";
import type { StoreAddress } from "./store_url.ts";
import { DEFAULT_STORE_TIMEOUT_MS } from "./store_options.ts";

/** What identifies one client of the pool. */
export interface StoreClientKey {
  /** Where the store is. */
  address: StoreAddress;
  /** The password (overrides the address's). @default {the address's} */
  password?: string;
  /** The connect and command deadline, in ms. @default {1000} */
  timeoutMs?: number;
}

/**
 * Clients by store, created on first use.
 *
 * @example The same store gives the same client
 * ```ts
 * import { StoreClientPool } from "./store_client_pool.ts";
 * import { parseStoreUrl } from "./store_url.ts";
 * import assert from "node:assert/strict";
 * await using pool = new StoreClientPool();
 * const address = parseStoreUrl("redis://127.0.0.1:6379/2");
 * assert.equal(pool.client({ address }), pool.client({ address }));
 * assert.notEqual(pool.client({ address }), pool.client({ address, password: "pw" }));
 * ```
 */
export class StoreClientPool {
  #clients = new Map<string, RedisClient>();
  #isClosed = false;

  /**
   * The client for a store; nothing connects until its first command.
   * @param key The store, password and deadline.
   * @returns The pool's client for it.
   */
  client(key: StoreClientKey): RedisClient {
    const { address, password, timeoutMs = DEFAULT_STORE_TIMEOUT_MS } = key;
    const id = JSON.stringify([address, password ?? null, timeoutMs]);
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new RedisClient(address, {
        ...(password === undefined ? {} : { password }),
        connectTimeoutMs: timeoutMs,
        commandTimeoutMs: timeoutMs,
      });
      // A client asked for after close fails its commands at once.
      if (this.#isClosed) client.close();
      this.#clients.set(id, client);
    }
    return client;
  }

  /** Closes every client; lookups in flight fail. Idempotent. */
  async close(): Promise<void> {
    this.#isClosed = true;
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
  }

  /** Closes the pool: `await using pool = new StoreClientPool()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
