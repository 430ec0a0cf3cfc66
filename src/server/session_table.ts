/**
 * The session table: the sessions open in this process with their labels,
 * the process-wide session counts (total and per client address, through
 * one {@linkcode ClientLimits}) and used single-use ticket ids (one
 * {@linkcode ReplayCache}), and the drain at shutdown. All of it is process
 * state: a configuration reload changes the caps, never the counts.
 *
 * @module
 */

import type { ResolvedGatewayConfig } from "../config/config.ts";
import { withTimeout } from "../io/deadline_queue.ts";
import {
  type AcquireOptions,
  type AcquireResult,
  ClientLimits,
  type ClientLimitsOptions,
} from "../security/client_limits.ts";
import { ReplayCache } from "../security/replay_cache.ts";
import { CloseCode } from "../session/close_codes.ts";
import type { SessionLabels } from "./session_labels.ts";

/** What the table needs of a session: the two ways to end it. */
export interface DrainableSession {
  /** Flushes both ways and closes with `code`; resolves once it ended. */
  close(code: number, reason: string): Promise<unknown>;
  /** Cuts the session at once; resolves once it ended. */
  abort(code: number, reason: string): Promise<unknown>;
}

/** The caps the table counts against, as {@linkcode ClientLimits} takes them. */
export type SessionCaps = Required<
  Pick<ClientLimitsOptions, "maxSessions" | "maxSessionsPerIp">
>;

/**
 * The session caps of a configuration (a per-address cap of 0 is none).
 *
 * @example No per-address cap is Infinity
 * ```ts
 * import { sessionCaps } from "./session_table.ts";
 * import { resolveOptions } from "../config/config.ts";
 * import assert from "node:assert/strict";
 * const caps = sessionCaps(resolveOptions({
 *   routes: [{ path: "/", target: "127.0.0.1:9" }],
 *   maxSessions: 5,
 *   maxSessionsPerIp: 0,
 * }));
 * assert.deepEqual(caps, { maxSessions: 5, maxSessionsPerIp: Infinity });
 * ```
 *
 * @param config The resolved configuration.
 * @returns The total and per-address caps.
 */
export function sessionCaps(config: ResolvedGatewayConfig): SessionCaps {
  return {
    maxSessions: config.maxSessions,
    maxSessionsPerIp: config.maxSessionsPerIp === 0
      ? Infinity
      : config.maxSessionsPerIp,
  };
}

/** One row of the table. */
interface Row {
  labels: SessionLabels;
  /** The address the session's slot was acquired under. */
  clientIp: string;
}

/**
 * The open sessions of the process, their slots, and the drain.
 *
 * A slot is taken with {@linkcode SessionTable.acquire} before the backend
 * is dialled; it is given back either by {@linkcode SessionTable.release}
 * (no session opened) or, once the session is in the table, by
 * {@linkcode SessionTable.remove} when it ends.
 *
 * @example Count, add, remove, drain
 * ```ts
 * import { SessionTable } from "./session_table.ts";
 * import assert from "node:assert/strict";
 * const table = new SessionTable({ maxSessions: 1, maxSessionsPerIp: 1 });
 * const closed: number[] = [];
 * const session = {
 *   close: (code: number) => Promise.resolve(closed.push(code)),
 *   abort: () => Promise.resolve(),
 * };
 * assert.equal(table.acquire("192.0.2.1"), "ok");
 * assert.equal(table.acquire("192.0.2.2"), "total");
 * const labels = { id: "s1", route: "/", client: "192.0.2.1:5000", target: "127.0.0.1:9" };
 * table.add(session, labels, "192.0.2.1");
 * assert.equal(table.size, 1);
 * await table.drain(1000);
 * assert.ok(table.isDraining);
 * assert.deepEqual(closed, [1001]);
 * assert.ok(table.remove(session));
 * assert.equal(table.acquire("192.0.2.2"), "ok");
 * ```
 *
 * @typeParam S The session type.
 */
export class SessionTable<S extends DrainableSession = DrainableSession> {
  /** The process's used single-use ticket ids; outlives every reload. */
  readonly replayCache: ReplayCache = new ReplayCache();
  #limits: ClientLimits;
  #rows = new Map<S, Row>();
  #isDraining = false;

  /**
   * Creates an empty table.
   * @param caps The session caps (see {@linkcode sessionCaps}).
   */
  constructor(caps: SessionCaps) {
    this.#limits = new ClientLimits(caps);
  }

  /** Sessions open now. */
  get size(): number {
    return this.#rows.size;
  }

  /** Whether {@linkcode SessionTable.drain} began: no new sessions. */
  get isDraining(): boolean {
    return this.#isDraining;
  }

  /**
   * Sets new caps (a reload) and keeps every count.
   * @param caps The new caps.
   */
  setCaps(caps: SessionCaps): void {
    this.#limits.setLimits(caps);
  }

  /**
   * Takes a slot for a client.
   * @param clientIp The client address.
   * @param options Whether the per-address cap applies to it.
   * @returns `"ok"` (a slot is held), `"total"` or `"per-ip"` (nothing held).
   */
  acquire(clientIp: string, options: AcquireOptions = {}): AcquireResult {
    return this.#limits.acquire(clientIp, options);
  }

  /**
   * Gives back a slot whose session never entered the table.
   * @param clientIp The address given to {@linkcode SessionTable.acquire}.
   */
  release(clientIp: string): void {
    this.#limits.release(clientIp);
  }

  /**
   * Adds an opened session holding the slot of `clientIp`.
   * @param session The session.
   * @param labels Its labels.
   * @param clientIp The address its slot was acquired under.
   */
  add(session: S, labels: SessionLabels, clientIp: string): void {
    this.#rows.set(session, { labels, clientIp });
  }

  /**
   * Removes an ended session and gives back its slot, once.
   * @param session The session.
   * @returns Whether it was in the table.
   */
  remove(session: S): boolean {
    const row = this.#rows.get(session);
    if (row === undefined) return false;
    this.#rows.delete(session);
    this.#limits.release(row.clientIp);
    return true;
  }

  /**
   * The open sessions with their labels.
   * @returns An iterator over `[session, labels]`.
   */
  *[Symbol.iterator](): IterableIterator<[S, SessionLabels]> {
    for (const [session, row] of this.#rows) yield [session, row.labels];
  }

  /**
   * Begins the drain (see {@linkcode SessionTable.isDraining}), closes every
   * open session with 1001 (flushing both ways), waits up to `timeoutMs`
   * for them to end, then aborts what is left.
   * @param timeoutMs The longest wait, in milliseconds.
   * @returns Resolves once every session that was open has ended.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#isDraining = true;
    const ends = [...this.#rows.keys()].map((session) =>
      session.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
    );
    await withTimeout(Promise.all(ends), timeoutMs);
    // Past the deadline: cut what is left.
    await this.abortAll();
  }

  /**
   * Aborts every open session with 1001 (after the drain deadline).
   * @returns Resolves once they ended.
   */
  async abortAll(): Promise<void> {
    await Promise.all(
      [...this.#rows.keys()].map((session) =>
        session.abort(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
      ),
    );
  }
}

/** The close reason of a session ended by shutdown. */
export const SHUTDOWN_REASON = "gateway shutting down";
