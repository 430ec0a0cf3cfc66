/**
 * Session admission counters: a cap on concurrent sessions in total and per
 * client address. The server maps `"total"` to 503 and `"per-ip"` to 429.
 *
 * Clients are keyed by address, normalised so that every spelling of one
 * address counts once (`::ffff:1.2.3.4` is `1.2.3.4`). IPv6 clients are
 * grouped by prefix (a /64 by default), since one host usually holds a
 * whole /64. Pure: no `Deno.*`, no timers.
 *
 * @module
 */

import { boundedMemo, memoized } from "./_bounded_memo.ts";
import {
  formatIpAddress,
  isIpv4Address,
  parseIpAddress,
} from "./ip_address.ts";

/** The outcome of {@linkcode ClientLimits.acquire}. */
export type AcquireResult = "ok" | "total" | "per-ip";

/** Options of {@linkcode ClientLimits.acquire}. */
export interface AcquireOptions {
  /**
   * Whether the per-client cap is skipped (the total cap still applies):
   * for a client without an address of its own, such as every connection
   * of the local proxy on a Unix socket.
   * @default {false}
   */
  isPerIpExempt?: boolean;
}

/** Options of {@linkcode ClientLimits}. */
export interface ClientLimitsOptions {
  /**
   * Concurrent sessions allowed in total.
   * @default {1024}
   */
  maxSessions?: number;
  /**
   * Concurrent sessions allowed per client address (or IPv6 prefix).
   * @default {32}
   */
  maxSessionsPerIp?: number;
  /**
   * Prefix length, in bits, that groups IPv6 clients into one key; 128
   * counts each IPv6 address on its own.
   * @default {64}
   */
  ipv6PrefixLength?: number;
}

/**
 * Counts open sessions in total and per client. Call
 * {@linkcode ClientLimits.acquire} before the upgrade and, only when it
 * returned `"ok"`, {@linkcode ClientLimits.release} exactly once when the
 * session ends.
 *
 * @example Usage
 * ```ts
 * import { ClientLimits } from "./client_limits.ts";
 * import assert from "node:assert/strict";
 * const limits = new ClientLimits({ maxSessions: 2, maxSessionsPerIp: 1 });
 * assert.equal(limits.acquire("192.0.2.1"), "ok");
 * assert.equal(limits.acquire("::ffff:192.0.2.1"), "per-ip");
 * assert.equal(limits.acquire("192.0.2.2"), "ok");
 * assert.equal(limits.acquire("192.0.2.3"), "total");
 * assert.ok(limits.release("192.0.2.1"));
 * assert.equal(limits.acquire("192.0.2.3"), "ok");
 * ```
 */
export class ClientLimits {
  // Set by setLimits, which the constructor calls first.
  #maxSessions = 0;
  #maxSessionsPerIp = 0;
  #ipv6PrefixLength: number;
  #total = 0;
  #perClient = new Map<string, number>();
  #keys = boundedMemo<string>(KEY_MEMO_LIMIT);

  /**
   * Constructs a new instance.
   * @param options The caps.
   */
  constructor(options: ClientLimitsOptions = {}) {
    const { ipv6PrefixLength = 64 } = options;
    this.setLimits(options);
    if (
      !Number.isInteger(ipv6PrefixLength) || ipv6PrefixLength < 0 ||
      ipv6PrefixLength > 128
    ) {
      throw new RangeError(
        `Cannot create client limits as ipv6PrefixLength must be an integer 0-128: current value is ${ipv6PrefixLength}`,
      );
    }
    this.#ipv6PrefixLength = ipv6PrefixLength;
  }

  /**
   * Sets the caps (the constructor, then a configuration reload) while
   * keeping every count: sessions already open stay counted, and a lowered
   * cap only refuses new ones until enough have ended.
   *
   * @example A reload keeps the open sessions counted
   * ```ts
   * import { ClientLimits } from "./client_limits.ts";
   * import assert from "node:assert/strict";
   * const limits = new ClientLimits({ maxSessions: 1 });
   * assert.equal(limits.acquire("192.0.2.1"), "ok");
   * limits.setLimits({ maxSessions: 1, maxSessionsPerIp: 32 });
   * assert.equal(limits.acquire("192.0.2.2"), "total");
   * ```
   *
   * @param options The new caps (`ipv6PrefixLength` cannot change).
   */
  setLimits(
    options: Pick<ClientLimitsOptions, "maxSessions" | "maxSessionsPerIp">,
  ): void {
    const { maxSessions = 1024, maxSessionsPerIp = 32 } = options;
    checkCount("maxSessions", maxSessions);
    checkCount("maxSessionsPerIp", maxSessionsPerIp);
    this.#maxSessions = maxSessions;
    this.#maxSessionsPerIp = maxSessionsPerIp;
  }

