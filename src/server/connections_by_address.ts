/**
 * Connections counted in total and per peer address: the ones that have not
 * finished their request head yet, and the ones receiving a plain HTTP
 * response. One address cannot fill the global cap and starve every other
 * client.
 *
 * @module
 */

/** One connection waiting for its request head or its response. */
export interface TrackedConnection {
  /** The connection. */
  readonly conn: Deno.Conn;
  /** When the handshake timeout closes it (epoch ms; 0 when unused). */
  readonly deadlineMs: number;
  /** The peer's address and port, for the log and metrics of a timeout. */
  readonly client: string;
  /** The peer's IP address, the key of the per-address count. */
  readonly ip: string;
}

/**
 * A set of connections with a count per peer address. Removing is
 * idempotent, so every exit path of a handshake may call `delete`.
 *
 * @example Usage
 * ```ts
 * import { ConnectionsByAddress } from "./connections_by_address.ts";
 * import assert from "node:assert/strict";
 * const pending = new ConnectionsByAddress();
 * const conn = {} as Deno.Conn;
 * const entry = { conn, deadlineMs: 0, client: "192.0.2.1:5000", ip: "192.0.2.1" };
 * pending.add(entry);
 * assert.equal(pending.countFor("192.0.2.1"), 1);
 * pending.delete(entry);
 * pending.delete(entry);
 * assert.equal(pending.countFor("192.0.2.1"), 0);
 * assert.equal(pending.size, 0);
 * ```
 */
export class ConnectionsByAddress implements Iterable<TrackedConnection> {
  #entries = new Set<TrackedConnection>();
  #perIp = new Map<string, number>();

  /** How many connections are tracked in total. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * How many tracked connections come from `ip`.
   *
   * @param ip The peer's IP address.
   * @returns The count, 0 when none.
   */
  countFor(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /**
   * Adds a connection.
   *
   * @param entry The connection.
   */
  add(entry: TrackedConnection): void {
    if (this.#entries.has(entry)) return;
    this.#entries.add(entry);
    this.#perIp.set(entry.ip, this.countFor(entry.ip) + 1);
  }

  /**
   * Removes a connection; nothing happens when it is not there.
   *
   * @param entry The connection.
   */
  delete(entry: TrackedConnection): void {
    if (!this.#entries.delete(entry)) return;
    const count = this.countFor(entry.ip) - 1;
    if (count === 0) this.#perIp.delete(entry.ip);
    else this.#perIp.set(entry.ip, count);
  }

  /** Iterates the connections (safe to delete while iterating). */
  [Symbol.iterator](): Iterator<TrackedConnection> {
    return this.#entries[Symbol.iterator]();
  }
}