  /** Sessions currently held. */
  get total(): number {
    return this.#total;
  }

  /** Distinct clients (keys) currently holding at least one session. */
  get clientCount(): number {
    return this.#perClient.size;
  }

  /**
   * Sessions currently held by a client.
   * @param ip The client address.
   * @returns The count for its key.
   */
  count(ip: string): number {
    return this.#perClient.get(this.clientKey(ip)) ?? 0;
  }

  /**
   * Takes a session slot for a client. The total cap is checked first: at
   * capacity the answer is `"total"` whoever asks.
   *
   * @example A client exempt from the per-client cap
   * ```ts
   * import { ClientLimits } from "./client_limits.ts";
   * import assert from "node:assert/strict";
   * const limits = new ClientLimits({ maxSessions: 3, maxSessionsPerIp: 1 });
   * assert.equal(limits.acquire("unix", { isPerIpExempt: true }), "ok");
   * assert.equal(limits.acquire("unix", { isPerIpExempt: true }), "ok");
   * assert.equal(limits.acquire("unix"), "per-ip");
   * ```
   *
   * @param ip The client address.
   * @param options Whether the per-client cap applies.
   * @returns `"ok"` (a slot is held; release it later), `"total"` or
   * `"per-ip"` (nothing is held).
   */
  acquire(ip: string, options: AcquireOptions = {}): AcquireResult {
    if (this.#total >= this.#maxSessions) return "total";
    const key = this.clientKey(ip);
    const held = this.#perClient.get(key) ?? 0;
    if (held >= this.#maxSessionsPerIp && options.isPerIpExempt !== true) {
      return "per-ip";
    }
    this.#perClient.set(key, held + 1);
    this.#total++;
    return "ok";
  }

  /**
   * Gives back a slot taken by a successful {@linkcode ClientLimits.acquire}.
   * @param ip The client address given to `acquire`.
   * @returns `false` when the client held no slot (a double release), in
   * which case nothing changes.
   */
  release(ip: string): boolean {
    const key = this.clientKey(ip);
    const held = this.#perClient.get(key);
    if (held === undefined) return false;
    // Drop empty keys so memory follows the number of open sessions.
    if (held <= 1) this.#perClient.delete(key);
    else this.#perClient.set(key, held - 1);
    this.#total--;
    return true;
  }

  /**
   * The key a client address counts under: the normalised IPv4 address,
   * the IPv6 prefix in CIDR notation, or the text itself when it is not an
   * IP address (e.g. a Unix socket peer).
   * @param ip The client address.
   * @returns The key.
   */
  clientKey(ip: string): string {
    // Every session acquires and releases under its address: parse each
    // distinct address once (the memo is cleared when full).
    return memoized(this.#keys, ip, (text) => this.#computeKey(text))!;
  }

  #computeKey(ip: string): string {
    const text = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
    const bytes = parseIpAddress(text);
    if (bytes === undefined) return ip;
    if (isIpv4Address(bytes) || this.#ipv6PrefixLength === 128) {
      return formatIpAddress(bytes);
    }
    const masked = new Uint8Array(16);
    for (let bit = 0; bit < this.#ipv6PrefixLength; bit += 8) {
      const keep = Math.min(8, this.#ipv6PrefixLength - bit);
      masked[bit >> 3] = bytes[bit >> 3]! & ((0xff << (8 - keep)) & 0xff);
    }
    return `${formatIpAddress(masked)}/${this.#ipv6PrefixLength}`;
  }
}

/** Distinct addresses whose keys are remembered before the memo is cleared. */
const KEY_MEMO_LIMIT = 1024;

/** Validates a cap: a positive integer, or `Infinity` for none. */
function checkCount(name: string, value: number): void {
  if (!(Number.isInteger(value) || value === Infinity) || value < 1) {
    throw new RangeError(
      `Cannot create client limits as ${name} must be a positive integer or Infinity: current value is ${value}`,
    );
  }
}
